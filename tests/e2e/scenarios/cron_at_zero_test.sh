# Seed scenario 4 on real pods: cron fires at zero. A Python Function whose
# code comes from a ConfigMap idles at zero pods with a daily cron Trigger for
# a minute soon to come. At that minute the operator wakes a replica on the
# real node (adopted from its warm pool, whose pod already mounts the code
# ConfigMap) and delivers the tick; the handler's one record lands in Kafka,
# the Trigger's status.lastFireTime is that minute, and after the cooldown the
# Function is back at zero pods with still exactly one record.
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_POD_BOOTSTRAP
e2e_work
fn=report-$RANDOM
out=$(unique_name e2e-reports)
kafka_topic "$KAFKA_BOOTSTRAP" "$out" 1
e2e_cleanup() { k delete fn "$fn" trigger "$fn" configmap "$fn-code" --ignore-not-found --wait=false >/dev/null 2>&1; }
records() { kafka_values "$KAFKA_BOOTSTRAP" "$out" | grep -c . || true; }
records_are() { [[ $(records) -eq $1 ]]; }

at=$(next_cron_minute 25)
schedule=$(daily_cron_schedule "$at")
k create configmap "$fn-code" --from-literal=report.py='import json


def main_handler(event, context):
    return json.dumps({"trigger": context.trigger, "payload": event["data"]})
' >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $fn}
spec:
  runtime: python3.11
  handler: report.main_handler
  code: {configMapRef: {name: $fn-code}}
  outputs:
  - name: reports
    kafka: {bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"], topic: "$out"}
  scaling: {minReplicas: 0, maxReplicas: 1, cooldownSeconds: 5, warmPool: {size: 1}}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $fn}
spec:
  functionRef: {name: $fn}
  cron: {schedule: "$schedule", timezone: UTC, payload: "build the report"}
YAML
at=$(rearm_late_cron "$fn" "$at")
schedule=$(daily_cron_schedule "$at")
k wait --for=condition=Ready "fn/$fn" --timeout=60s >/dev/null || fail "Function $fn not Ready at zero"
replicas_are "$fn" 0 || fail "replicas exist before the first firing"
poll 60 warm_ready "$fn" 1
record_replicas "$fn" "$work/replicas"

poll 150 records_are 1
woke=$(awk '$3 > 0 { print $1; exit }' "$work/replicas")
echo "[figure] cron at zero: record out $(($(date +%s) - at)) s after the minute began (first Ready replica at +$((${woke:-at} - at)) s)"
line=$(kafka_values "$KAFKA_BOOTSTRAP" "$out")
[[ $(jq -r .payload <<<"$line") == "build the report" ]] || fail "the tick's record is $line"
[[ $(jq -r .trigger <<<"$line") == "$fn" ]] || fail "the tick's record names trigger $(jq -r .trigger <<<"$line")"
on_real_node "$fn"
assert_adopted "$fn"
fired() { k get trigger "$fn" -o jsonpath='{.status.lastFireTime}'; }
has_fired() { [[ -n $(fired) ]]; }
poll 30 has_fired
[[ $(fired) == $(date -u -d "@$at" +%Y-%m-%dT%H:%M:00Z) ]] || fail "fired for $(fired), scheduled for $schedule"
poll 150 replicas_are "$fn" 0
echo "[figure] cron at zero: back at zero pods $(($(date +%s) - at)) s after the minute began"
records_are 1 || fail "$(records) records for one firing"
echo "PASS: one firing at $(fired) woke a replica on $NODE_NAME, one record, back to zero"
