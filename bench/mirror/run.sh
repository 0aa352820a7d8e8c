#!/usr/bin/env bash
# Kafka A -> B mirroring: Sluice's built-in `mirror` (one sluice-runtime replica) against Kafka's own
# MirrorMaker 2 (connect-mirror at the Kafka version of tests/env, dedicated mode, one task), on the
# two real clusters of tests/env (`tests/env/up.sh kafka`: KAFKA_BOOTSTRAP is A, KAFKA_BOOTSTRAP_B
# is B). Both copy a P-partition topic of 100-byte records from A to "A.<topic>" on B (MirrorMaker
# 2's DefaultReplicationPolicy; Sluice's `rename: prefix`), both with consumer-group offset
# translation on, every GROUP_SYNC seconds (MirrorMaker 2: emit.checkpoints + sync.group.offsets;
# Sluice: `groups`), and both write with linger.ms 5. Each repetition runs, the contenders
# alternating (who goes first flips every repetition; the machine is shared, so each figure is a
# ratio to MirrorMaker 2 measured in the same repetition):
#   1. throughput: N records pre-filled on a fresh topic, a group committed half-way on it; the
#      contender started fresh; records/s and records per CPU-second (utime + stime of the whole
#      process, JVM included) over 10 % -> 100 % of the records on B; VmHWM; then the group's
#      translated offsets on B (a translation that never happened fails the check, not the run).
#   2. lag: a fresh topic fed at RATE records/s for LAT_SECONDS (first LAT_WARMUP seconds left out)
#      after a probe record went through; a consumer on B takes receive time minus the send time
#      carried in the value (p50/p99/max) while a consumer of the same group on A reads and
#      auto-commits (the group the mirror translates, and the floor: the latency of reading A
#      directly); CPU per record at that rate; VmHWM.
# Writes bench/results/mirror.json (per repetition and a summary: median and min-max of each figure
# and ratio). Needs: sluice-runtime, sluice_bench_mirror and sluice_bench_runtime_kafka (its
# produce/paced writers) in SLUICE_BENCH_BUILD_DIR (a Release build), java, Maven for the first run.
# SLUICE_BENCH_RUNTIME names another sluice-runtime (e.g. a Release one while the measuring tools
# come from a quicker build); the build type recorded is the runtime's.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${SLUICE_BENCH_BUILD_DIR:-${1:-$ROOT/build}}"
RUNTIME="${SLUICE_BENCH_RUNTIME:-$BUILD/sluice-runtime}"
MB="$BUILD/sluice_bench_mirror"
KB="$BUILD/sluice_bench_runtime_kafka"
N="${N:-1000000}"
PARTITIONS="${PARTITIONS:-6}"
REPS="${REPS:-3}"
RATE="${RATE:-20000}"
LAT_SECONDS="${LAT_SECONDS:-30}"
LAT_WARMUP="${LAT_WARMUP:-5}"
GROUP_SYNC="${GROUP_SYNC:-5}"
# The paced producer's linger.ms: its records' latency includes it, for every contender alike
# (direct_on_a shows it); 0 would send about one request per record to broker A.
PACED_LINGER_MS="${PACED_LINGER_MS:-5}"
MAX_IN_FLIGHT="${MAX_IN_FLIGHT:-50000}"
OUT="${MIRROR_RESULTS:-$ROOT/bench/results/mirror.json}"
root=$ROOT
# shellcheck source=bench/testenv.sh
source "$ROOT/bench/testenv.sh"
: "${KAFKA_BOOTSTRAP:?not set (tests/env/up.sh kafka)}" "${KAFKA_BOOTSTRAP_B:?not set (tests/env/up.sh kafka)}"
: "${KAFKA_TOPICS:?not set (tests/env/up.sh kafka)}"
for f in "$RUNTIME" "$MB" "$KB"; do [[ -x "$f" ]] || {
  echo "run.sh: $f not built" >&2
  exit 1
}; done
MM2_HOME="$(bash "$ROOT/bench/mirror/mm2_install.sh")"
# shellcheck source=bench/scratch.sh
source "$ROOT/bench/scratch.sh"
# shellcheck source=bench/mirror/contenders.sh
source "$ROOT/bench/mirror/contenders.sh"

# shellcheck source=bench/machine.sh
source "$ROOT/bench/machine.sh"
runtime_machine() { BUILD="$(dirname "$RUNTIME")" machine; }

# throughput WHO TAG: phase 1 for one contender; its JSON in $SCRATCH/TAG.json.
throughput() {
  local who=$1 tag=$2 topic="$2-tp" group="$2-g" result committed translated
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" --partitions "$PARTITIONS" >/dev/null
  "$KB" produce "$KAFKA_BOOTSTRAP" "$topic" "$N" 100
  committed="$("$MB" commit "$KAFKA_BOOTSTRAP" "$group" "$topic" 0.5)"
  mirror_start "$who" "$tag" "$topic" "$group"
  result="$("$MB" measure "$KAFKA_BOOTSTRAP_B" "A.$topic" "$N" $((N / 10)) "$MIRROR_PID")"
  translated="$(wait_translated "$group" "A.$topic")"
  echo "{\"run\": $result, \"vm_hwm_kb\": $(vm_hwm "$MIRROR_PID"), \"process_cpu_s\": $(process_cpu "$MIRROR_PID")," \
    "\"committed_on_a\": $committed, \"translated_on_b\": $translated}" >"$SCRATCH/$tag.json"
  mirror_stop "$MIRROR_PID"
}

# lag WHO TAG: phase 2 for one contender; its JSON in $SCRATCH/TAG.json.
lag() {
  local who=$1 tag=$2 topic="$2-tp" group="$2-g" n=$((RATE * LAT_SECONDS + 1)) on_b on_a
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" --partitions "$PARTITIONS" >/dev/null
  mirror_start "$who" "$tag" "$topic" "$group"
  # The probe (sequence 0, left out of the figures): timing starts only once the contender copies.
  "$KB" produce "$KAFKA_BOOTSTRAP" "$topic" 1 100
  if ! timeout 300 "$MB" measure "$KAFKA_BOOTSTRAP_B" "A.$topic" 1 0 "$MIRROR_PID" >/dev/null; then
    echo "bench: $who did not copy the probe record within 300 s; its log:" >&2
    tail -n 30 "$SCRATCH/$tag.log" >&2
    return 1
  fi
  "$MB" lag "$KAFKA_BOOTSTRAP_B" "A.$topic" "$n" $((RATE * LAT_WARMUP)) "$tag-lag-b" "$MIRROR_PID" \
    >"$SCRATCH/$tag-b.json" &
  on_b=$!
  "$MB" lag "$KAFKA_BOOTSTRAP" "$topic" "$n" $((RATE * LAT_WARMUP)) "$group" >"$SCRATCH/$tag-a.json" &
  on_a=$!
  PIDS+=("$on_b" "$on_a")
  "$KB" paced "$KAFKA_BOOTSTRAP" "$topic" "$RATE" "$LAT_SECONDS" 100 "$PACED_LINGER_MS"
  wait "$on_b"
  wait "$on_a"
  echo "{\"on_b\": $(cat "$SCRATCH/$tag-b.json"), \"direct_on_a\": $(cat "$SCRATCH/$tag-a.json")," \
    "\"vm_hwm_kb\": $(vm_hwm "$MIRROR_PID"), \"translated_on_b\": $(wait_translated "$group" "A.$topic")}" \
    >"$SCRATCH/$tag.json"
  mirror_stop "$MIRROR_PID"
}

# write_summary: $OUT from the repetitions so far (rewritten after each, so a run cut short keeps
# what it measured).
write_summary() {
  local settings
  mkdir -p "$(dirname "$OUT")"
  settings="{\"records\": $N, \"partitions\": $PARTITIONS, \"record_bytes\": 100, \"rate_per_s\": $RATE,"
  settings+=" \"lag_seconds\": $LAT_SECONDS, \"lag_warmup_seconds\": $LAT_WARMUP, \"group_sync_s\": $GROUP_SYNC,"
  settings+=" \"sluice_max_in_flight\": $MAX_IN_FLIGHT, \"paced_linger_ms\": $PACED_LINGER_MS, \"mm2\": \"connect-mirror ${MM2_HOME##*-}\"}"
  /usr/bin/python3 "$ROOT/bench/mirror/summary.py" "$RESULTS" "$settings" >"$OUT"
}

echo "== machine: $(runtime_machine)" >&2
RESULTS="$SCRATCH/results.jsonl"
for rep in $(seq 1 "$REPS"); do
  RUN="mb-$$-$(date +%s)-$rep"
  order=(sluice mm2)
  ((rep % 2)) || order=(mm2 sluice)
  BEFORE="$(runtime_machine)"
  for who in "${order[@]}"; do
    echo "== repetition $rep/$REPS: $who, throughput, $N records" >&2
    throughput "$who" "$RUN-t-$who"
    cat "$SCRATCH/$RUN-t-$who.json" >&2
  done
  for who in "${order[@]}"; do
    echo "== repetition $rep/$REPS: $who, lag at $RATE records/s for $LAT_SECONDS s" >&2
    lag "$who" "$RUN-l-$who"
    cat "$SCRATCH/$RUN-l-$who.json" >&2
  done
  echo "{\"rep\": $rep, \"order\": \"${order[*]}\", \"machine_before\": $BEFORE, \"machine_after\": $(runtime_machine)," \
    "\"throughput\": {\"sluice\": $(cat "$SCRATCH/$RUN-t-sluice.json"), \"mm2\": $(cat "$SCRATCH/$RUN-t-mm2.json")}," \
    "\"lag\": {\"sluice\": $(cat "$SCRATCH/$RUN-l-sluice.json"), \"mm2\": $(cat "$SCRATCH/$RUN-l-mm2.json")}}" |
    jq -c . >>"$RESULTS"
  write_summary
done
cat "$OUT"

