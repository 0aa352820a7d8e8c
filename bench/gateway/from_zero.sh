#!/usr/bin/env bash
# First request through the gateway to an HTTP-only Function at zero (issue 13),
# on the real node of tests/env: Sluice installed by Helm from the images of
# `make images` (2 gateway pods), Function pods on the kubelet node. from_zero.py
# runs ROUNDS rounds per mode: the Function at zero (no pod left, for
# warm-pool its pool Ready), one POST through a gateway pod until the handler's
# answer; then, as the same-run baseline, calls to the now ready replica
# directly (its /invoke on the pod IP) and through the gateway; then back to
# zero (the autoscaler's cooldown). Modes: warm-pool (warmPool.size 1: adopted)
# and no-pool (no warm pool, a pod shape no pool has: a fresh pod).
# Usage: bench/gateway/from_zero.sh [ROUNDS]   (default 30). Needs
# `bash tests/env/up.sh kube node helm` and `make images`. Writes
# bench/results/gateway_from_zero.json (or $FROM_ZERO_OUT);
# FROM_ZERO_MODES="warm-pool" runs only that mode.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
export SLUICE_SOURCE_DIR=$root SLUICE_BUILD_DIR=${SLUICE_BUILD_DIR:-$root/build}
export KAFKA_TOPICS=${KAFKA_TOPICS:-unused} # tests/e2e/lib.sh asks for it; this bench has no Kafka
source "$root/tests/e2e/lib.sh"
require_env KUBE_APISERVER_URL KUBE_CERT_DIR
rounds=${1:-30}
release=bench-fz
system_ns=bench-fz-system
E2E_NS=bench-fz
E2E_SYSTEM_NS=$system_ns
e2e_work
e2e_cleanup() {
  "$HELM" uninstall "$release" -n "$system_ns" --wait >/dev/null 2>&1 || true
  "$KUBECTL" delete namespace "$E2E_NS" "$system_ns" --wait=false >/dev/null 2>&1 || true
}
install_sluice "$release" "$system_ns" "$E2E_NS"
function_yaml() { # NAME WARM_POOL_SIZE [EXTRA_SPEC_YAML]
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $1}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return "ok:" + context.function_name
  scaling:
    minReplicas: 0
    maxReplicas: 1
    cooldownSeconds: 3
    pollingIntervalSeconds: 1
    warmPool: {size: $2}
    scaleDown: {stabilizationWindowSeconds: 0}
${3:-}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $1}
spec:
  functionRef: {name: $1}
  http: {path: /}
---
YAML
}
{
  function_yaml fz-warm 1
  # An env var of its own: a pool of fz-warm's shape would be adopted from.
  function_yaml fz-cold 0 "  env:
  - {name: MODE, value: no-pool}"
} | k apply -f - >/dev/null
gateways=$(ksys get pods -l app.kubernetes.io/component=gateway -o json)
gateway_ip=$(jq -r '[.items[] | select(.status.conditions[]? | .type == "Ready" and .status == "True") | .status.podIP][0] // empty' <<<"$gateways")
[[ -n $gateway_ip ]] || fail "no Ready gateway pod"
echo "from-zero bench: $rounds rounds per mode through gateway pod $gateway_ip; machine $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$root" rev-parse --short HEAD)"
python3 "$here/from_zero.py" "$E2E_NS" "$gateway_ip" "$rounds" "${FROM_ZERO_OUT:-$root/bench/results/gateway_from_zero.json}"
