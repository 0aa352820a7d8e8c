#!/usr/bin/env bash
# Throughput-aware autoscaling benchmark (issue 19): every trace x Function
# config (user defaults, tuned lag target) under sluice's rate policy, its
# backlog policy and keda-default, with the simulator in sluice-operator.
# Replica-seconds count the warm pool; the oracle is sum over seconds of
# ceil(arrivals / service rate), the replicas the work needs with perfect foresight.
# sluice runs as shipped: no warm pool (the chart's runtime.warmPool.defaultSize
# is 0), so waking from zero pays the trace's cold start; sluice-rate-pool1 is
# the rate policy with the trace's warm_pool of 1, kept warm all the time.
# Usage: bench/autoscaler/rates.sh [BUILD_DIR]   (default: $SLUICE_BENCH_BUILD_DIR, else build)
# Writes bench/results/autoscaler_rates.json and prints a Markdown table of ratios.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${1:-${SLUICE_BENCH_BUILD_DIR:-$ROOT/build}}"
OPERATOR="$BUILD/sluice-operator"
[[ -x "$OPERATOR" ]] || { echo "rates.sh: $OPERATOR not built (cmake --build build --target sluice-operator)" >&2; exit 1; }
python3 "$ROOT/bench/traces/generate.py" >/dev/null
OUT="$ROOT/bench/results/autoscaler_rates.json"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
TRACES="bursts daily-wave hourly-batches flat-line slow-ramp spike-train"
CONFIGS="default tuned"
for config in $CONFIGS; do
  for mode in rate backlog; do
    # The Function with spec.scaling.policy set; everything else as written.
    sed "s/^  handler: index.main_handler$/  handler: index.main_handler\n  scaling:\n    policy: $mode/" \
      "$ROOT/bench/autoscaler/functions/$config.yaml" >"$TMP/$config-$mode.yaml"
  done
done
for trace in $TRACES; do
  for config in $CONFIGS; do
    for run in sluice-rate sluice-rate-pool1 sluice-backlog keda-default; do
      function="$TMP/$config-rate.yaml"
      [[ $run == sluice-backlog ]] && function="$TMP/$config-backlog.yaml"
      policy=sluice
      [[ $run == keda-default ]] && policy=keda-default
      pool=(--warm-pool 0)
      [[ $run == sluice-rate-pool1 ]] && pool=()
      "$OPERATOR" simulate --trace "$ROOT/bench/traces/$trace.json" --function "$function" --policy "$policy" \
        "${pool[@]}" --json >"$TMP/$trace.$config.$run.json"
    done
  done
done
python3 - "$TMP" "$ROOT/bench/traces" "$OUT" "$TRACES" "$CONFIGS" <<'PY'
import datetime, json, math, os, sys
tmp, traces_dir, out, traces, configs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5].split()
runs = ("sluice-rate", "sluice-rate-pool1", "sluice-backlog", "keda-default")
data = {"date": datetime.date.today().isoformat(), "traces": {}}
for trace in traces:
    t = json.load(open(os.path.join(traces_dir, trace + ".json")))
    oracle = sum(math.ceil(a / t["service_rate_per_replica"] - 1e-9) for a in t["arrivals"])
    # No policy can use less: every event takes 1 / service rate of a replica's time.
    least = sum(t["arrivals"]) / t["service_rate_per_replica"]
    entry = {"oracle_replica_seconds": oracle, "least_replica_seconds": round(least, 3)}
    for config in configs:
        entry[config] = {}
        for run in runs:
            r = json.load(open(os.path.join(tmp, f"{trace}.{config}.{run}.json")))
            r.pop("replicas")
            entry[config][run] = r
    data["traces"][trace] = entry
with open(out, "w") as f:
    json.dump(data, f, indent=2, sort_keys=True)
    f.write("\n")
print("| trace | config | run | replica-s (own + pool) | vs keda-default | own vs keda-default | own vs oracle | least possible vs keda-default | p99 s | keda p99 s | goal |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for trace, entry in data["traces"].items():
    for config in configs:
        keda = entry[config]["keda-default"]
        keda_total = keda["replica_seconds"] + keda["warm_pool_replica_seconds"]
        for run in ("sluice-rate", "sluice-rate-pool1", "sluice-backlog"):
            r = entry[config][run]
            total = r["replica_seconds"] + r["warm_pool_replica_seconds"]
            vs_keda = total / keda_total
            vs_oracle = r["replica_seconds"] / entry["oracle_replica_seconds"]
            met = vs_keda <= 0.8 and r["latency_p99_s"] <= keda["latency_p99_s"] and vs_oracle <= 2
            own_vs_keda = r["replica_seconds"] / keda_total
            least_vs_keda = entry["least_replica_seconds"] / keda_total
            print(f"| {trace} | {config} | {run} | {total:.0f} | {vs_keda:.2f}x | {own_vs_keda:.2f}x | {vs_oracle:.2f}x | {least_vs_keda:.2f}x | "
                  f"{r['latency_p99_s']:.2f} | {keda['latency_p99_s']:.2f} | {'met' if met else 'missed'} |")
PY
