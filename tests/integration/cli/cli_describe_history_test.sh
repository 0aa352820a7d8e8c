#!/usr/bin/env bash
# `sluice describe --prometheus URL`: the replicas over the last hour from the
# real Prometheus scraping a real sluice-operator (test apiserver + KWOK). A
# Function kept at one replica shows ready 1 now and at most 1 over the hour,
# desired 1 now, and no sample from before its namespace existed (null, not
# 0); the text form has the "Last hour:" line. A Prometheus that is not there
# leaves the rest of the description and says why (exit 0).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_env KUBECTL KUBECONFIG PROMETHEUS_URL PROMETHEUS_TARGETS_DIR SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

apply_crds
own_namespace cli-history
targets=$PROMETHEUS_TARGETS_DIR/$ns.json
trap 'rm -f "$targets"; _own_namespace_cleanup' EXIT
"$KUBECTL" create namespace "$ns" >/dev/null

sluice init "$work/hello" >/dev/null
sed -i 's/minReplicas: 0/minReplicas: 1/' "$work/hello/function.yaml"
sluice apply "$work/hello" >/dev/null || fail "apply"
operator_port=$(free_port)
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test --metrics-bind-address "127.0.0.1:$operator_port" \
  >"$work/operator.log" 2>&1 &
pids+=($!)
echo "[{\"targets\": [\"127.0.0.1:$operator_port\"], \"labels\": {\"job\": \"sluice-operator\", \"test\": \"$ns\"}}]" \
  >"$work/targets.json"
mv "$work/targets.json" "$targets"

shown() {
  sluice describe hello --prometheus "$PROMETHEUS_URL" -o json >"$work/describe.json" 2>"$work/describe.err" &&
    jq -e '.replicasLastHour.readyNow == 1 and .replicasLastHour.desired[-1] == 1' "$work/describe.json" >/dev/null
}
poll 120 shown
h=$(jq -c .replicasLastHour "$work/describe.json")
jq -e '.readyMax == 1 and (.ready | length) == 61 and .ready[0] == null and .stepSeconds == 60' <<<"$h" >/dev/null ||
  fail "history: $h"
text=$(sluice describe hello --prometheus "$PROMETHEUS_URL")
[[ $text == *$'\n'"Last hour:  ready "*" (now 1), per minute "* ]] || fail "describe text: $text"
echo "[step] describe --prometheus: $(jq -c '{readyMin, readyMax, readyNow, samples: ([.ready[] | select(. != null)] | length)}' <<<"$h")"

port=$(free_port)
out=$(sluice describe hello --prometheus "http://127.0.0.1:$port" -o json) || fail "describe with Prometheus down failed"
[[ $(jq -r '.replicasLastHour.error' <<<"$out") == "--prometheus http://127.0.0.1:$port: "* && $(jq -r .name <<<"$out") == hello ]] ||
  fail "Prometheus down: $(jq -c .replicasLastHour <<<"$out")"
echo "PASS: describe shows the replicas over the last hour from Prometheus, and says why when it cannot"
