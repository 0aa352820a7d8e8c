# Autoscaler loop against real RabbitMQ (management API) and the real
# apiserver + KWOK: a Function (min 0, max 6, cooldown 5 s) with a RabbitMQ
# Trigger (queueLength 20) whose connection Secret holds the AMQP and
# management URLs. Idle: 0. 100 messages published: desiredReplicas 5 and
# 5 Ready pods. Queue purged: back to 0 after cooldown, pods gone.
# Prints [figure] the activation delay from the first publish to the decision
# (the AMQP passive declare sees messages before the management API's
# statistics refresh does).
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG RABBITMQ_AMQP_URL RABBITMQ_HTTP_URL SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
ns=$(unique_name autoscale-rabbit)
source "$(dirname "$0")/autoscale_lib.sh"
queue="$ns-jobs"
extra_cleanup() { curl -sf -X DELETE "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" >/dev/null 2>&1; }
queue_depth() { curl -sf "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" | jq -r '.messages // "none"'; }

amqp-declare-queue --url "$RABBITMQ_AMQP_URL" --durable -q "$queue" >/dev/null || fail "declaring queue $queue"
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
k create secret generic rabbit --from-literal=url="$RABBITMQ_AMQP_URL" \
  --from-literal=managementUrl="$RABBITMQ_HTTP_URL" >/dev/null
k label secret rabbit sluice.io/scaler-access=true >/dev/null  # the scaler reads the queue depth with it
start_operator
k apply -f - >/dev/null <<YAML
$(scaled_function_yaml jobs)
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: jobs-rabbit}
spec:
  functionRef: {name: jobs}
  rabbitmq:
    connectionSecretRef: {name: rabbit}
    queue: "$queue"
    queueLength: 20
YAML

(poll 60 metric_value_is jobs 0) ||
  fail_with_log "the autoscaler never measured the idle queue: $(k get fn jobs -o jsonpath='{.status}') / Trigger $(k get trigger jobs-rabbit -o jsonpath='{.status}')"
desired_is jobs 0 || fail_with_log "idle Function: desiredReplicas $(desired jobs), expected 0"
(poll 30 trigger_status_is jobs-rabbit "0/false") ||
  fail "Trigger status while idle: $(k get trigger jobs-rabbit -o jsonpath='{.status}')"
echo "[step] idle: desiredReplicas 0, depth 0 measured"

published_ms=$(date +%s%3N)
for i in $(seq 1 100); do
  amqp-publish --url "$RABBITMQ_AMQP_URL" -r "$queue" -p -b "job-$i" || fail "publishing message $i"
done
(poll 120 desired_above_zero jobs) || fail_with_log "desiredReplicas never went above 0 (depth $(queue_depth))"
decided_ms=$(log_time_ms "desired replicas 0 -> ") || fail "no scale-up line in the operator log"
echo "[figure] rabbitmq activation: $((decided_ms - published_ms)) ms from the first publish to desiredReplicas > 0"
# 100 messages at 20 per replica.
(poll 60 desired_is jobs 5) || fail_with_log "desiredReplicas $(desired jobs) with 100 messages; expected 5 (depth $(queue_depth))"
(poll 60 ready_are jobs 5) || fail "Ready pods: $(ready_count jobs), expected 5"
# desiredReplicas 5 may come from a reading taken mid-publish (93 of 100 rounds up to 5 too):
# the Trigger shows 100 from the next round on.
(poll 30 trigger_status_is jobs-rabbit "100/true") ||
  fail "Trigger status with 100 messages: $(k get trigger jobs-rabbit -o jsonpath='{.status}')"
echo "[step] 100 messages: desiredReplicas 5, 5 pods Ready"

curl -sf -X DELETE "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue/contents" >/dev/null || fail "purging $queue"
drained=$SECONDS
(poll 240 desired_is jobs 0) || fail_with_log "desiredReplicas $(desired jobs) 240 s after the purge; expected 0"
echo "[figure] rabbitmq drain to zero: $((SECONDS - drained)) s (the burst hold ends 60 s after the last spike, then cooldown 5 s)"
(poll 90 pods_are jobs 0) || fail "pods left after scaling to 0: $(live_count jobs)"
(poll 30 event_reason_seen jobs "*CooldownElapsed*") || fail "no CooldownElapsed Event: $(event_reasons jobs)"
echo "PASS"
