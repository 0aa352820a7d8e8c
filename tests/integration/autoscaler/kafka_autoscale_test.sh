# Autoscaler loop against real Kafka and the real apiserver + KWOK: a Function
# (min 0, max 6, cooldown 5 s) with a Kafka Trigger on a fresh 6-partition
# topic whose consumer group nothing consumes.
#   idle: desiredReplicas 0, no pods, status.metrics and the Trigger's status written;
#   burst of 200 records: desiredReplicas goes above 0, never above 6 (the
#   partition count caps the lag), pods appear and become Ready;
#   group committed to the end: desiredReplicas back to 0 after cooldown, pods gone.
# Prints [figure] the activation delay from the first record's timestamp to the
# operator's decision, and the time from drain to 0.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG KAFKA_BOOTSTRAP KAFKA_TOPICS KAFKA_CONSUMER_GROUPS SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
ns=$(unique_name autoscale-kafka)
source "$(dirname "$0")/autoscale_lib.sh"
topic="$ns-in"
group="$ns-group"
extra_cleanup() { "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$topic" >/dev/null 2>&1; }

"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" --partitions 6 \
  --replication-factor 1 >"$log_dir/topic.log" 2>&1 || fail "creating topic $topic: $(cat "$log_dir/topic.log")"
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_operator
k apply -f - >/dev/null <<YAML
$(scaled_function_yaml orders)
---
$(kafka_trigger_yaml orders-kafka orders "lagThreshold: 10")
YAML

# Idle: measured (lag 0 on every partition), nothing requested.
(poll 60 metric_value_is orders 0) ||
  fail_with_log "the autoscaler never measured the idle Trigger: $(k get fn orders -o jsonpath='{.status}')"
desired_is orders 0 || fail_with_log "idle Function: desiredReplicas $(desired orders), expected 0"
# The measured arrival rate and the rule join the entry from the second reading on (no consumer
# commits here, so no per-replica rate is measured and the backlog rule decides).
metric=$(k get fn orders -o json | jq -c '.status.metrics[0] | del(.arrivalRate, .rule)')
[[ $metric == '{"desiredReplicas":0,"target":"10","trigger":"orders-kafka","value":"0"}' ]] ||
  fail "status.metrics[0] of the idle Function: $metric"
(poll 30 trigger_status_is orders-kafka "0/false") ||
  fail "Trigger status while idle: $(k get trigger orders-kafka -o jsonpath='{.status}')"
holds 3 desired_is orders 0 || fail_with_log "desiredReplicas left 0 with no records: $(desired orders)"
holds 1 pods_are orders 0 || fail "pods exist with no records: $(live_count orders)"
echo "[step] idle: desiredReplicas 0, lag 0 measured, no pods"

# Burst: 200 records spread over the partitions (no key: librdkafka picks partitions at random).
seq -f "order-%04g" 1 200 | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -X acks=all ||
  fail "producing to $topic"
# Sample desiredReplicas while scaling up: never above maxReplicas (and the 6 partitions).
max_seen=0
deadline=$((SECONDS + 120))
until desired_above_zero orders; do
  ((SECONDS < deadline)) || fail_with_log "desiredReplicas never went above 0 after the burst"
  sleep 0.1
done
# 200 records over 6 partitions at 10 per replica: the lag is capped at 6 x 10 = 60, i.e. 6 replicas.
deadline=$((SECONDS + 60))
samples=0
while ((SECONDS < deadline)); do
  d=$(desired orders)
  ((d > max_seen)) && max_seen=$d
  [[ $d == 6 ]] && samples=$((samples + 1))
  ((samples >= 15)) && break # stays at 6 for a few seconds
  sleep 0.2
done
((max_seen >= 1 && max_seen <= 6)) || fail "desiredReplicas reached $max_seen; expected 1..6"
final=$(desired orders)
[[ $final == 6 ]] || fail_with_log "desiredReplicas $final after a 200-record burst; expected 6 (partition cap)"
(poll 60 pods_are orders 6) || fail "pods: $(live_count orders), expected 6"
(poll 60 ready_are orders 6) ||
  fail "not all 6 pods became Ready: $(ready_count orders)"
# 6 (the partition cap) may come from a reading taken mid-burst: the Trigger shows 60 a round later.
(poll 30 trigger_status_is orders-kafka "60/true") ||
  fail "Trigger status after the burst: $(k get trigger orders-kafka -o jsonpath='{.status}')"
[[ -n $(k get fn orders -o jsonpath='{.status.lastActiveTime}') ]] || fail "status.lastActiveTime not written"
(poll 30 event_reason_seen orders "*@(Burst|Activation)*") ||
  fail "no scale-up Event from the autoscaler: $(event_reasons orders)"
fn_label="function=\"$ns/orders\""
(poll 30 metric_sample_is "sluice_autoscaler_desired_replicas{$fn_label}" 6) ||
  fail "/metrics desired replicas: $(curl -sf "http://127.0.0.1:$metrics_port/metrics" | grep desired_replicas)"
(poll 30 metric_sample_is "sluice_autoscaler_scaler_value{$fn_label,scaler=\"orders-kafka\"}" 60) ||
  fail "/metrics scaler value: $(curl -sf "http://127.0.0.1:$metrics_port/metrics" | grep scaler_value)"
ups=$(curl -sf "http://127.0.0.1:$metrics_port/metrics" | grep -F "sluice_autoscaler_scale_decisions_total{direction=\"up\",$fn_label" | awk '{s += $NF} END {print s + 0}')
((ups >= 1)) || fail "/metrics has no scale-up decision"
reads=$(metric_sample "sluice_autoscaler_scaler_latency_seconds_count{$fn_label")
((reads > 1)) || fail "/metrics scaler latency count: $reads"
echo "[step] burst of 200: desiredReplicas $final (max seen $max_seen), 6 pods Ready, Trigger metric 60"

first_record_ms=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$topic" -o beginning -e -q -f '%T\n' | sort -n | sed -n 1p)
decided_ms=$(log_time_ms "desired replicas 0 -> ") || fail "no scale-up line in the operator log"
echo "[figure] kafka activation: $((decided_ms - first_record_ms)) ms from the first record's timestamp to desiredReplicas > 0"

# Drain: the group's offsets committed to the end, as a consumer would.
"$KAFKA_CONSUMER_GROUPS" --bootstrap-server "$KAFKA_BOOTSTRAP" --group "$group" --topic "$topic" \
  --reset-offsets --to-latest --execute >"$log_dir/reset.log" 2>&1 || fail "committing $group to the end: $(cat "$log_dir/reset.log")"
drained=$SECONDS
(poll 240 desired_is orders 0) || fail_with_log "desiredReplicas $(desired orders) 240 s after the drain; expected 0"
echo "[figure] kafka drain to zero: $((SECONDS - drained)) s (the burst hold ends 60 s after the last spike, then cooldown 5 s)"
(poll 90 pods_are orders 0) || fail "pods left after scaling to 0: $(live_count orders)"
(poll 30 event_reason_seen orders "*CooldownElapsed*") || fail "no CooldownElapsed Event: $(event_reasons orders)"
(poll 30 trigger_status_is orders-kafka "0/false") ||
  fail "Trigger status after the drain: $(k get trigger orders-kafka -o jsonpath='{.status}')"
echo "[step] drained: desiredReplicas 0, pods gone"
echo "PASS"
