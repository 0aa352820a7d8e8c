#!/usr/bin/env bash
# The sluice CLI against the real apiserver + KWOK (sluice-operator managing
# the test's namespace, pods run by KWOK): `sluice init` then `apply` creates
# the Function (handler.py inlined) and its Trigger by server-side apply
# (field manager sluice-cli), a second apply changes nothing; `kubectl sluice`
# runs the same binary as a plugin; `describe -o json` shows the URL the
# operator wrote, the ready replica, conditions with reasons, the Trigger and
# the operator's Events; `delete` removes both; then every command on the
# missing Function exits 1 naming it, an invalid directory exits 2 sending
# nothing, and an unreachable apiserver exits 1.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

apply_crds
own_namespace cli
"$KUBECTL" create namespace "$ns" >/dev/null

sluice init "$work/hello" >/dev/null
# One replica at all times, so KWOK runs a pod the operator counts as ready.
sed -i 's/minReplicas: 0/minReplicas: 1/' "$work/hello/function.yaml"
out=$(sluice apply "$work/hello")
[[ $out == "Function $ns/hello created"$'\n'"Trigger $ns/hello-http created" ]] || fail "first apply printed: $out"
[[ $(k get fn hello -o jsonpath='{.spec.code.inline}') == "$(cat "$work/hello/handler.py")" ]] ||
  fail "spec.code.inline is not handler.py"
managers=$(k get fn hello -o json --show-managed-fields | jq -r '[.metadata.managedFields[].manager] | join(",")')
[[ $managers == *sluice-cli* ]] || fail "field managers of the Function: $managers"
out=$(sluice apply "$work/hello" -o json | jq -r '[.[].result] | join(",")')
[[ $out == unchanged,unchanged ]] || fail "second apply: $out"
out=$(PATH="$SLUICE_BUILD_DIR:$PATH" "$KUBECTL" sluice version)
[[ $out == "sluice "* ]] || fail "kubectl sluice version printed: $out"
echo "[step] apply: created, then unchanged; kubectl sluice runs the plugin"

"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test --gateway-url "http://gw.test:8080" >"$work/operator.log" 2>&1 &
pids+=($!)
described() {
  sluice describe hello -o json >"$work/describe.json" 2>/dev/null &&
    jq -e --arg url "http://gw.test:8080/$ns/hello" \
      '.url == $url and .replicas.ready == 1 and (.events | length) > 0' "$work/describe.json" >/dev/null
}
poll 120 described || { tail -20 "$work/operator.log"; fail "describe never showed the URL, 1 ready replica and Events"; }
d=$(cat "$work/describe.json")
jq -e '(.conditions | length) > 0 and all(.conditions[]; .reason != "" and (.status == "True" or .status == "False"))' \
  <<<"$d" >/dev/null || fail "conditions without reasons: $(jq -c .conditions <<<"$d")"
jq -e '.triggers == [{"name": "hello-http", "type": "http", "metric": (.triggers[0].metric), "active": (.triggers[0].active)}]' \
  <<<"$d" >/dev/null || fail "triggers: $(jq -c .triggers <<<"$d")"
jq -e 'all(.events[]; .reason != "" and .lastTimestamp != "")' <<<"$d" >/dev/null || fail "events: $(jq -c .events <<<"$d")"
text=$(sluice describe hello)
[[ $text == *"URL:        http://gw.test:8080/$ns/hello"* && $text == *"  hello-http  type http"* ]] ||
  fail "describe text: $text"
echo "[step] describe: $(jq -c '{url, replicas, conditions: [.conditions[] | .type + "=" + .status + " " + .reason], events: [.events[].reason]}' <<<"$d")"

# KWOK's nodes have no kubelet, so the apiserver cannot read a pod's log: the
# error names the pod and keeps the apiserver's answer (reading logs is in the unit tests).
expect_exit 1 sluice logs hello
[[ $err == "sluice logs: pod hello-"*": HTTP 5"* ]] || fail "logs on a KWOK pod: $err"

out=$(sluice delete hello)
[[ $out == "Trigger $ns/hello-http deleted"$'\n'"Function $ns/hello deleted" ]] || fail "delete printed: $out"
poll 60 bash -c "! \"$KUBECTL\" -n $ns get fn hello >/dev/null 2>&1"
[[ -z $(k get triggers -o name) ]] || fail "Triggers left: $(k get triggers -o name)"
echo "[step] delete: the Function and its Trigger are gone"

expect_exit 1 sluice describe hello
[[ $err == "sluice describe: Function $ns/hello not found" ]] || fail "describe of a missing Function: $err"
expect_exit 1 sluice delete hello
[[ $err == "sluice delete: Function $ns/hello not found" ]] || fail "delete of a missing Function: $err"
expect_exit 1 sluice invoke hello -d x
[[ $err == "sluice invoke: Function $ns/hello not found" ]] || fail "invoke of a missing Function: $err"
expect_exit 0 sluice delete hello --ignore-not-found

sed -i 's/runtime: python3.11/runtime: cobol/' "$work/hello/function.yaml"
expect_exit 2 sluice apply "$work/hello"
[[ $err == *"function.yaml:11: Function default/hello: spec.runtime: Unsupported value"* ]] || fail "invalid apply: $err"
[[ -z $(k get fn,triggers -o name) ]] || fail "an invalid apply created: $(k get fn,triggers -o name)"

port=$(free_port)
sed "s#server: .*#server: https://127.0.0.1:$port#" "$KUBECONFIG" >"$work/unreachable.kubeconfig"
expect_exit 1 "$SLUICE_BUILD_DIR/sluice" --kubeconfig "$work/unreachable.kubeconfig" describe hello
[[ $err == "sluice describe: "*"127.0.0.1:$port"* ]] || fail "unreachable apiserver: $err"
echo "PASS: apply, describe, delete and their exit codes against the real apiserver"
