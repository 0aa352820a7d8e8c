#!/usr/bin/env bash
# Cron under `sluice-operator --local`: a Function idling at zero processes with
# a daily cron Trigger for a minute soon to come. At that minute the
# autoscaler's cron floor starts a replica process, the CronFirer POSTs the tick
# to its /invoke on its control port, and the handler's record lands in a
# directory output: exactly one record for the firing, carrying the payload,
# and one Fired Event naming the firing's minute (status.lastFireTime in the
# local store keeps it from firing twice). Once the tick is delivered the cron
# floor ends and, after the 1 s cooldown, the Function is back at zero
# processes, well before the firing's minute is over, still with one record.
# Wall time: 4-64 s to the firing, then a few seconds.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR
source "$(dirname "$0")/local_lib.sh"
mkdir -p "$work/out"

# A daily schedule for the next minute at least 4 s away, so the Trigger is
# loaded before that minute begins (a late replica still gets the tick: the
# floor holds until it is delivered): nothing fires before it and nothing after it.
at=$(next_cron_minute 4)
schedule=$(daily_cron_schedule "$at")
cat >"$work/manifests/report.yaml" <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: report}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return {"trigger": context.trigger, "payload": event["data"]}
  outputs:
  - name: reports
    dir: {path: "$work/out"}
  scaling: {minReplicas: 0, cooldownSeconds: 1, pollingIntervalSeconds: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: nightly}
spec:
  functionRef: {name: report}
  cron: {schedule: "$schedule", payload: "build the report"}
YAML

start_local_operator
records() { cat "$work/out"/* 2>/dev/null | grep -c . || true; }
records_are() { [[ $(records) -eq $1 ]]; }
fired_lines() { grep -c "Trigger default/nightly: Fired: " "$work/operator.log" || true; }
metrics_up() { curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; }

poll 20 metrics_up
# Until the firing: zero replica processes.
while (($(date -u +%s) < at)); do
  n=$(replicas report)
  ((n == 0)) || fail "$n replica process(es) before the firing at $(date -u -d "@$at" +%H:%M:%S)"
  sleep 1
done
echo "[step] 0 replica processes until the firing at $(date -u -d "@$at" +%H:%M:%S)"

# The firing wakes one replica and its record arrives.
woke_or_recorded() {
  local n
  n=$(replicas report)
  ((n > peak)) && peak=$n
  records_are 1
}
poll 30 woke_or_recorded
fired_ms=$(($(date +%s%3N) - at * 1000))
line=$(cat "$work/out"/*)
[[ $(jq -r .payload <<<"$line") == "build the report" ]] || fail "the tick's record is $line"
[[ $(jq -r .trigger <<<"$line") == nightly ]] || fail "the tick's record names trigger $(jq -r .trigger <<<"$line")"
fired=$(date -u -d "@$at" +%Y-%m-%dT%H:%M:00Z)
fired_logged() { grep -q "Trigger default/nightly: Fired: delivered the firing of $fired to process " "$work/operator.log"; }
poll 10 fired_logged
echo "[figure] local cron: the record of the $fired firing arrived $fired_ms ms after the minute began"

# After the delivery and the cooldown: back to zero, no second tick.
poll 90 at_zero report
zero_ms=$(($(date +%s%3N) - at * 1000))
echo "[figure] local cron: back at zero replica processes $zero_ms ms after the minute began"
((peak == 1)) || fail "peak replica processes $peak, expected 1"
records_are 1 || fail "$(records) records for one firing"
[[ $(fired_lines) -eq 1 ]] || fail "$(fired_lines) Fired events for one firing"
echo "PASS: replicas 0 -> 1 -> 0 around the $fired firing; exactly one record"
