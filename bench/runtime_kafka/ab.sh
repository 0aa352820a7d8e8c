#!/usr/bin/env bash
# Two sluice-runtime builds, A and B, on the built-in mirror pipeline (Kafka -> Kafka, no handler),
# alternating within each repetition so both meet the same machine: per repetition and maxInFlight,
# A then B each read N fresh 100-byte records into a fresh topic, timed by the benchmark tool's
# `measure` (records/s over the output window, and records per CPU-second of the runtime).
# Usage: A_RUNTIME=old/build/sluice-runtime B_RUNTIME=build/sluice-runtime bench/runtime_kafka/ab.sh
# (source build/testenv.env first). Prints one line per run; ratios are taken within a repetition.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${SLUICE_BENCH_BUILD_DIR:-$ROOT/build}/sluice_bench_runtime_kafka"
: "${A_RUNTIME:?the first runtime binary}" "${B_RUNTIME:?the second runtime binary}"
: "${KAFKA_BOOTSTRAP:?not set (make testenv-up)}" "${KAFKA_TOPICS:?not set (make testenv-up)}"
N="${N:-300000}"
REPS="${REPS:-2}"
# shellcheck source=bench/scratch.sh
source "$ROOT/bench/scratch.sh"
# shellcheck source=bench/runtime_kafka/contenders.sh
source "$ROOT/bench/runtime_kafka/contenders.sh"
for rep in $(seq 1 "$REPS"); do
  for inflight in ${IN_FLIGHT:-100 50000}; do
    for who in A B; do
      if [[ $who == A ]]; then RUNTIME="$A_RUNTIME"; else RUNTIME="$B_RUNTIME"; fi
      RUN="ab-$$-$rep-$inflight-$who"
      for t in in out; do bench_topic "$RUN-$t"; done
      "$BIN" produce "$KAFKA_BOOTSTRAP" "$RUN-in" "$N" 100
      bench_config "$RUN" '"runtime": "builtin", "pipeline": [{"mirror": {}}]' "$RUN-in" "$RUN-out" "$RUN-g" "$inflight"
      bench_start_runtime "$SCRATCH/$RUN.json"
      result="$("$BIN" measure "$KAFKA_BOOTSTRAP" "$RUN-out" "$N" "$RT_PID")"
      bench_stop "$RT_PID"
      echo "rep=$rep maxInFlight=$inflight $who $result load=$(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
