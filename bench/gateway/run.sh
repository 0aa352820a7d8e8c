#!/usr/bin/env bash
# Gateway overhead (issue 13): one Function with one replica on the real
# apiserver + KWOK of tests/env (a real sluice-runtime stands in for the pod,
# on its IP), the same trivial handler called directly on the replica's
# /invoke and through sluice-gateway, alternating rounds in one run
# (sluice_bench_gateway), in two variants:
#   cpu_bound:       the handler answers at once; client, gateway and replica
#                    share this machine's cores, so the throughput ratio is
#                    mostly the gateway's CPU per request;
#   service_time_Nms: the handler takes N ms (SERVICE_MS, default 5), so the
#                    replica bounds throughput, as on a cluster where it has
#                    cores of its own.
# Writes bench/results/${SLUICE_BENCH_RESULT:-gateway}.json, with the load
# average before and after each variant.
# Usage: bench/gateway/run.sh [CONNECTIONS] [SECONDS] [ROUNDS] [SERVICE_MS]   (default 8 5 5 5).
# Needs `bash tests/env/up.sh kube` and the binaries of SLUICE_BENCH_BUILD_DIR
# (make bench: Release) or build/; SLUICE_GATEWAY_BINARY picks another
# sluice-gateway (e.g. a Release one while the rest is a Quick build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
export SLUICE_SOURCE_DIR=$root SLUICE_BUILD_DIR=${SLUICE_BENCH_BUILD_DIR:-$root/build}
source "$root/tests/integration/lib.sh"
require_env KUBECTL KUBECONFIG
source "$root/tests/integration/gateway/gateway_lib.sh"
own_namespace bench-gateway
trap 'stop_standins; _own_namespace_cleanup' EXIT
bench=$SLUICE_BUILD_DIR/sluice_bench_gateway
[[ -x $bench ]] || fail "$bench is not built (cmake --build $SLUICE_BUILD_DIR --target sluice_bench_gateway)"

serve_through_gateway echo
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: echo}
spec:
  runtime: python3.11
  handler: index.main_handler
  concurrency: 8
  code:
    inline: |
      import json, time
      def main_handler(event, context):
          data = event.get("data")
          if isinstance(data, str) and "sleepMs" in data:
              time.sleep(json.loads(data)["sleepMs"] / 1000)
          return "ok"
  scaling: {minReplicas: 1, maxReplicas: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: echo-http}
spec:
  functionRef: {name: echo}
  http: {path: /echo}
YAML
ip=""
one_standin() {
  ip=$(k get pods -l sluice.io/function=echo -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null) | .status.podIP // empty][0] // empty')
  [[ -n $ip ]] && curl -sf "http://$ip:8090/readyz" -o /dev/null
}
poll 120 one_standin
answers() { [[ $(curl -s -X POST "http://127.0.0.1:$gw_port/$ns/echo/" -d '{}') == ok ]]; }
poll 60 answers

mkdir -p "$root/bench/results"
export SLUICE_BENCH_INVOKE_TOKEN
SLUICE_BENCH_INVOKE_TOKEN=$(k get secret sluice-control-token -o jsonpath='{.data.invoke}' | base64 -d)
service_ms=${4:-5}
# variant SERVICE_MS [CONNECTIONS] [SECONDS] [ROUNDS]: one run of the bench, with the load average around it.
variant() {
  local before out cpu_before
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  cpu_before=$(gateway_cpu_ticks)
  out=$("$bench" "http://$ip:8080/invoke" "http://127.0.0.1:$gw_port/$ns/echo/" echo-http "${2:-8}" "${3:-5}" "${4:-5}" "$1")
  jq --arg before "$before" --arg after "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --argjson ticks "$(($(gateway_cpu_ticks) - cpu_before))" --argjson hz "$(getconf CLK_TCK)" \
    '. + {load_average_before: $before, load_average_after: $after,
          gateway_cpu_us_per_request: ($ticks / $hz * 1e6 / .gateway.requests)}' <<<"$out"
}
# The gateway's user + system CPU so far, in clock ticks (direct rounds leave it idle, so the
# difference over a variant is what its gateway rounds cost).
gateway_cpu_ticks() { awk '{print $14 + $15}' "/proc/$gw_pid/stat"; }
cpu_bound=$(variant 0 "$@")
with_service=$(variant "$service_ms" "$@")
jq -n --argjson cpu "$cpu_bound" --argjson svc "$with_service" --arg svcname "service_time_${service_ms}ms" \
  --arg when "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg build "$SLUICE_BUILD_DIR" \
  --arg gateway "${SLUICE_GATEWAY_BINARY:-$SLUICE_BUILD_DIR/sluice-gateway}" --arg commit "$(git -C "$root" rev-parse --short HEAD)" \
  '{measured: $when, commit: $commit, build_dir: $build, gateway_binary: $gateway, host_cpus: '"$(nproc)"',
    cpu_bound: $cpu, ($svcname): $svc}' >"$root/bench/results/${SLUICE_BENCH_RESULT:-gateway}.json"
cat "$root/bench/results/${SLUICE_BENCH_RESULT:-gateway}.json"
