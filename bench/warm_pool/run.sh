#!/usr/bin/env bash
# Warm-pod adoption benchmark on the real kube-apiserver + KWOK of tests/env.
#  1. Baseline: a Function without a warm pool, desired 0 -> 1, time until a
#     fresh pod with the function's label exists (KWOK: no container runs, so
#     no image pull / process start / handler import is in this figure).
#  2. Warm pool of 2 with a real `sluice-runtime --warm` standing in for each
#     warm pod (on the pod's loopback IP, with the namespace's control token):
#     desired 0 -> 1, time until the adopted warm pod carries the function's
#     label (seen by a pod watch; the operator's "adopted warm pod" log line is
#     recorded as a cross-check), then back to 0 and wait for the pool to refill.
#  3. On this machine, no Kubernetes: real cold start of `sluice-runtime
#     --config` with a Python handler (exec until /readyz answers 200) versus
#     POST /specialize on an already running `--warm` process.
# Usage: bench/warm_pool/run.sh [ROUNDS [FRESH_ROUNDS]]   (default 20 each). Writes bench/results/warm_pool.json.
# Binaries from $SLUICE_BENCH_BUILD_DIR, else build/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
[[ -n ${KUBECONFIG:-} && -n ${KUBECTL:-} ]] || { echo "warm pool bench: KUBECONFIG/KUBECTL not set (make testenv-up)" >&2; exit 1; }
build=${SLUICE_BENCH_BUILD_DIR:-$root/build}
operator=$build/sluice-operator
runtime=$build/sluice-runtime
for binary in "$operator" "$runtime"; do
  [[ -x $binary ]] || { echo "warm pool bench: $binary not built" >&2; exit 1; }
done
rounds=${1:-20}
fresh_rounds=${2:-$rounds}
ns="bench-warm-$(date +%s)-$$"
work=$(mktemp -d)
declare -A standin=()
opid=""
cleanup() {
  for pid in "${standin[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -n $opid ]] && kill "$opid" 2>/dev/null || true
  wait 2>/dev/null || true
  "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
k() { "$KUBECTL" -n "$ns" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_for() { # wait_for TIMEOUT CMD...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || {
      echo "warm pool bench: timed out waiting for: $*" >&2
      k get pods -o wide --show-labels >&2 || true
      tail -15 "$work/operator.log" >&2
      exit 1
    }
    sleep 0.2
  done
}
wait_until() { # wait_until TIMEOUT CMD...: like wait_for but returns 1 on timeout
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
set_desired() { k patch fn "$1" --subresource=status --type=merge -p "{\"status\":{\"desiredReplicas\":$2}}" >/dev/null; }
# patch_t0 NAME N: sets desiredReplicas and prints the ms since epoch at which kubectl got the
# apiserver's answer (its -v=6 "Response" log line), so kubectl's own exit time is not counted.
patch_t0() {
  k -v=6 patch fn "$1" --subresource=status --type=merge -p "{\"status\":{\"desiredReplicas\":$2}}" 2>&1 >/dev/null |
    grep -m1 'verb="PATCH"' | python3 -c '
import sys, datetime
f = sys.stdin.read().split()
t = datetime.datetime.strptime(f"{datetime.date.today().year}{f[0][1:]} {f[1]}", "%Y%m%d %H:%M:%S.%f")
print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))'
}
pod_count() { k get pods -l "$1" -o name | grep -c . || true; }
no_pods() { [[ $(pod_count "sluice.io/function=$1") -eq 0 ]]; }
ready_warm() {
  k get pods -l sluice.io/role=warm -o json |
    jq -r '.items[] | select(.metadata.deletionTimestamp == null and .status.podIP != null and
         any(.status.conditions[]?; .type == "Ready" and .status == "True")) | "\(.metadata.name) \(.status.podIP)"'
}
warm_is() { [[ $(ready_warm | grep -c .) -eq $1 ]]; }
# watch_pods SELECTOR OUTFILE: a background pod watch; each reported pod name is written
# as "<ms since epoch> <name>" when it arrives. stop_watch ends that kubectl by its pid.
watch_pods() {
  (
    echo "$BASHPID" >"$work/watch.pid"
    exec "$KUBECTL" -n "$ns" get pods -l "$1" --watch-only -o name 2>/dev/null
  ) | while IFS= read -r line; do echo "$(now_ms) ${line#pod/}"; done >"$2" &
}
stop_watch() { kill "$(cat "$work/watch.pid")" 2>/dev/null || true; }
log_ms() { # log_ms PATTERN: ms since epoch of the last operator log line matching PATTERN (spdlog, UTC)
  grep -F "$1" "$work/operator.log" | tail -1 | python3 -c '
import sys, re, datetime
m = re.search(r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\.\d{3})", sys.stdin.read())
if m:
    t = datetime.datetime.strptime(m.group(1).replace("T", " "), "%Y-%m-%d %H:%M:%S.%f")
    print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))'
}

"$KUBECTL" apply -f "$root/crds/" >/dev/null
"$KUBECTL" create namespace "$ns" >/dev/null
"$operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" --runtime-image sluice/runtime-python:bench \
  >"$work/operator.log" 2>&1 &
opid=$!

function_yaml() { # function_yaml NAME WARM_POOL_SIZE
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
YAML
  [[ $2 -gt 0 ]] && printf '  scaling:\n    warmPool: {size: %d}\n' "$2"
  return 0
}

# --- 1. baseline: fresh pod, no warm pool -----------------------------------
function_yaml cold 0 | k apply -f - >/dev/null
sleep 2
fresh=()
fresh_log=()
for ((i = 0; i < fresh_rounds; i++)); do
  wait_for 120 no_pods cold
  rm -f "$work/cold-watch"
  watch_pods sluice.io/function=cold "$work/cold-watch"
  sleep 1 # the watch is established
  t0=$(patch_t0 cold 1)
  wait_for 60 test -s "$work/cold-watch"
  t1=$(head -1 "$work/cold-watch" | cut -d' ' -f1)
  fresh+=($((t1 - t0)))
  pod=$(head -1 "$work/cold-watch" | cut -d' ' -f2)
  wait_for 10 grep -q "created pod $pod" "$work/operator.log"
  tl=$(log_ms "created pod $pod")
  fresh_log+=($((tl - t0)))
  stop_watch
  set_desired cold 0
  echo "fresh round $i: $pod watch $((t1 - t0)) ms, log $((tl - t0)) ms"
done
k delete fn cold --wait=true >/dev/null
wait_for 120 no_pods cold

# --- 2. warm pool of 2 with real runtime stand-ins --------------------------
function_yaml echo 2 | k apply -f - >/dev/null
wait_for 120 warm_is 2
wait_for 30 k get secret sluice-control-token -o name
token=$(k get secret sluice-control-token -o jsonpath='{.data.token}' | base64 -d)
invoke=$(k get secret sluice-control-token -o jsonpath='{.data.invoke}' | base64 -d)
stand_in() { # start a runtime for every ready warm pod that has none
  local pod ip
  while read -r pod ip; do
    [[ -n $pod && -z ${standin[$pod]:-} ]] || continue
    SLUICE_SPECIALIZE_TOKEN=$token SLUICE_INVOKE_TOKEN=$invoke "$runtime" --warm --drain-grace 0 \
      --control-bind-address "$ip:8090" --data-bind-address "$ip:8080" >"$work/runtime-$pod.log" 2>&1 &
    standin[$pod]=$!
    wait_for 30 curl -sf "http://$ip:8090/readyz" -o /dev/null
    # A stand-in of an earlier round on a reused IP would answer too; this one must be the one bound.
    kill -0 "${standin[$pod]}" 2>/dev/null || { echo "warm pool bench: runtime for $pod exited: $(tail -3 "$work/runtime-$pod.log")" >&2; exit 1; }
  done < <(ready_warm)
}
adopt=()
adopt_log=()
stopped=""
for ((i = 0; i < rounds; i++)); do
  wait_for 120 no_pods echo
  # On the shared machine the KWOK nodes' heartbeats can lag; the node controller then marks every
  # pod on them NotReady and the pool cannot become Ready again. Keep the rounds measured so far.
  if ! wait_until 120 warm_is 2; then
    stopped="after $i rounds: the warm pool was not Ready again within 120 s (its pods Running but not Ready, as when the node lifecycle controller marks KWOK pods NotReady)"
    echo "warm pool bench: stopped $stopped" >&2
    break
  fi
  stand_in
  rm -f "$work/warm-watch"
  watch_pods sluice.io/function=echo "$work/warm-watch"
  sleep 1
  t0=$(patch_t0 echo 1)
  wait_for 60 test -s "$work/warm-watch"
  read -r t1 pod < <(head -1 "$work/warm-watch")
  stop_watch
  [[ -n ${standin[$pod]:-} ]] || { echo "warm pool bench: $pod is not an adopted warm pod: $(grep -i adopt "$work/operator.log" | tail -3)" >&2; exit 1; }
  wait_for 10 grep -q "adopted warm pod $pod" "$work/operator.log"
  tl=$(log_ms "adopted warm pod $pod")
  adopt+=($((t1 - t0)))
  adopt_log+=($((tl - t0)))
  echo "adoption round $i: $pod watch $((t1 - t0)) ms, log $((tl - t0)) ms"
  set_desired echo 0
  wait_for 120 no_pods echo
  kill "${standin[$pod]}" 2>/dev/null || true
  wait "${standin[$pod]}" 2>/dev/null || true # its address is free before a new warm pod may get it
  unset "standin[$pod]"
done

# --- 3. real process cold start vs /specialize (no Kubernetes) --------------
mkdir -p "$work/cold"
cat >"$work/cold/function.json" <<'JSON'
{"name": "echo", "runtime": "python3.11", "handler": "index.main_handler",
 "codeFiles": {"index.py": "def main_handler(event, context):\n    return 'ok:' + context.function_name\n"},
 "triggers": [{"name": "web", "http": {}}]}
JSON
port=18790
data_port=18791
cold_proc=()
spec_post=()
for ((i = 0; i < 10; i++)); do
  t0=$(date +%s%N)
  "$runtime" --config "$work/cold/function.json" --control-bind-address "127.0.0.1:$port" \
    --data-bind-address "127.0.0.1:$data_port" >"$work/cold/run.log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" -o /dev/null; do sleep 0.005; done
  cold_proc+=($((($(date +%s%N) - t0) / 1000)))
  kill "$pid"; wait "$pid" 2>/dev/null || true
  SLUICE_SPECIALIZE_TOKEN=benchtoken SLUICE_INVOKE_TOKEN=benchinvoke "$runtime" --warm \
    --control-bind-address "127.0.0.1:$port" --data-bind-address "127.0.0.1:$data_port" >"$work/cold/warm.log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" -o /dev/null; do sleep 0.005; done
  t0=$(date +%s%N)
  code=$(curl -s -o "$work/cold/spec.out" -w '%{http_code}' -X POST -H 'Authorization: Bearer benchtoken' \
    -H 'Content-Type: application/json' --data @"$work/cold/function.json" "http://127.0.0.1:$port/specialize")
  spec_post+=($((($(date +%s%N) - t0) / 1000)))
  [[ $code == 200 ]] || { echo "warm pool bench: /specialize answered $code: $(cat "$work/cold/spec.out")" >&2; exit 1; }
  out=$(curl -sf -X POST -H 'X-Sluice-Invoke-Token: benchinvoke' "http://127.0.0.1:$data_port/invoke" -d x)
  [[ $out == ok:echo ]] || { echo "warm pool bench: specialized handler answered '$out'" >&2; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

python3 - "$root/bench/results/warm_pool.json" "$(cut -d' ' -f1 /proc/loadavg)" \
  "${fresh[*]}" "${fresh_log[*]}" "${adopt[*]}" "${adopt_log[*]}" "${cold_proc[*]}" "${spec_post[*]}" "$stopped" "$rounds" <<'PY'
import json, sys, statistics
out, load = sys.argv[1], float(sys.argv[2])
def nums(s): return [int(x) for x in s.split()]
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))]
def summary(v, unit):
    if not v: return {"n": 0}
    return {"n": len(v), f"p50_{unit}": pct(v, 50), f"p99_{unit}": pct(v, 99), f"min_{unit}": min(v),
            f"max_{unit}": max(v), f"samples_{unit}": v}
fresh, fresh_log, adopt, adopt_log = (nums(a) for a in sys.argv[3:7])
cold, spec = nums(sys.argv[7]), nums(sys.argv[8])
r = {"load_average_1m_at_end": load,
     "fresh_pod_exists_after_desired_0_to_1": summary(fresh, "ms"),
     "fresh_pod_operator_log_line": summary(fresh_log, "ms"),
     "warm_adoption_labels_seen_by_watch": summary(adopt, "ms"),
     "warm_adoption_operator_log_line": summary(adopt_log, "ms"),
     "runtime_cold_start_exec_to_readyz": summary(cold, "us"),
     "runtime_specialize_post": summary(spec, "us")}
r["adoption_rounds_requested"] = int(sys.argv[10])
if sys.argv[9]: r["adoption_rounds_stopped"] = sys.argv[9]
r["cold_start_over_specialize_p50"] = round(pct(cold, 50) / pct(spec, 50), 1)
json.dump(r, open(out, "w"), indent=2, sort_keys=True)
print(f"fresh pod (KWOK, no container): p50 {pct(fresh,50)} ms p99 {pct(fresh,99)} ms")
print(f"fresh pod (operator log):       p50 {pct(fresh_log,50)} ms p99 {pct(fresh_log,99)} ms")
if adopt:
    print(f"warm adoption (watch):          p50 {pct(adopt,50)} ms p99 {pct(adopt,99)} ms")
    print(f"warm adoption (operator log):   p50 {pct(adopt_log,50)} ms p99 {pct(adopt_log,99)} ms")
print(f"runtime cold start exec->readyz p50 {pct(cold,50)/1000:.1f} ms; /specialize p50 {pct(spec,50)/1000:.1f} ms; ratio {r['cold_start_over_specialize_p50']}")
PY
