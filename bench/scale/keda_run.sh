#!/usr/bin/env bash
# Issue 14: Sluice's operator and KEDA's, side by side on the same scale load, one after the other
# on the same test environment (tests/env/up.sh kube kafka, a test environment of its own).
# 1. bench/scale/run.sh N with Sluice's operator: N Functions (replicas 1) + N Triggers, half cron,
#    half Kafka lag (one 6-partition topic, a consumer group per Trigger), 15 s polling.
# 2. KEDA's operator (bench/scale/keda.sh builds it from its Go module) on the KEDA equivalent:
#    N Deployments (1 replica, KWOK-scheduled) and N ScaledObjects, even ones cron (the same
#    schedule), odd ones kafka lag (one fresh 6-partition topic, a consumer group per ScaledObject),
#    pollingInterval 15 s and minReplicaCount 1 like the pinned Functions.
#    KEDA runs out of cluster against the apiserver. What its Deployment normally provides is
#    replaced: WATCH_NAMESPACE / KEDA_CLUSTER_OBJECT_NAMESPACE / POD_NAMESPACE name the run's
#    namespace (no service-account file), a self-signed CA + serving cert made here in --cert-dir
#    (its gRPC metrics service for the metrics adapter loads them even with cert rotation off),
#    --enable-cert-rotation=false (its default: no webhook or APIService patching), no leader
#    election (its default), and the metrics, probe and gRPC listeners on loopback ports.
#    No metrics adapter and no admission webhooks run: the operator alone is measured, as Sluice's.
# Both are measured the same way: RSS before the apply, peak RSS (VmHWM), RSS and threads after
# 60 s of idleness that starts 5 s after the load settled (every Function has its pod / every
# ScaledObject is Ready), and CPU (utime+stime from /proc/PID/stat) over that minute.
# Usage: bench/scale/keda_run.sh [N]   (default 1000). KEDA_VERSION picks KEDA's release (keda.sh).
# SLUICE_BENCH_BUILD_DIR as for run.sh. SLUICE_BENCH_SLUICE_RESULTS=FILE takes Sluice's side from a
# run.sh N result made earlier on the same environment (SLUICE_BENCH_RESULTS=FILE run.sh N) instead of
# running it again, e.g. while KEDA is still building. Writes bench/results/keda_vs_sluice.json.
set -euo pipefail
# Without it a failed step inside $(...) would not stop the run (set -e is not inherited there).
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
for v in KUBECONFIG KUBECTL KAFKA_BOOTSTRAP KAFKA_TOPICS; do
  [[ -n ${!v:-} ]] || { echo "keda bench: $v is not set (make testenv-up)" >&2; exit 1; }
done
n=${1:-1000}
idle_s=${SLUICE_BENCH_IDLE_SECONDS:-60}
keda_version=${KEDA_VERSION:-v2.21.0}
keda_bin=$(bash "$here/keda.sh" "$keda_version")
keda_src=$(dirname "$keda_bin")/src
work=$(mktemp -d)
kpid=""
ns=""
cleanup() {
  [[ -n $kpid ]] && kill "$kpid" 2>/dev/null || true
  wait 2>/dev/null || true
  [[ -n $ns ]] && "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Both runs need room for N pods: the shared default is 110 a node.
room_for_pods() {
  local node
  for node in $("$KUBECTL" get nodes -o name); do
    "$KUBECTL" patch "$node" --subresource=status --type=merge \
      -p '{"status":{"capacity":{"pods":"1200"},"allocatable":{"pods":"1200"}}}' >/dev/null
  done
}

# The gRPC metrics service of keda-operator loads ca.crt, tls.crt and tls.key from --cert-dir.
make_certs() {
  local d=$work/certs
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench-ca \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null
  openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 1 \
    -out "$d/tls.crt" 2>/dev/null
}

keda_objects() { # keda_objects N BOOTSTRAP TOPIC > yaml
  python3 - "$@" <<'PY'
import sys
n, kafka, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
docs = []
for i in range(n):
    docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: fn-{i:04d}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: fn-{i:04d}}}}}
  template:
    metadata: {{labels: {{app: fn-{i:04d}}}}}
    spec:
      containers: [{{name: fn, image: sluice/runtime-python:bench}}]
""")
    if i % 2 == 0:
        trigger = """type: cron
    metadata: {timezone: UTC, start: '0 0 1 1 *', end: '1 0 1 1 *', desiredReplicas: '1'}"""
    else:
        trigger = f"""type: kafka
    metadata: {{bootstrapServers: '{kafka}', topic: {topic}, consumerGroup: fn-{i:04d}, lagThreshold: '10'}}"""
    docs.append(f"""apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {{name: fn-{i:04d}}}
spec:
  scaleTargetRef: {{name: fn-{i:04d}}}
  pollingInterval: 15
  minReplicaCount: 1
  maxReplicaCount: 10
  triggers:
  - {trigger}
""")
print("---\n".join(docs))
PY
}

ready_scaled_objects() {
  "$KUBECTL" -n "$ns" get scaledobjects -o json |
    jq '[.items[] | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}

start_keda() {
  WATCH_NAMESPACE=$ns KEDA_CLUSTER_OBJECT_NAMESPACE=$ns POD_NAMESPACE=$ns \
    "$keda_bin" --kubeconfig "$KUBECONFIG" --cert-dir "$work/certs" --ca-dir "$work/certs" \
    --enable-cert-rotation=false --leader-elect=false \
    --metrics-bind-address "127.0.0.1:$(free_port)" \
    --health-probe-bind-address "127.0.0.1:$(free_port)" \
    --metrics-service-bind-address "127.0.0.1:$(free_port)" >"$work/keda.log" 2>&1 &
  kpid=$!
}

wait_ready() { # wait_ready T0: until all N ScaledObjects are Ready (30 min at most)
  local count
  while :; do
    count=$(ready_scaled_objects)
    [[ $count -ge $n ]] && return 0
    kill -0 "$kpid" 2>/dev/null || { tail -20 "$work/keda.log" >&2; echo "keda bench: keda-operator exited" >&2; exit 1; }
    (($(now_ms) - $1 < 1800000)) || { echo "keda bench: only $count of $n ScaledObjects Ready after 30 min" >&2; exit 1; }
    sleep 1
  done
}

run_keda() { # prints one JSON object
  ns="bench-keda-$n-$(date +%s)-$$"
  "$KUBECTL" create namespace "$ns" >/dev/null
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$ns" --partitions 6 >/dev/null
  keda_objects "$n" "$KAFKA_BOOTSTRAP" "$ns" >"$work/keda.yaml"
  start_keda
  sleep 3 # caches synced
  local rss_before t0 t_applied t_ready c0 c1 hz hwm rss threads hpas errors
  rss_before=$(status_kb "$kpid" VmRSS)
  t0=$(now_ms)
  "$KUBECTL" -n "$ns" apply -f "$work/keda.yaml" >/dev/null
  t_applied=$(now_ms)
  wait_ready "$t0"
  t_ready=$(now_ms)
  sleep 5 # as run.sh: let the last status writes settle
  hz=$(getconf CLK_TCK)
  c0=$(ticks "$kpid")
  sleep "$idle_s"
  c1=$(ticks "$kpid")
  hwm=$(status_kb "$kpid" VmHWM)
  rss=$(status_kb "$kpid" VmRSS)
  threads=$(status_kb "$kpid" Threads)
  hpas=$("$KUBECTL" -n "$ns" get hpa -o name | grep -c . || true)
  errors=$(grep -c '"level":"error"\|ERROR' "$work/keda.log" || true)
  cp "$work/keda.log" "${SLUICE_BENCH_KEDA_LOG:-/dev/null}" 2>/dev/null || true
  kill "$kpid"
  wait "$kpid" 2>/dev/null || true
  kpid=""
  "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null
  ns=""
  python3 -c 'import json,sys; a=sys.argv[1:]; print(json.dumps({
    "operator": "keda-" + a[12], "deployments": int(a[0]), "scaled_objects": int(a[0]),
    "kafka_lag_scalers": int(a[0]) // 2, "cron_scalers": (int(a[0]) + 1) // 2,
    "apply_seconds": (int(a[2]) - int(a[1])) / 1000,
    "every_scaled_object_ready_seconds": (int(a[3]) - int(a[1])) / 1000,
    "hpas_after_idle": int(a[10]), "error_log_lines": int(a[11]),
    "operator_rss_before_apply_mb": round(int(a[4]) / 1024, 1),
    "operator_peak_rss_mb": round(int(a[5]) / 1024, 1),
    "operator_rss_after_idle_mb": round(int(a[6]) / 1024, 1),
    "idle_seconds": int(a[8]), "operator_threads_after_idle": int(a[13]),
    "operator_idle_cpu_percent_of_one_core": round(100 * int(a[7]) / int(a[9]) / int(a[8]), 2),
    "load_average_1m": float(open("/proc/loadavg").read().split()[0])}))' \
    "$n" "$t0" "$t_applied" "$t_ready" "$rss_before" "$hwm" "$rss" "$((c1 - c0))" "$idle_s" "$hz" \
    "$hpas" "$errors" "$keda_version" "$threads"
}

room_for_pods
# A fresh tests/env has neither project's CRDs. KEDA's ScaledJob CRD is large: on a loaded machine the
# apiserver can time out on it, and applying again is harmless.
apply_crds() {
  local try
  for try in 1 2 3; do
    "$KUBECTL" apply --server-side -f "$root/crds/" -f "$keda_src/config/crd/bases/" >/dev/null && return 0
    echo "keda bench: CRD apply failed (try $try of 3)" >&2
    sleep 5
  done
  return 1
}
apply_crds
make_certs
if [[ -n ${SLUICE_BENCH_SLUICE_RESULTS:-} ]]; then
  cp "$SLUICE_BENCH_SLUICE_RESULTS" "$work/sluice.json"
else
  SLUICE_BENCH_RESULTS=$work/sluice.json bash "$here/run.sh" "$n" >&2
fi
# Not in $(...): the EXIT trap must see kpid and ns to stop KEDA and drop the namespace on a failure.
run_keda >"$work/keda.json"
keda=$(cat "$work/keda.json")
echo "$keda"
mkdir -p "$root/bench/results"
python3 - "$work/sluice.json" "$keda" "$root/bench/results/keda_vs_sluice.json" <<'PY'
import json, sys
sluice = json.load(open(sys.argv[1]))["runs"]
json.dump({"sluice": sluice, "keda": json.loads(sys.argv[2])}, open(sys.argv[3], "w"), indent=2, sort_keys=True)
PY
