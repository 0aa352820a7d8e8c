# The latency regression check of issue 22, small enough for every CI run: one sluice-runtime replica
# with a Python handler and the raw librdkafka consume->produce loop, at the same time (so other work
# on the machine slows both alike), each fed a steady 2,000 records/s for 8 s on fresh topics and
# groups (bench/runtime_kafka/contenders.sh, the benchmark's own code). Sluice's p50 and p99 must stay within a generous bound of the loop's from
# the same run (in one of two such windows, see below): a replica that falls behind at a trickle (the defect: one batch per fetch round
# queued behind the last, seconds of latency and growing) is far outside it, while a busy CI machine
# that slows both contenders is not.
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_TOPICS SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
BIN="$SLUICE_BUILD_DIR/sluice_bench_runtime_kafka"
RUNTIME="$SLUICE_BUILD_DIR/sluice-runtime"
SCRATCH=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
# shellcheck source=bench/runtime_kafka/contenders.sh
source "$SLUICE_SOURCE_DIR/bench/runtime_kafka/contenders.sh"
bench_python_code
rate=2000
# within_bound RESULT: exit 0 when Sluice's p50 and p99 are within the bound of the loop's, else
# print why and exit 1.
within_bound() {
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
s, loop = r["sluice"], r["raw_librdkafka_loop"]
# Generous on purpose (CI machines are shared and both contenders slow down together); the defect
# this guards against measured 1,276-4,977 ms p50 where the loop had 5-7 ms.
bad = []
for q, slack in (("p50_ms", 25.0), ("p99_ms", 100.0)):
    bound = 4 * loop[q] + slack
    if s[q] > bound:
        bad.append("Sluice %s %.1f ms > 4 x the loop's %.1f ms + %.0f ms = %.1f ms" % (q, s[q], loop[q], slack, bound))
if bad:
    print("; ".join(bad))
    sys.exit(1)
print("ok: Sluice p50/p99 %.1f/%.1f ms, raw loop %.1f/%.1f ms" % (s["p50_ms"], s["p99_ms"], loop["p50_ms"], loop["p99_ms"]))
PY
}
# A second window on fresh topics when the first is out of bound: one 8 s window of the shared broker
# is exposed to a stall of one topic or group that the other contender does not share (seen here:
# the raw loop alone at a 180 ms p50 while Sluice had 17 ms; in a CI run, after the 1,000,000-record
# test, Sluice alone at 181 ms against the loop's 8.6 ms). The defect (a replica behind by seconds at
# a trickle) is out of bound in every window, so both must fail for the test to fail.
verdicts=()
for window in 1 2; do
  result=$(bench_latency_pair "$(unique_name latency)" "$rate" 8 2) || fail "the latency run did not complete"
  echo "[figure] latency at $rate records/s, window $window: $result"
  if verdict=$(within_bound "$result"); then
    echo "$verdict"
    exit 0
  fi
  verdicts+=("window $window: $verdict")
done
fail "$(printf '%s\n' "${verdicts[@]}")"
