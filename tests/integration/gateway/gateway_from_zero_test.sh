# An HTTP-only Function at zero through sluice-gateway (real apiserver + KWOK,
# real sluice-runtime stand-ins): status.url is set; the first request is held
# while the operator's http scaler wakes the Function (0 -> 1) and is answered
# by the handler, whose Lambda proxy response becomes the real status, headers
# and body; a gateway with --domain also routes Host echo.<namespace>.<domain>
# (any path) to it; /specialize and /drain cannot be reached through the
# gateway (it calls only the replicas' data port, where those paths are the
# handler's); with no more requests the Function goes back to 0.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
source "$(dirname "$0")/gateway_lib.sh"
own_namespace gateway-zero
trap 'stop_standins; _own_namespace_cleanup' EXIT

serve_through_gateway echo
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: echo}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  concurrency: 4
  code:
    inline: |
      import json
      def main_handler(event, context):
          return {
              "statusCode": 201,
              "headers": {"Content-Type": "application/json", "X-Request-Id": event["headers"].get("x-request-id", "")},
              "multiValueHeaders": {"X-Many": ["1", "2"]},
              "body": json.dumps({"method": event["httpMethod"], "path": event["path"],
                                  "query": event["queryStringParameters"], "body": event["body"]}),
          }
  scaling:
    minReplicas: 0
    maxReplicas: 3
    cooldownSeconds: 5
    pollingIntervalSeconds: 1
    scaleDown: {stabilizationWindowSeconds: 0}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: echo-http}
spec:
  functionRef: {name: echo}
  http: {path: /echo}
YAML

url="http://127.0.0.1:$gw_port/$ns/echo"
url_is_set() { [[ $(k get fn echo -o jsonpath='{.status.url}') == "$url" ]]; }
(poll 30 url_is_set) || fail_with_logs "status.url: '$(k get fn echo -o jsonpath='{.status.url}')', expected $url"
(poll 30 desired_is echo 0) || fail_with_logs "desiredReplicas $(desired echo), expected 0 before any request"
pods_are echo 0 || fail "$(live_count echo) pods before any request, expected 0"
k get fn echo | grep -q "$url" || fail "the URL printer column does not show $url: $(k get fn echo)"
echo "[step] at zero, status.url $url"

started=$(date +%s%3N)
status=$(curl -s -m 60 -o "$work/body" -D "$work/headers" -w '%{http_code}' -X PUT \
  -H 'X-Request-Id: first-1' --data 'hello' "$url/items/7?color=red")
took=$(($(date +%s%3N) - started))
[[ $status == 201 ]] || fail_with_logs "first request: HTTP $status, expected the handler's 201: $(cat "$work/body")"
jq -e '.method == "PUT" and .path == "/items/7" and .query.color == "red" and .body == "hello"' "$work/body" >/dev/null ||
  fail "the handler saw another request: $(cat "$work/body")"
grep -qi '^X-Request-Id: first-1' "$work/headers" || fail "no X-Request-Id from the proxy response: $(cat "$work/headers")"
grep -qi '^Content-Type: application/json' "$work/headers" || fail "Content-Type not mapped: $(cat "$work/headers")"
[[ $(grep -ci '^X-Many:' "$work/headers") == 2 ]] || fail "multiValueHeaders not mapped: $(cat "$work/headers")"
echo "[step] first request from zero answered by the handler in ${took} ms (201, headers mapped)"
pods_are echo 1 || fail "pods after the first request: $(live_count echo), expected 1"

# The control endpoints are out of the gateway's reach: /<ns>/echo/specialize is the handler's own path.
for path in specialize drain; do
  status=$(curl -s -m 30 -o "$work/body" -w '%{http_code}' -X POST -H 'Authorization: Bearer forged' \
    -H 'X-Sluice-Invoke-Token: forged' --data '{}' "$url/$path")
  [[ $status == 201 ]] || fail_with_logs "POST $url/$path: HTTP $status, expected the handler's 201"
  jq -e --arg p "/$path" '.path == $p' "$work/body" >/dev/null || fail "the handler saw $(cat "$work/body") for /$path"
  # A path climbing out of the Function's prefix is still that Function's request: the gateway
  # only ever POSTs /invoke on the data port, whatever the path says.
  status=$(curl -s -m 30 -o "$work/body" -w '%{http_code}' --path-as-is -X POST --data '{}' \
    "http://127.0.0.1:$gw_port/$ns/echo/../../$path")
  [[ $status == 201 ]] || fail_with_logs "POST /$ns/echo/../../$path through the gateway: HTTP $status, expected the handler's 201"
  jq -e --arg p "/../../$path" '.path == $p' "$work/body" >/dev/null || fail "the handler saw $(cat "$work/body")"
done
! grep -h "refused /specialize\|refused /drain\|draining" "$work"/standins/*.log ||
  fail "a control endpoint of a replica was called through the gateway"
pods_are echo 1 || fail "pods after the control paths: $(live_count echo), expected 1"
echo "[step] /specialize and /drain through the gateway reached only the handler (its own paths)"

# Host routes: a second gateway with a domain; the host names the Function, the whole path reaches it.
start_gateway gwh --domain fn.test
status=$(curl -s -m 30 -o "$work/host-body" -w '%{http_code}' -H "Host: echo.$ns.fn.test:8080" \
  "http://127.0.0.1:$gwh_port/items/8?color=blue")
[[ $status == 201 ]] || fail_with_logs "Host echo.$ns.fn.test: HTTP $status: $(cat "$work/host-body")"
jq -e '.method == "GET" and .path == "/items/8" and .query.color == "blue"' "$work/host-body" >/dev/null ||
  fail "through the host route the handler saw: $(cat "$work/host-body")"
status=$(curl -s -m 30 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gwh_port/$ns/echo/items/9")
[[ $status == 201 ]] || fail "the path route beside the host route: HTTP $status"
status=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -H "Host: nobody.$ns.fn.test" "http://127.0.0.1:$gwh_port/")
[[ $status == 404 ]] || fail "Host nobody.$ns.fn.test: HTTP $status, expected 404"
echo "[step] Host echo.$ns.fn.test reaches the Function (path /items/8), the path route too; an unknown host 404"

# No more requests: back to zero after the 5 s cooldown.
(poll 60 desired_is echo 0) || fail_with_logs "desiredReplicas $(desired echo) after cooldown, expected 0"
(poll 60 pods_are echo 0) || fail_with_logs "pods after cooldown: $(live_count echo), expected 0"
echo "[step] back to zero after the cooldown"
echo "PASS"
