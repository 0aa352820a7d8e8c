#!/usr/bin/env bash
# Scale benchmark on the real kube-apiserver + KWOK of tests/env: N Functions
# (spec.replicas: 1, inline Python code) and N Triggers (half cron, half kafka: one 6-partition
# topic made for the run, a consumer group per Trigger, so every lag reading succeeds as on a
# healthy cluster) in one multi-document YAML, applied by one `kubectl apply`. Measures the time
# from the start of the apply until N pods carry the sluice.io/function label,
# the operator's peak resident memory (VmHWM) and its CPU use over the following
# 60 s of idleness (utime+stime from /proc/<pid>/stat), and from the operator's /metrics the requests
# it sent the apiserver (sluice_kube_client_requests_total, by verb and resource) until every Function
# had its pod and over the idle minute, with the seconds its client-side rate limit made them wait.
# Once per run it measures the apiserver's own write ceiling (apiserver_writes.py: ConfigMap creates
# per second from 8 connections), the figure the operator's pod creation is held against.
# Usage: bench/scale/run.sh [N ...]   (default: 200).
# The KWOK nodes of tests/env hold 220 pods in all, and other tests share them: N = 1000 leaves most
# pods Pending and starves every other test's pods, so run it only on a test environment of your own,
# with room on its nodes: kubectl patch node NODE --subresource=status --type=merge \
#   -p '{"status":{"capacity":{"pods":"600"},"allocatable":{"pods":"600"}}}'  (KWOK keeps it).
# Writes bench/results/scale.json (SLUICE_BENCH_RESULTS=FILE: there instead). Binaries from $SLUICE_BENCH_BUILD_DIR, else build/.
# SLUICE_BENCH_PROFILE_DIR=DIR also profiles the operator's CPU over the idle minute with
# `perf record -g` (DIR/idle-N-LABEL.perf), and with SLUICE_BENCH_HEAPTRACK=1 its heap from start to
# end under heaptrack (DIR/heap-N-LABEL.*; slower, so its times are not comparable). Read them with
# perf report and heaptrack_print. The operator's log is kept there too (DIR/operator-N-LABEL.log).
set -euo pipefail
# run_one runs in $(...): without this a failed step there (say the apply) did not stop it, and it polled
# for pods for 30 minutes.
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
for v in KUBECONFIG KUBECTL KAFKA_BOOTSTRAP KAFKA_TOPICS; do
  [[ -n ${!v:-} ]] || { echo "scale bench: $v is not set (make testenv-up)" >&2; exit 1; }
done
build=${SLUICE_BENCH_BUILD_DIR:-$root/build}
# SLUICE_BENCH_OPERATORS="LABEL=PATH ...": compare operator binaries in one run (each N runs with
# each, in turn, so they share the machine's load); default: this build's.
read -r -a operators <<<"${SLUICE_BENCH_OPERATORS:-this-build=$build/sluice-operator}"
for o in "${operators[@]}"; do
  [[ -x ${o#*=} ]] || { echo "scale bench: ${o#*=} not built" >&2; exit 1; }
done
idle_s=${SLUICE_BENCH_IDLE_SECONDS:-60}
work=$(mktemp -d)
opid=""
ns=""
stop_run() {
  [[ -n $opid ]] && kill "$opid" 2>/dev/null || true
  wait 2>/dev/null || true
  [[ -n $ns ]] && "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
}
cleanup() {
  stop_run
  rm -rf "$work"
}
trap cleanup EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }
functions_with_pods() {
  "$KUBECTL" -n "$ns" get pods -l sluice.io/function -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null) | .metadata.labels["sluice.io/function"]] | unique | length'
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The operator's apiserver client series: requests by verb and resource, client-side waits.
scrape() { curl -s "http://127.0.0.1:$1/metrics" | grep -E '^sluice_kube_client_(requests_total|wait_seconds_total)' || true; }

run_one() { # run_one N LABEL OPERATOR: prints one JSON object
  local n=$1 label=$2 operator=$3
  # This runs in $(...), whose opid and ns the script's EXIT trap never sees: stop them here on a failure.
  trap stop_run EXIT
  ns="bench-scale-$n-$(date +%s)-$$"
  "$KUBECTL" create namespace "$ns" >/dev/null
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$ns" --partitions 6 >/dev/null
  python3 - "$n" "$KAFKA_BOOTSTRAP" "$ns" >"$work/objects.yaml" <<'PY'
import sys
n, kafka, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
docs = []
for i in range(n):
    docs.append(f"""apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {{name: fn-{i:04d}}}
spec:
  runtime: python3.11
  handler: index.main_handler
  replicas: 1
  code:
    inline: |
      def main_handler(event, context):
          return event
""")
    source = ("cron: {schedule: '0 0 1 1 *'}" if i % 2 == 0 else
              f"kafka: {{bootstrapServers: ['{kafka}'], topics: [{topic}], consumerGroup: fn-{i:04d}}}")
    docs.append(f"""apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {{name: trg-{i:04d}}}
spec:
  functionRef: {{name: fn-{i:04d}}}
  {source}
""")
print("---\n".join(docs))
PY
  local profile=${SLUICE_BENCH_PROFILE_DIR:-}
  local -a wrapper=()
  [[ -n $profile ]] && mkdir -p "$profile"
  [[ -n $profile && ${SLUICE_BENCH_HEAPTRACK:-0} == 1 ]] && wrapper=(heaptrack -o "$profile/heap-$n-$label")
  local metrics_port
  metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # SLUICE_BENCH_OPERATOR_ARGS: flags for every operator of the run (say --kube-api-qps 200).
  read -r -a extra <<<"${SLUICE_BENCH_OPERATOR_ARGS:-}"
  "${wrapper[@]}" "$operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
    --runtime-image sluice/runtime-python:bench --metrics-bind-address "127.0.0.1:$metrics_port" "${extra[@]}" \
    >"$work/operator-$n.log" 2>&1 &
  opid=$!
  sleep 3 # caches synced
  # Under heaptrack the operator is heaptrack's child: measure that process.
  ((${#wrapper[@]})) && opid=$(pgrep -n -f -- "--watch-namespace $ns")
  local rss_before t0 t_applied t_pods count
  rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$opid/status")
  t0=$(now_ms)
  "$KUBECTL" -n "$ns" apply -f "$work/objects.yaml" >/dev/null
  t_applied=$(now_ms)
  while :; do
    # Distinct Functions with a pod: a Trigger created after its Function changes the pod template,
    # and the replacement (surge 1) briefly adds a second pod for that Function.
    count=$(functions_with_pods)
    [[ $count -ge $n ]] && break
    (($(now_ms) - t0 < 1800000)) || { echo "scale bench: only $count of $n pods after 30 min" >&2; exit 1; }
    sleep 1
  done
  t_pods=$(now_ms)
  scrape "$metrics_port" >"$work/metrics-pods"
  # Let status writes after the last create settle (SLUICE_BENCH_SETTLE_SECONDS: longer, to tell
  # the tail of the pods' Ready events from what an operator does when nothing changes).
  sleep "${SLUICE_BENCH_SETTLE_SECONDS:-5}"
  # The idle minute's requests are counted from here: counted from the last pod, they held the whole
  # settle time as well (with a 150 s settle, "a minute's" requests were 210 s of them).
  scrape "$metrics_port" >"$work/metrics-settled"
  local c0 c1 hz
  hz=$(getconf CLK_TCK)
  c0=$(ticks "$opid")
  if [[ -n $profile ]]; then
    perf record -g -p "$opid" -o "$profile/idle-$n-$label.perf" -- sleep "$idle_s" >/dev/null 2>&1
  else
    sleep "$idle_s"
  fi
  c1=$(ticks "$opid")
  scrape "$metrics_port" >"$work/metrics-idle"
  local hwm rss final_pods final_fns threads
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$opid/status")
  threads=$(awk '/^Threads/ {print $2}' "/proc/$opid/status")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$opid/status")
  final_pods=$("$KUBECTL" -n "$ns" get pods -l sluice.io/function -o name | grep -c . || true)
  final_fns=$(functions_with_pods)
  kill "$opid"
  wait "$opid" 2>/dev/null || true
  [[ -n $profile ]] && cp "$work/operator-$n.log" "$profile/operator-$n-$label.log"
  opid=""
  "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null
  ns=""
  python3 -c 'import json,re,sys
def series(path):
    out = {}
    for line in open(path):
        m = re.match(r"(\w+)\{(.*)\} (\S+)", line)
        if m:
            labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(2)))
            key = labels.get("cause") or labels.get("verb", "") + " " + labels.get("resource", "")
            out[(m.group(1), key)] = float(m.group(3))
    return out
def requests(pods_path, settled_path, idle_path, idle_s):
    pods, settled, idle = series(pods_path), series(settled_path), series(idle_path)
    sent = {k[1]: int(v) for k, v in pods.items() if k[0] == "sluice_kube_client_requests_total" and v}
    idle_sent = {k[1]: int(v - settled.get(k, 0)) for k, v in idle.items()
                 if k[0] == "sluice_kube_client_requests_total" and v - settled.get(k, 0) > 0}
    during_idle = sum(idle_sent.values())
    return {"operator_requests_until_every_pod": dict(sorted(sent.items(), key=lambda kv: -kv[1])),
            "operator_requests_until_every_pod_total": sum(sent.values()),
            "operator_rate_limit_wait_seconds_until_every_pod":
                round(pods.get(("sluice_kube_client_wait_seconds_total", "rate_limit"), 0), 1),
            "operator_requests_per_second_idle": round(during_idle / idle_s, 2),
            "operator_requests_idle": dict(sorted(idle_sent.items(), key=lambda kv: -kv[1]))}
a=sys.argv[1:]; print(json.dumps({
    "functions": int(a[0]), "triggers": int(a[0]),
    "apply_seconds": (int(a[2]) - int(a[1])) / 1000,
    "every_function_has_a_pod_seconds": (int(a[3]) - int(a[1])) / 1000,
    "pods_after_idle": int(a[9]), "functions_with_a_pod_after_idle": int(a[11]),
    "operator_rss_before_apply_mb": round(int(a[4]) / 1024, 1),
    "operator_peak_rss_mb": round(int(a[5]) / 1024, 1),
    "operator_rss_after_idle_mb": round(int(a[6]) / 1024, 1),
    "idle_seconds": int(a[8]), "operator_threads_after_idle": int(a[12]),
    "operator_idle_cpu_percent_of_one_core": round(100 * int(a[7]) / int(a[10]) / int(a[8]), 2),
    "operator": a[13], "operator_args": a[17],
    **requests(a[14], a[18], a[15], int(a[8])),
    "apiserver_write_ceiling": json.loads(a[16]),
    "load_average_1m": float(open("/proc/loadavg").read().split()[0])}))' \
    "$n" "$t0" "$t_applied" "$t_pods" "$rss_before" "$hwm" "$rss" "$((c1 - c0))" "$idle_s" "$final_pods" "$hz" "$final_fns" "$threads" "$label" \
    "$work/metrics-pods" "$work/metrics-idle" "$ceiling" "${SLUICE_BENCH_OPERATOR_ARGS:-}" "$work/metrics-settled"
}

sizes=("$@")
((${#sizes[@]})) || sizes=(200)
ceiling_ns="bench-writes-$(date +%s)"
"$KUBECTL" create namespace "$ceiling_ns" >/dev/null
ceiling=$(python3 "$here/apiserver_writes.py" "$KUBECONFIG" "$ceiling_ns" 10 8)
"$KUBECTL" delete namespace "$ceiling_ns" --wait=false >/dev/null
echo "apiserver write ceiling: $ceiling"
results=()
for n in "${sizes[@]}"; do
  for o in "${operators[@]}"; do
    results+=("$(run_one "$n" "${o%%=*}" "${o#*=}")")
    echo "${results[-1]}"
  done
done
mkdir -p "$root/bench/results"
printf '%s\n' "${results[@]}" | python3 -c 'import json,sys; json.dump({"runs": [json.loads(l) for l in sys.stdin]}, open(sys.argv[1], "w"), indent=2, sort_keys=True)' \
  "${SLUICE_BENCH_RESULTS:-$root/bench/results/scale.json}"
