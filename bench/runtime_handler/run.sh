#!/usr/bin/env bash
# Handler benchmarks (in-process, one thread): embedded-Python call cost vs a
# plain CPython loop calling the same handler, and built-in pipeline throughput
# vs a raw copy loop. Writes bench/results/runtime_handler.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${SLUICE_BENCH_BUILD_DIR:-${1:-$ROOT/build}}"
BIN="$BUILD/sluice_bench_runtime_handler"
[[ -x "$BIN" ]] || { echo "run.sh: $BIN not built (cmake --build $BUILD --target sluice_bench_runtime_handler)" >&2; exit 1; }
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
"$BIN" "$SCRATCH" >"$SCRATCH/sluice.json"
# Baseline: the same handler called by a plain Python loop with a prebuilt
# event dict and context (what a hand-written consumer loop pays per call).
/usr/bin/python3 - "$SCRATCH/sluice.json" >"$SCRATCH/result.json" <<'PY'
import json, sys, time
result = json.load(open(sys.argv[1]))
def main_handler(event, context):
    return event["data"]
class Ctx:
    pass
events = [{"id": "bench/0/%d" % i, "source": "kafka", "type": "kafka.record", "time": "2024-01-01T00:00:00.000Z",
           "subject": "bench", "key": "key-%d" % (i % 1000), "headers": {"trace": "abc", "origin": "bench"},
           "partition": i % 8, "offset": i,
           "data": '{"level":"ERROR","status":503,"msg":"disk full on node-%d"}' % (i % 100)} for i in range(50000)]
best = 0
for _ in range(3):
    start = time.perf_counter()
    for e in events:
        out = main_handler(e, Ctx())
        value = out.encode()
    best = max(best, len(events) / (time.perf_counter() - start))
result["python"]["calls_per_s_plain_python_loop"] = best
result["python"]["sluice_vs_plain_python_loop"] = result["python"]["calls_per_s_echo_canonical"] / best
print(json.dumps(result, indent=2, sort_keys=True))
PY
mkdir -p "$ROOT/bench/results"
cp "$SCRATCH/result.json" "$ROOT/bench/results/runtime_handler.json"
cat "$ROOT/bench/results/runtime_handler.json"
