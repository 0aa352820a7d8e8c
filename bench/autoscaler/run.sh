#!/usr/bin/env bash
# Autoscaler benchmark: replica-seconds and latency of sluice, keda-default and
# static-peak on the seed-like traces, with the simulator in sluice-operator.
# Usage: bench/autoscaler/run.sh [BUILD_DIR]   (default: $SLUICE_BENCH_BUILD_DIR, else build)
# Writes bench/results/autoscaler.json and prints a Markdown table.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${1:-${SLUICE_BENCH_BUILD_DIR:-$ROOT/build}}"
OPERATOR="$BUILD/sluice-operator"
[[ -x "$OPERATOR" ]] || { echo "run.sh: $OPERATOR not built (cmake --build build --target sluice-operator)" >&2; exit 1; }
python3 "$ROOT/bench/traces/generate.py" >/dev/null
OUT="$ROOT/bench/results/autoscaler.json"
mkdir -p "$(dirname "$OUT")"
FUNCTION="$ROOT/bench/autoscaler/function.yaml"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
{
  echo "{"
  first_trace=1
  for trace in daily-wave bursts; do
    [[ $first_trace == 1 ]] || echo ","
    first_trace=0
    echo "\"$trace\": {"
    first=1
    # The same trace without a warm pool, to show what the pool costs and buys.
    python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); t["warm_pool"]=0; json.dump(t, open(sys.argv[2],"w"))' \
      "$ROOT/bench/traces/$trace.json" "$TMP/$trace-no-warm-pool.json"
    for run in sluice sluice-no-warm-pool keda-default static-peak; do
      [[ $first == 1 ]] || echo ","
      first=0
      policy="${run%-no-warm-pool}"
      file="$ROOT/bench/traces/$trace.json"
      [[ $run == *-no-warm-pool ]] && file="$TMP/$trace-no-warm-pool.json"
      # The per-second replica series is left out of the summary file to keep it small.
      "$OPERATOR" simulate --trace "$file" --function "$FUNCTION" --policy "$policy" --json |
        RUN="$run" python3 -c 'import json,os,sys; r=json.load(sys.stdin); r.pop("replicas"); print(json.dumps({os.environ["RUN"]: r}, sort_keys=True)[1:-1])'
    done
    echo "}"
  done
  echo "}"
} >"$OUT.tmp"
python3 -m json.tool "$OUT.tmp" >"$OUT"
rm -f "$OUT.tmp"
python3 - "$OUT" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
print("| trace | policy | replica-s | warm-pool replica-s | total vs static-peak | p50 latency s | p99 latency s | backlog max | scale events |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for trace, runs in data.items():
    peak = runs["static-peak"]["replica_seconds"]
    for policy in ("sluice", "sluice-no-warm-pool", "keda-default", "static-peak"):
        r = runs[policy]
        total = r["replica_seconds"] + r["warm_pool_replica_seconds"]
        print(f"| {trace} | {policy} | {r['replica_seconds']:.0f} | {r['warm_pool_replica_seconds']:.0f} | "
              f"{100 * total / peak:.1f}% | {r['latency_p50_s']:.2f} | {r['latency_p99_s']:.2f} | "
              f"{r['backlog_max']:.0f} | {r['scale_events']} |")
PY
