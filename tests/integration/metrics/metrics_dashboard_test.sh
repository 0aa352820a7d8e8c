#!/usr/bin/env bash
# Metrics end to end. A real sluice-operator (on the test apiserver + KWOK) and
# a real sluice-runtime (directory source) run and are scraped by the real
# Prometheus of tests/env. Then:
#  - `promtool check metrics` accepts both processes' /metrics as served;
#  - both expose every series the issue names (exact names);
#  - every expression of every panel of the chart's Grafana dashboard returns
#    at least one non-NaN sample from Prometheus (the per-Function panels for
#    this test's Function; the mirror panels are checked by MirrorFailoverTest).
# Traffic: a Function with a dir Trigger holding files (the autoscaler scales it
# 0 -> 2, KWOK makes the pods Ready: a cold start), a second Function with a warm
# pool, and JSON files the runtime processes.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG PROMETHEUS_URL PROMETHEUS_TARGETS_DIR PROMTOOL SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

ns=$(unique_name metrics)
work=$(mktemp -d)
operator_pid="" runtime_pid=""
targets=$PROMETHEUS_TARGETS_DIR/$ns.json
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    echo "--- operator log (last 40 lines) ---" >&2
    tail -n 40 "$work/operator.log" >&2 || true
    echo "--- runtime log (last 20 lines) ---" >&2
    tail -n 20 "$work/runtime.log" >&2 || true
  fi
  rm -f "$targets"
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  [[ -n $runtime_pid ]] && kill "$runtime_pid" 2>/dev/null && wait "$runtime_pid" 2>/dev/null
  "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
k() { "$KUBECTL" -n "$ns" "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

operator_port=$(free_port)
runtime_port=$(free_port)
mkdir -p "$work/backlog" "$work/in" "$work/out" "$work/done"

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test --metrics-bind-address "127.0.0.1:$operator_port" \
  >"$work/operator.log" 2>&1 &
operator_pid=$!
cat >"$work/targets.json" <<JSON
[{"targets": ["127.0.0.1:$operator_port"], "labels": {"job": "sluice-operator", "test": "$ns"}},
 {"targets": ["127.0.0.1:$runtime_port"], "labels": {"job": "sluice-functions", "test": "$ns", "function": "$ns/files"}}]
JSON
mv "$work/targets.json" "$targets"

# Prometheus's instant query: prints the first sample's value, or nothing.
prom_value() {
  curl -sfG "$PROMETHEUS_URL/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
prom_has() { [[ -n $(prom_value "$1") ]]; }
(poll 60 prom_has "up{test=\"$ns\",job=\"sluice-operator\"} == 1") || fail "Prometheus never scraped the operator"
k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: files}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return event
  scaling: {minReplicas: 0, maxReplicas: 2, pollingIntervalSeconds: 1, cooldownSeconds: 600}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: backlog}
spec:
  functionRef: {name: files}
  objectStore: {type: dir, path: "$work/backlog", targetObjectCount: 2}
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: pooled}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return event
  scaling: {minReplicas: 0, maxReplicas: 1, warmPool: {size: 1}}
YAML

# The runtime: a built-in pipeline over a directory of JSON files.
cat >"$work/function.json" <<JSON
{"name": "files", "runtime": "builtin",
 "pipeline": [{"parse": {"format": "json"}}],
 "outputs": [{"name": "out", "dir": {"path": "$work/out"}}],
 "triggers": [{"name": "uploads", "objectStore": {"kind": "dir", "prefix": "$work/in",
   "afterProcessing": "move", "moveToPrefix": "$work/done", "pollInterval": "200ms"}}]}
JSON
"$SLUICE_BUILD_DIR/sluice-runtime" --control-bind-address "127.0.0.1:$runtime_port" --config "$work/function.json" \
  >"$work/runtime.log" 2>&1 &
runtime_pid=$!

# Histograms and counters must be scraped at their starting values before the
# traffic that moves them, or increase()/rate() over their first sample is 0.
(poll 60 prom_has "sluice_function_cold_start_seconds_count{test=\"$ns\",function=\"$ns/files\"}") ||
  fail "Prometheus never saw the cold-start histogram of $ns/files at 0"
# The pool's series before the backlog: scaling files from 0 may adopt the pooled
# pod (same pod template), and an emptied pool must then read 0, not vanish.
warm_series() { curl -sf "http://127.0.0.1:$operator_port/metrics" | grep -q '^sluice_warmpool_pods{.*ready="true"} 1$'; }
(poll 60 warm_series) || fail "the operator never reported the ready warm pod of $ns/pooled"
for i in 1 2 3 4; do echo "object $i" >"$work/backlog/obj-$i"; done # the autoscaler: 4 objects / 2 = 2 replicas
for i in $(seq 1 5); do echo "{\"n\": $i}" >"$work/in/event-$i.json"; done
(poll 60 prom_has "sluice_runtime_handler_duration_seconds_count{test=\"$ns\"}") ||
  fail "Prometheus never saw the runtime's handler histogram"
for i in $(seq 6 20); do echo "{\"n\": $i}" >"$work/in/event-$i.json"; done

ready_is() { [[ $(k get fn files -o jsonpath='{.status.readyReplicas}') == "$1" ]]; }
(poll 120 ready_is 2) || fail "Function files never had 2 ready replicas: $(k get fn files -o jsonpath='{.status}')"
processed() { [[ $(find "$work/done" -type f | wc -l) -ge 20 ]]; }
(poll 60 processed) || fail "the runtime moved $(find "$work/done" -type f | wc -l) of 20 files to done/"

# promtool check metrics on both processes' /metrics, as served.
for endpoint in "operator 127.0.0.1:$operator_port" "runtime 127.0.0.1:$runtime_port"; do
  set -- $endpoint
  curl -sf "http://$2/metrics" >"$work/$1.prom" || fail "no /metrics from the $1"
  "$PROMTOOL" check metrics <"$work/$1.prom" >"$work/$1.check" 2>&1 ||
    fail "promtool check metrics rejects the $1's /metrics: $(cat "$work/$1.check")"
done
for name in sluice_controller_reconciles_total sluice_controller_reconcile_duration_seconds_bucket \
  sluice_workqueue_depth sluice_workqueue_adds_total sluice_workqueue_retries_total \
  sluice_autoscaler_scaler_value sluice_autoscaler_scaler_latency_seconds_bucket sluice_autoscaler_scaler_errors_total \
  sluice_function_desired_replicas sluice_function_ready_replicas sluice_warmpool_pods \
  sluice_autoscaler_scale_decisions_total sluice_function_cold_start_seconds_bucket sluice_operator_is_leader \
  sluice_operator_build_info; do
  grep -q "^$name[{ ]" "$work/operator.prom" || fail "the operator's /metrics has no $name series"
done
for name in sluice_runtime_events_received_total sluice_runtime_events_processed_total sluice_runtime_events_failed_total \
  sluice_runtime_events_retried_total sluice_runtime_events_dead_lettered_total \
  sluice_runtime_handler_duration_seconds_bucket sluice_runtime_in_flight sluice_runtime_specialization_duration_seconds_bucket; do
  grep -q "^$name[{ ]" "$work/runtime.prom" || fail "the runtime's /metrics has no $name series"
done
grep -q "^sluice_function_cold_start_seconds_count{function=\"$ns/files\"} 1$" "$work/operator.prom" ||
  fail "expected one cold start of $ns/files: $(grep cold_start_seconds_count "$work/operator.prom")"
grep -q "^sluice_runtime_events_processed_total{trigger=\"uploads\"} [1-9]" "$work/runtime.prom" ||
  fail "expected processed events of trigger uploads: $(grep events_processed "$work/runtime.prom")"
echo "[step] promtool check metrics: operator and runtime clean; every named series present"

# Every dashboard expression against the real Prometheus.
python3 - "$SLUICE_SOURCE_DIR/charts/sluice/files/dashboards/sluice.json" "$PROMETHEUS_URL" "$ns" <<'PY'
import json, sys, time, urllib.parse, urllib.request
dashboard, prometheus, ns = sys.argv[1:]
d = json.load(open(dashboard))
exprs = []
for panel in d["panels"]:
    for target in panel.get("targets", []):
        # A mirror's lag series exist only on a mirror's replicas (two Kafka clusters, not run here);
        # integration/runtime_io MirrorFailoverTest reads them from a running mirror's /metrics.
        if "sluice_mirror_" in target["expr"]:
            continue
        expr = (target["expr"].replace("$function", f"{ns}/files")
                .replace("$__rate_interval", "5m").replace("$__range", "1h"))
        exprs.append((panel["title"], target["refId"], expr))
def has_data(expr):
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.load(urllib.request.urlopen(url, timeout=10))
    if body.get("status") != "success":
        raise SystemExit(f"Prometheus refused {expr}: {body}")
    return any(r["value"][1] not in ("NaN", "+Inf", "-Inf") for r in body["data"]["result"])
deadline = time.time() + 90
missing = exprs
while missing and time.time() < deadline:
    missing = [e for e in missing if not has_data(e[2])]
    if missing:
        time.sleep(2)
for title, ref, expr in missing:
    print(f"FAIL: panel '{title}' target {ref} returns no data: {expr}", file=sys.stderr)
if missing:
    sys.exit(1)
print(f"[step] {len(exprs)} expressions of {sum(1 for p in d['panels'] if p['type'] != 'row')} panels all return data")
PY
echo "PASS: operator and runtime metrics pass promtool; every dashboard panel returns data"
