#!/usr/bin/env bash
# Warm pool sized by demand against the old fixed-size pool (issue 19), in one
# run of the simulator in sluice-operator: N Functions (the default Function of
# bench/autoscaler/functions, each on the trace rotated by i x STAGGER seconds)
# adopting from one shared pool, sized either as the trace's fixed warm_pool or
# by autoscaler::WarmPoolSizer (the WarmPoolController's code) with floor 0 and
# two (window seconds, ceiling) settings: a long memory (300 s, 8) and a short
# one (60 s, 4). Reports warm-pool replica-seconds and the starts served warm.
# Usage: bench/autoscaler/warm_pool.sh [BUILD_DIR]   (default: $SLUICE_BENCH_BUILD_DIR, else build)
# Writes bench/results/autoscaler_warm_pool.json and prints a Markdown table.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${1:-${SLUICE_BENCH_BUILD_DIR:-$ROOT/build}}"
OPERATOR="$BUILD/sluice-operator"
[[ -x "$OPERATOR" ]] || { echo "warm_pool.sh: $OPERATOR not built (cmake --build build --target sluice-operator)" >&2; exit 1; }
python3 "$ROOT/bench/traces/generate.py" >/dev/null
OUT="$ROOT/bench/results/autoscaler_warm_pool.json"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
TRACES="bursts spike-train hourly-batches"
FUNCTIONS="1 5 20"
STAGGER=600
POOLS="fixed demand-300s-8 demand-60s-4"
for trace in $TRACES; do
  for n in $FUNCTIONS; do
    for pool in $POOLS; do
      sizing=(--pool fixed)
      if [[ $pool == demand-* ]]; then
        IFS=- read -r _ window ceiling <<<"$pool"
        sizing=(--pool demand --pool-floor 0 --pool-ceiling "$ceiling" --pool-window-seconds "${window%s}")
      fi
      "$OPERATOR" simulate --trace "$ROOT/bench/traces/$trace.json" --function "$ROOT/bench/autoscaler/functions/default.yaml" \
        --functions "$n" --stagger-seconds "$STAGGER" "${sizing[@]}" >"$TMP/$trace.$n.$pool.json"
    done
  done
done
python3 - "$TMP" "$OUT" "$TRACES" "$FUNCTIONS" "$STAGGER" "$POOLS" <<'PY'
import datetime, json, os, sys
tmp, out, traces, functions = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
stagger, pools = float(sys.argv[5]), sys.argv[6].split()
data = {"date": datetime.date.today().isoformat(), "stagger_s": stagger, "runs": {}}
print("| trace | Functions | pool | warm-pool replica-s | starts | served warm | own replica-s | own + pool | worst p99 s | pool max |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for trace in traces:
    for n in functions:
        for pool in pools:
            r = json.load(open(os.path.join(tmp, f"{trace}.{n}.{pool}.json")))
            data["runs"][f"{trace}/{n}/{pool}"] = r
            warm = 100 * r["starts_warm"] / r["starts"] if r["starts"] else 0
            print(f"| {trace} | {n} | {pool} | {r['warm_pool_replica_seconds']:.0f} | {r['starts']} | "
                  f"{r['starts_warm']} ({warm:.0f} %) | {r['replica_seconds']:.0f} | "
                  f"{r['replica_seconds'] + r['warm_pool_replica_seconds']:.0f} | {r['latency_p99_s']:.2f} | "
                  f"{r['pool_size_max']} |")
with open(out, "w") as f:
    json.dump(data, f, indent=2, sort_keys=True)
    f.write("\n")
PY
