# Issue 19's steady-rate criterion on the real system (real Kafka, the real
# apiserver + KWOK, real sluice-runtime stand-ins for the KWOK pods, so the
# replicas consume the topic and serve the /metrics the operator reads): a
# Function with default scaling (no spec.scaling: the rate policy, drain
# target 2 s) whose Python handler sleeps HANDLER_MS per record (one record
# at a time, concurrency 1), fed a steady 2,000 records/s on a fresh
# 12-partition topic, settles at ceil(2,000 / perReplicaRate) replicas (± 1),
# perReplicaRate being what the operator measured and published in
# status.metrics[0], under the rate rule, and not at the maximum.
# The maximum: with the default maxReplicas (100) the ceiling is the topic's
# 12 partitions (the rate rule never asks for consumers beyond them, and the
# backlog rule's lag is capped there). The first wake-up has no measured rate
# yet, so KEDA's backlog rule takes it there; once the rates are measured
# (~12 s) its burst hold ends and the rate rule brings it down to ~5
# (measured 425-448 records/s a replica, 2.3 ms a record).
# What it guards: every change of the count moves partitions, and the group
# consumes nothing on them while it rebalances; before the settle rules
# (DecisionEngine, kRebalanceSettleSeconds) the backlog of each rebalance
# asked for more replicas and the count never settled (12 -> 5 -> 12 -> 7 ->
# 9 -> 12, pods living 2 s); while a second scale-down within the settle time
# recorded the raw backlog, each arrival at 5 went back up to 12 within 8 s;
# while a scale-up inside the settle time ended the cap (the arrivals alone
# flip 5 and 6), 11 -> 5 -> 6 -> 12 two seconds later (CI, 2026-12-07).
# 2026-12-07, after both: alone, settled 34 s after waking; beside a busy loop
# 67 s (one excursion to 8). The deadline is 210 s for a busier machine.
# Prints [figure] the settle time, the measured per-replica and arrival
# rates and the settled replicas, each bounded by an assertion below. A
# failure prints the looks it took (with the lag, the stand-ins' summed
# counters and in-flight events) and the records per second sent and appended.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG KAFKA_BOOTSTRAP KAFKA_TOPICS SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
ns=$(unique_name autoscale-rate)
source "$(dirname "$0")/autoscale_lib.sh"
# The stand-ins' scratch folder and background processes (the stand-in loop, the producer).
work=$log_dir
pids=()
# shellcheck source=tests/integration/standins_lib.sh
source "$(dirname "$0")/../standins_lib.sh"
topic="$ns-in"
group="$ns-group"
partitions=12
rate=2000
handler_ms=2
extra_cleanup() {
  local pid
  stop_standins
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$topic" >/dev/null 2>&1
}

"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" --partitions "$partitions" \
  --replication-factor 1 --config message.timestamp.type=LogAppendTime >"$log_dir/topic.log" 2>&1 ||
  fail "creating topic $topic: $(cat "$log_dir/topic.log")"
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_operator
standins orders
k apply -f - >/dev/null <<YAML
$(echo_function_yaml orders index.main_handler "import time
def main_handler(event, context):
    time.sleep($handler_ms / 1000)
    return None")
---
$(kafka_trigger_yaml orders-kafka orders)
YAML
# Measured idle first, so the records' arrival is what wakes it.
(poll 60 metric_value_is orders 0) ||
  fail_with_log "the autoscaler never measured the idle Trigger: $(k get fn orders -o jsonpath='{.status}')"

# 2,000 records/s for longer than the test runs (stopped at exit), keyed over 1,000 keys so every
# partition gets its share (the benchmark's paced producer, 100-byte records), with librdkafka's
# default linger.ms of 5, as a user's producer has it. The paced producer's own default, 0 (one
# produce request per record), kept the broker at 75 % of a core here, and with 11-12 replicas
# fetching as well it appended only 1,100-1,400 records/s for tens of seconds, then caught up at up to
# 15,000/s: arrivals the count rightly followed (11 -> 4 -> 12 every ~40 s, the CI failures of 2026-12-07).
"$SLUICE_BUILD_DIR/sluice_bench_runtime_kafka" paced "$KAFKA_BOOTSTRAP" "$topic" "$rate" 600 100 5 \
  >"$log_dir/producer.log" 2>&1 &
pids+=($!)
started=$SECONDS
(poll 60 desired_above_zero orders) || fail_with_log "desiredReplicas never went above 0 under $rate records/s"
echo "[step] woken $((SECONDS - started)) s after the producer started: desiredReplicas $(desired orders)"

# One look at the Function's status: "DESIRED RATE ARRIVAL RULE" of its Kafka Trigger.
sample() {
  k get fn orders -o json | jq -r '.status as $s | ($s.metrics[0] // {}) as $m |
    "\($s.desiredReplicas // 0) \($m.perReplicaRate // 0) \($m.arrivalRate // 0) \($m.rule // "none") \($m.value // "-")"'
}
# For a failure's record: the topic's high watermarks summed, then the events processed and
# handler seconds summed over the stand-ins that answer on /metrics, and how many answered.
diagnostics() {
  local ip p args=() hw
  for ((p = 0; p < partitions; p++)); do args+=(-t "$topic:$p:-1"); done
  hw=$(kcat -Q -b "$KAFKA_BOOTSTRAP" "${args[@]}" 2>/dev/null | awk '{s += $NF} END {print s + 0}')
  cut -d' ' -f2 "$work/standins/want" 2>/dev/null | while read -r ip; do
    curl -s -m 2 "http://$ip:8090/metrics" || true
  done | awk -v hw="$hw" '/^sluice_runtime_events_processed_total/ {p += $NF} /^sluice_runtime_handler_duration_seconds_sum/ {b += $NF; n++}
    /^sluice_runtime_in_flight/ {f += $NF}
    END {printf "hw=%d processed=%d busy=%.2f answered=%d in_flight=%d", hw, p, b, n, f}'
}
# For a failure's record: records per second of the test as sent (the producer's clock, carried in
# each record) and as appended (the broker's LogAppendTime): was the load offered steady?
offered_load() {
  kcat -C -b "$KAFKA_BOOTSTRAP" -t "$topic" -o beginning -e -q -f '%T %s\n' 2>/dev/null |
    awk -F'[ :]' '{ print "appended", int($1 / 1000); print "sent", int($3 / 1000000) }' | sort -k1,1 -k2,2n | uniq -c |
    awk '{ c[$2] = c[$2] " " $1 } END { print "appended/s:" c["appended"]; print "sent/s:" c["sent"] }'
}
# in_band DESIRED RATE RULE: the rate rule decides, the rate is measured, and DESIRED is
# ceil($rate / RATE) ± 1 and below the partition cap.
in_band() {
  jq -e -n --argjson d "$1" --argjson r "$2" --arg rule "$3" --argjson total "$rate" --argjson cap "$partitions" \
    '$rule == "rate" and $r > 0 and ($d - (($total / $r) | ceil) | fabs) <= 1 and $d < $cap' >/dev/null
}
# Settled: 15 consecutive looks (1-2 s apart, a look being a few kubectl and curl calls: over a
# dozen of the rate rule's rounds, which come every second) in the band, within 210 s of waking (cold starts of up to 12 stand-ins on a shared machine,
# the group's rebalances, and the rates' first measurement).
window=15
deadline=$((SECONDS + 210))
woke=$SECONDS
in_row=0
settled_at=""
rates=()
replicas=()
looks=() # "EPOCH ARRIVAL" of each look of the window
history="$log_dir/samples"
: >"$history"
while ((in_row < window)); do
  ((SECONDS < deadline)) || {
    tail -30 "$history" >&2
    offered_load >&2
    fail_with_log "not settled within 210 s of waking (last $window looks above: desired rate arrival rule)"
  }
  looked=$(date +%s.%N)
  read -r d r a rule lag < <(sample) || { sleep 1; continue; }
  echo "$((SECONDS - woke)) $d $r $a $rule lag=$lag $(diagnostics)" >>"$history"
  if in_band "$d" "$r" "$rule"; then
    ((in_row == 0)) && settled_at=$((SECONDS - woke))
    in_row=$((in_row + 1))
    rates+=("$r")
    replicas+=("$d")
    looks+=("$looked $a")
  else
    in_row=0
    rates=()
    replicas=()
    looks=()
  fi
  sleep 1
done
echo "[step] settled: $(tail -1 "$history")"
echo "[step] each change of desiredReplicas (s after waking:count,rule,perReplicaRate,arrivalRate,lag): $(awk '$2 != c || $5 != r { printf "%s:%s,%s,%d,%d,%s ", $1, $2, $5, $3, $4, substr($6, 5); c = $2; r = $5 }' "$history")"

# The figures of the settled window, each bounded.
read -r rate_min rate_max <<<"$(printf '%s\n' "${rates[@]}" | sort -g | sed -n '1p;$p' | xargs)"
read -r arrival_min arrival_max <<<"$(printf '%s\n' "${looks[@]}" | cut -d' ' -f2 | sort -g | sed -n '1p;$p' | xargs)"
read -r replicas_min replicas_max <<<"$(printf '%s\n' "${replicas[@]}" | sort -n | sed -n '1p;$p' | xargs)"
# A replica runs one record at a time and sleeps handler_ms in each: it cannot do more than
# 1000 / handler_ms records/s; the lower bound keeps the expected settle well below the cap
# (2,000 / 250 = 8 replicas).
capacity=$((1000 / handler_ms))
jq -e -n --argjson lo "$rate_min" --argjson hi "$rate_max" --argjson cap "$capacity" \
  '$lo >= 250 and $hi <= $cap' >/dev/null ||
  fail "measured per-replica rate $rate_min..$rate_max records/s; expected 250..$capacity (the handler sleeps $handler_ms ms)"
# The measured arrival rate is what the broker appended (LogAppendTime) over the estimator's 15 s
# window, within 15 %. Held against the producer's nominal 2,000 instead, a steady test failed in a
# CI run (2026-12-07, running alone): it published 1,653..2,498 records/s in its window, as the
# broker's appends swung around the producer's pace. The published figure is of a round up to ~3 s
# before the look: each look is held against the appended rates of the windows ending 0..3 s before it.
printf '%s\n' "${looks[@]}" >"$log_dir/looks"
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$topic" -o beginning -e -q -f '%T\n' >"$log_dir/appended" 2>/dev/null ||
  fail "reading the append times of $topic"
arrival_check=$(python3 - "$log_dir/appended" "$log_dir/looks" <<'PY'
import bisect, sys
appended = sorted(int(line) for line in open(sys.argv[1]) if line.strip())
worst = 0.0
for line in open(sys.argv[2]):
    at, published = map(float, line.split())
    windows = []
    for behind in range(4):
        end = (at - behind) * 1000
        windows.append((bisect.bisect_right(appended, end) - bisect.bisect_right(appended, end - 15000)) / 15)
    lo, hi = min(windows), max(windows)
    off = 0.0 if lo <= published <= hi else min(abs(published - lo) / lo, abs(published - hi) / hi)
    worst = max(worst, off)
    print(f"look {at:.1f}: published {published:.0f}, appended {lo:.0f}..{hi:.0f} records/s", file=sys.stderr)
print(f"{100 * worst:.1f}")
PY
) 2>"$log_dir/arrival_check" || fail "checking the arrival rate: $(cat "$log_dir/arrival_check")"
jq -e -n --argjson off "$arrival_check" '$off <= 15' >/dev/null || {
  cat "$log_dir/arrival_check" >&2
  offered_load >&2
  fail "measured arrival rate $arrival_min..$arrival_max records/s: $arrival_check % off what the broker appended (bound 15 %)"
}
expected_lo=$(jq -n --argjson r "$rate_max" --argjson t "$rate" '($t / $r) | ceil')
expected_hi=$(jq -n --argjson r "$rate_min" --argjson t "$rate" '($t / $r) | ceil')
((replicas_min >= 1 && replicas_max < partitions)) || fail "settled replicas $replicas_min..$replicas_max"
echo "[figure] rate settle: settled $settled_at s after waking (bound 210 s), held $window s"
echo "[figure] rate settle: perReplicaRate $rate_min..$rate_max records/s (bound 250..$capacity), arrivalRate $arrival_min..$arrival_max, at most $arrival_check % off the broker's appends (bound 15 %)"
echo "[figure] rate settle: desiredReplicas $replicas_min..$replicas_max, ceil($rate / perReplicaRate) $expected_lo..$expected_hi (bound ± 1, below the $partitions-partition cap)"
echo "PASS"
