#!/usr/bin/env bash
# Activation latency of an HTTP-only Function at zero (issue 13): from a
# request reaching sluice-gateway to the autoscaler's status.desiredReplicas 1,
# with the gateways' activation feed (the operator's long poll of /activations
# wakes the Function at once) and, as the same-run baseline, without it
# (--no-gateway-activation-feed: the Function's at-zero poll of /loads, every
# 500 ms). Real apiserver + KWOK (tests/env `kube`), processes on the host, no
# replica behind the pods: this is the part of from-zero latency that the
# feed changes; bench/gateway/from_zero.sh measures the whole first request on
# the real node. Per mode, ROUNDS rounds: the Function at zero, one POST
# (t0 before it is sent), the time until a watch of the Function shows
# desiredReplicas 1; the request then times out at the gateway (2 s, no
# replica answers) and the Function goes back to zero (cooldown 2 s).
# Usage: bench/gateway/activation.sh [ROUNDS]   (default 30). Needs
# `bash tests/env/up.sh kube` and sluice-operator, sluice-gateway built.
# Writes bench/results/gateway_activation.json (or $ACTIVATION_OUT).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
export SLUICE_SOURCE_DIR=$root SLUICE_BUILD_DIR=${SLUICE_BUILD_DIR:-$root/build}
source "$root/tests/integration/lib.sh"
require_env KUBECTL KUBECONFIG
source "$root/tests/integration/gateway/gateway_lib.sh"
rounds=${1:-30}
out=${ACTIVATION_OUT:-$root/bench/results/gateway_activation.json}
own_namespace bench-activation
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_gateway gw --request-timeout-seconds 2
echo "activation bench: $rounds rounds per mode; machine $(nproc) cores, $(uptime | sed 's/.*load/load/'), commit $(git -C "$root" rev-parse --short HEAD)"
export ACTIVATION_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ) ACTIVATION_LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
export ACTIVATION_COMMIT=$(git -C "$root" rev-parse --short HEAD)
modes=()
for mode in feed poll; do
  flags=()
  [[ $mode == poll ]] && flags=(--no-gateway-activation-feed)
  start_operator_with_gateway gw "${flags[@]}"
  operator_pid=${pids[-1]}
  k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: wake-$mode}
spec:
  runtime: python3.11
  handler: index.main_handler
  code: {inline: "def main_handler(event, context):\n    return 'ok'\n"}
  scaling: {minReplicas: 0, maxReplicas: 1, cooldownSeconds: 2, pollingIntervalSeconds: 1, scaleDown: {stabilizationWindowSeconds: 0}}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: wake-$mode}
spec:
  functionRef: {name: wake-$mode}
  http: {path: /}
YAML
  python3 "$here/activation.py" "$ns" "wake-$mode" "http://127.0.0.1:$gw_port/$ns/wake-$mode/" "$rounds" "$work/$mode.json"
  modes+=("$mode")
  kill "$operator_pid"
  wait "$operator_pid" 2>/dev/null || true
done
python3 - "$out" "$work" "$rounds" "${modes[@]}" <<'PY'
import json, os, sys, time
out, work, rounds, modes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
result = {"rounds": rounds, "commit": os.environ["ACTIVATION_COMMIT"], "started": os.environ["ACTIVATION_STARTED"],
          "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(),
          "load_average_before": os.environ["ACTIVATION_LOAD_BEFORE"].split(),
          "load_average_after": open("/proc/loadavg").read().split()[:3], "modes": {}}
for mode in modes:
    result["modes"][mode] = json.load(open("%s/%s.json" % (work, mode)))
feed, poll = result["modes"]["feed"]["summary"], result["modes"]["poll"]["summary"]
result["poll_p50_over_feed_p50"] = poll["p50"] / feed["p50"]
result["poll_p99_over_feed_p99"] = poll["p99"] / feed["p99"]
json.dump(result, open(out, "w"), indent=1)
print("\n| mode | n | request -> desiredReplicas 1 p50 | p99 | min | max |")
print("|---|---:|---:|---:|---:|---:|")
for mode in modes:
    s = result["modes"][mode]["summary"]
    print("| %s | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms |" % (mode, rounds, s["p50"], s["p99"], s["min"], s["max"]))
print("poll / feed: p50 %.1fx, p99 %.1fx" % (result["poll_p50_over_feed_p50"], result["poll_p99_over_feed_p99"]))
PY
