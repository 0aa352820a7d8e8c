#!/usr/bin/env bash
# Cold start on the real node of tests/env (issue 12): Sluice installed by Helm
# from the images `make images` built, Function pods on the kubelet node.
# cold_start.py measures, per mode, ROUNDS rounds of "desired 0 -> 1 until the
# handler answers /invoke on the pod", and the operator's part alone (until a
# pod carries the Function's label) as the baseline of the same run.
# Usage: bench/cold_start/run.sh [ROUNDS]   (default 30). Needs `make testenv-up`
# (with the node) and `make images`. Writes bench/results/cold_start.json (or
# $COLD_START_OUT). COLD_START_MODES="warm warm-secret" runs only those modes;
# COLD_START_CPU_REQUEST=100m gives every Function that CPU request (Burstable
# pods instead of BestEffort ones, see BENCHMARKS.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
export SLUICE_SOURCE_DIR=$root SLUICE_BUILD_DIR=${SLUICE_BUILD_DIR:-$root/build}
source "$root/tests/e2e/lib.sh"
require_env RABBITMQ_AMQP_URL RABBITMQ_HTTP_URL KUBE_APISERVER_URL KUBE_CERT_DIR
rounds=${1:-30}
release=bench-cold
system_ns=bench-cold-system
E2E_NS=bench-cold
E2E_SYSTEM_NS=$system_ns
ns=$E2E_NS
e2e_work
e2e_cleanup() {
  "$HELM" uninstall "$release" -n "$system_ns" --wait >/dev/null 2>&1 || true
  "$KUBECTL" delete namespace "$E2E_NS" "$system_ns" --wait=false >/dev/null 2>&1 || true
}
queue=bench-cold-$RANDOM

install_sluice "$release" "$system_ns" "$E2E_NS"
curl -sf -X PUT -H 'content-type: application/json' "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" -d '{"durable":true}' >/dev/null
k create secret generic bench-rabbit --from-literal=url="$(pod_url "$RABBITMQ_AMQP_URL")" \
  --from-literal=managementUrl="$(pod_url "$RABBITMQ_HTTP_URL")" >/dev/null
k label secret bench-rabbit sluice.io/scaler-access=true >/dev/null  # the scaler reads the queue depth with it
k create secret generic bench-key --from-literal=key=bench-key >/dev/null
function_yaml() { # NAME WARM_SIZE [EXTRA_SPEC_YAML]
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $1}
spec:
  runtime: python3.11
  handler: index.main_handler
  replicas: 0
  code:
    inline: |
      import os

      def main_handler(event, context):
          return "ok:%s:%s" % (context.function_name, os.environ.get("API_KEY", ""))
  scaling:
    warmPool: {size: $2}
${COLD_START_CPU_REQUEST:+  resources: {requests: {cpu: $COLD_START_CPU_REQUEST\}\}}
${3:-}
---
YAML
}
{
  # An env var of its own: a pool of the same shape (cs-warm's) would be adopted from.
  function_yaml cs-fresh 0 "  env:
  - {name: MODE, value: fresh}"
  function_yaml cs-warm 1
  function_yaml cs-secret 1 "  env:
  - name: API_KEY
    valueFrom: {secretKeyRef: {name: bench-key, key: key}}"
  # /invoke runs only a Function's own http Trigger (docs/trust.md): one each.
  for fn in cs-fresh cs-warm cs-secret; do
    printf 'apiVersion: sluice.io/v1alpha1\nkind: Trigger\nmetadata: {name: %s-web}\nspec:\n  functionRef: {name: %s}\n  http: {path: /}\n---\n' "$fn" "$fn"
  done
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: cs-secret}
spec:
  functionRef: {name: cs-secret}
  rabbitmq:
    connectionSecretRef: {name: bench-rabbit}
    queue: $queue
YAML
} | k apply -f - >/dev/null
echo "cold start bench: $rounds rounds per mode; machine $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$root" rev-parse --short HEAD)"
COLD_START_SYSTEM_NS=$system_ns python3 "$here/cold_start.py" "$E2E_NS" "$rounds" \
  "${COLD_START_OUT:-$root/bench/results/cold_start.json}"
curl -sf -X DELETE "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" >/dev/null || true
