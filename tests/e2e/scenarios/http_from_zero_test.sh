# HTTP push on real pods: a Python Function with an http Trigger idles at zero
# pods; the first request through a sluice-gateway pod (installed by the chart)
# is held while the operator wakes a replica on the real node (adopted from its
# warm pool) and is answered by the handler, its Lambda proxy response mapped to
# the HTTP status, headers and body. Then 200 requests, 20 at a time, each
# answered with its own id; after the cooldown the Function is back at zero.
source "$(dirname "$0")/../lib.sh"
e2e_work
fn=hello-$RANDOM
e2e_cleanup() { k delete fn "$fn" trigger "$fn" --ignore-not-found --wait=false >/dev/null 2>&1; }

k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $fn}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  concurrency: 4
  code:
    inline: |
      import json
      def main_handler(event, context):
          rid = event["headers"].get("x-request-id", "")
          return {"statusCode": 202, "headers": {"Content-Type": "application/json", "X-Request-Id": rid},
                  "body": json.dumps({"id": rid, "method": event["httpMethod"], "path": event["path"]})}
$(scaling_from_zero_yaml 2 5 0)
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $fn}
spec:
  functionRef: {name: $fn}
  http: {path: /hello}
YAML
k wait --for=condition=Ready "fn/$fn" --timeout=60s >/dev/null || fail "Function $fn not Ready at zero"
replicas_are "$fn" 0 || fail "replicas exist before the first request"
poll 60 warm_ready "$fn" 1
url_set() { [[ $(k get fn "$fn" -o jsonpath='{.status.url}') == */$E2E_NS/$fn ]]; }
poll 30 url_set
record_replicas "$fn" "$work/replicas"

# The gateway pods run on the real node; the host reaches them on the pod network.
gateways=$(ksys get pods -l app.kubernetes.io/component=gateway -o json)
[[ $(jq '[.items[] | select(.status.conditions[]? | .type == "Ready" and .status == "True")] | length' <<<"$gateways") == 2 ]] ||
  fail "expected 2 Ready gateway pods: $(jq -r '[.items[] | .metadata.name + ":" + .status.phase] | join(" ")' <<<"$gateways")"
mapfile -t ips < <(jq -r '.items[].status.podIP' <<<"$gateways")
url="http://${ips[0]}:8080/$E2E_NS/$fn"

started=$(date +%s%3N)
status=$(curl -s -m 60 -o "$work/body" -D "$work/headers" -w '%{http_code}' -X POST -H 'X-Request-Id: first' \
  --data 'hello' "$url/greet")
echo "[figure] http from zero: first request answered in $(($(date +%s%3N) - started)) ms"
[[ $status == 202 ]] || fail "first request: HTTP $status, expected the handler's 202: $(cat "$work/body")"
jq -e '.id == "first" and .method == "POST" and .path == "/greet"' "$work/body" >/dev/null ||
  fail "the handler saw another request: $(cat "$work/body")"
grep -qi '^X-Request-Id: first' "$work/headers" || fail "X-Request-Id not mapped: $(cat "$work/headers")"
on_real_node "$fn"
assert_adopted "$fn"

# 200 requests over both gateways, 20 at a time: each answered with its own id.
seq 1 200 | xargs -P 20 -I{} sh -c 'curl -s -m 60 -H "X-Request-Id: r{}" -o - -w " %{http_code}\n" \
  "http://$1:8080/$2/$3/n" ' _ "${ips[1]}" "$E2E_NS" "$fn" >"$work/answers" 2>&1 || true
ok=$(grep -c ' 202$' "$work/answers" || true)
((ok == 200)) || fail "$ok of 200 requests answered 202: $(grep -v ' 202$' "$work/answers" | head -3)"
mismatched=$(sed 's/ 202$//' "$work/answers" | jq -r .id | sort | comm -3 - <(seq 1 200 | sed 's/^/r/' | sort) | wc -l)
((mismatched == 0)) || fail "$mismatched answers do not match their request ids"

poll 120 replicas_are "$fn" 0
echo "PASS: the first request woke a replica on $NODE_NAME through the gateway, 200/200 answered with their ids, back to zero"
