# The sluice CLI as the kubectl plugin on real pods: `kubectl sluice` (the
# kubectl-sluice binary on PATH) writes a Function with `init`, `apply`s it
# to the cluster of the e2e release, `invoke`s it through a sluice-gateway pod
# on the real node, finds the handler's log line of that request with `logs
# --request-id` (and not the other request's), `describe`s it with --output
# json and `delete`s it (--output json); every exit code asserted, the apply/delete outputs
# and the stable part of describe's JSON (names, runtime, the URL's path, the
# Trigger, Ready; the run's Function name normalised) against goldens.
source "$(dirname "$0")/../lib.sh"
source "$SLUICE_SOURCE_DIR/tests/integration/cli/cli_lib.sh"
e2e_work
fn=cli-$RANDOM
e2e_cleanup() { k delete fn "$fn" trigger "$fn-http" --ignore-not-found --wait=false >/dev/null 2>&1; }
export PATH="$SLUICE_BUILD_DIR:$PATH"
ks() { "$KUBECTL" sluice --kubeconfig "$KUBECONFIG" -n "$E2E_NS" "$@"; }
GOLDEN_DIR=$SLUICE_SOURCE_DIR/tests/e2e/scenarios/golden

expect_exit 0 ks init "$work/$fn"
# The handler answers with its event id and logs it, so one request's log line can be found by id.
cat >"$work/$fn/handler.py" <<'PY'
def main_handler(event, context):
    context.logger.info("handled request %s", event["id"])
    return {"id": event["id"]}
PY
sed -i 's/minReplicas: 0/minReplicas: 1/' "$work/$fn/function.yaml"
expect_exit 0 ks apply "$work/$fn"
expect_golden cli-apply.txt "$work/out" "$fn" FN
k wait --for=condition=Ready "fn/$fn" --timeout=120s >/dev/null || fail "Function $fn not Ready"
url_set() { [[ $(k get fn "$fn" -o jsonpath='{.status.url}') == */$E2E_NS/$fn ]]; }
poll 30 url_set
echo "[step] kubectl sluice init + apply: Function and Trigger created, Ready on the real node"

# status.url is the gateway Service's in-cluster name: from the host, a gateway pod's IP (pod network).
ip=$(ksys get pods -l app.kubernetes.io/component=gateway -o jsonpath='{.items[0].status.podIP}')
[[ -n $ip ]] || fail "no gateway pod IP"
expect_exit 0 ks invoke "$fn" --gateway "http://$ip:8080" -d '{"name": "e2e"}' --timeout 60 -o json
inv=$(cat "$work/out")
jq -e '.status == 200 and .method == "POST" and (.body | fromjson | .id | length > 0)' <<<"$inv" >/dev/null ||
  fail "invoke -o json: $inv"
id=$(jq -r '.body | fromjson | .id' <<<"$inv")
expect_exit 0 ks invoke "$fn" --gateway "http://$ip:8080" -d other -o json
other=$(jq -r '.body | fromjson | .id' "$work/out")
[[ -n $other && $other != "$id" ]] || fail "second invoke: $(cat "$work/out")"
echo "[step] kubectl sluice invoke through gateway pod $ip: 200, event ids $id and $other"

logged() { ks logs "$fn" --request-id "$id" -o json >"$work/logs.json" 2>"$work/logs.err" && [[ -s $work/logs.json ]]; }
poll 30 logged
jq -se --arg id "$id" --arg other "$other" --arg fn "$fn-" 'length >= 1 and all(.[]; (.line | contains($id)) and
  (.line | contains($other) | not) and (.pod | startswith($fn)))' "$work/logs.json" >/dev/null ||
  fail "logs --request-id $id: $(cat "$work/logs.json")"
jq -se 'any(.[]; .line | contains("handled request"))' "$work/logs.json" >/dev/null ||
  fail "the handler's line is not among: $(cat "$work/logs.json")"
echo "[step] kubectl sluice logs --request-id: $(jq -s length "$work/logs.json") line(s), the request's own"

expect_exit 0 ks describe "$fn" -o json
jq -e --arg fn "$fn" '.name == $fn and .replicas.ready >= 1 and (.events | length) > 0' "$work/out" >/dev/null ||
  fail "describe: $(cat "$work/out")"
jq -S '{name, namespace, runtime, url: (.url | sub("^.*/sluice-e2e/"; ".../sluice-e2e/")),
        triggers: [.triggers[] | {name, type}], ready: [.conditions[] | select(.type == "Ready") | .status]}' \
  "$work/out" >"$work/describe.json"
expect_golden cli-describe.json "$work/describe.json" "$fn" FN
echo "[step] kubectl sluice describe -o json: $(jq -c . "$work/describe.json")"

expect_exit 0 ks delete "$fn" -o json
expect_golden cli-delete.json "$work/out" "$fn" FN
expect_exit 1 ks describe "$fn"
[[ $err == "sluice describe: Function $E2E_NS/$fn not found" ]] || fail "describe after delete: $err"
# Without --gateway the URL is the Function's status.url: a Function that is gone is exit 1, named.
expect_exit 1 ks invoke "$fn" -d x
[[ $err == "sluice invoke: Function $E2E_NS/$fn not found" ]] || fail "invoke after delete: $err"
poll 60 replicas_are "$fn" 0
echo "PASS: kubectl sluice init, apply, invoke through the gateway, logs by request id, describe, delete on $NODE_NAME"
