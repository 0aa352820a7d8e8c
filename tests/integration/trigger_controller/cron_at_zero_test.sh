# Cron fires at zero replicas, on the real apiserver + KWOK: a Function idling
# at 0 with a daily cron Trigger for a minute soon to come. At that minute the autoscaler's cron
# floor creates a replica pod, the test stands a real `sluice-runtime` in for it
# (bound to the pod's loopback IP, with the Function's rendered configuration
# from its ConfigMap), and the operator's CronFirer POSTs the tick to its
# /invoke. The handler's record lands in a directory sink: exactly one record
# for the firing, carrying the payload; status.lastFireTime is that minute and
# a Fired Event names the pod. Once the tick is delivered the cron floor ends
# and, after the cooldown, the Function is back at zero pods with still
# exactly one record.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace cron
replica_pods() {
  k get pods -l sluice.io/function=report -o json |
    jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name'
}
replica_count_is() { [[ $(replica_pods | grep -c .) -eq $1 ]]; }
ready_replica() {
  k get pods -l sluice.io/function=report -o json |
    jq -e -r '[.items[] | select(.metadata.deletionTimestamp == null and .status.podIP != null and
       any(.status.conditions[]?; .type == "Ready" and .status == "True"))][0].metadata.name // empty' | grep .
}
records() { cat "$work/out"/* 2>/dev/null | grep -c . || true; }
records_are() { [[ $(records) -eq $1 ]]; }

# A daily schedule for a minute soon to come (at least 20 s away, so the
# Trigger exists before it): no firing before it opens a replica floor, and
# none after it keeps one open.
at=$(next_cron_minute 20)
schedule=$(daily_cron_schedule "$at")

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
mkdir -p "$work/out"
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test --invoke-key-dir "$(invoke_key_dir)" >"$work/operator.log" 2>&1 &
pids+=($!)
k apply -f - >/dev/null <<YAML
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
  scaling: {minReplicas: 0, cooldownSeconds: 5}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: nightly}
spec:
  functionRef: {name: report}
  cron: {schedule: "$schedule", payload: "build the report"}
YAML

at=$(rearm_late_cron nightly "$at")
schedule=$(daily_cron_schedule "$at")
replica_count_is 0 || fail "replicas exist before the first firing"
# The next minute's firing wakes a replica (up to 60 s away, plus the pod's start).
poll 150 ready_replica >/dev/null
pod=$(ready_replica)
woke=$(date -u +%H:%M:%S)
ip=$(k get pod "$pod" -o jsonpath='{.status.podIP}')
[[ $ip == 127.* ]] || fail "pod $pod has IP $ip, not on this machine"
k get secret sluice-control-token -o jsonpath='{.data.token}' | base64 -d >"$work/token"
k get configmap report-sluice-config -o json |
  jq '.data as $d | ($d["function.json"] | fromjson) + {codeFiles: {"index.py": $d["code.py"]}}' >"$work/function.json"
SLUICE_INVOKE_TOKEN=$(k get secret sluice-control-token -o jsonpath='{.data.invoke}' | base64 -d) \
  "$SLUICE_BUILD_DIR/sluice-runtime" --config "$work/function.json" --control-bind-address "$ip:8090" \
  --data-bind-address "$ip:8080" --specialize-token-file "$work/token" >"$work/runtime.log" 2>&1 &
pids+=($!)
echo "[step] replica $pod woke at $woke for the firing; its runtime stands in on $ip"

poll 90 records_are 1
line=$(cat "$work/out"/*)
[[ $(jq -r .payload <<<"$line") == "build the report" ]] || fail "the tick's record is $line"
[[ $(jq -r .trigger <<<"$line") == nightly ]] || fail "the tick's record names trigger $(jq -r .trigger <<<"$line")"
fire_time() { k get trg nightly -o jsonpath='{.status.lastFireTime}'; }
has_fire_time() { [[ -n $(fire_time) ]]; }
poll 30 has_fire_time
fired=$(fire_time)
[[ $fired =~ ^[0-9-]+T[0-9]{2}:[0-9]{2}:00Z$ ]] || fail "status.lastFireTime is \"$fired\", not a whole minute"
poll 30 bash -c "$KUBECTL -n $ns get events --field-selector involvedObject.kind=Trigger,involvedObject.name=nightly \
  -o jsonpath='{.items[*].message}' | grep -q 'delivered the firing of $fired to pod $pod'"
echo "[figure] cron at zero: firing $fired delivered through replica $pod (woke $woke)"

# The delivery ends the floor; after the 5 s cooldown: back to zero pods.
poll 150 replica_count_is 0
echo "[figure] cron at zero: back at zero pods $(($(date -u +%s) - at)) s after the firing's minute began"
records_are 1 || fail "$(records) records for one firing"
[[ $fired == $(date -u -d "@$at" +%Y-%m-%dT%H:%M:00Z) ]] || fail "fired for $fired, scheduled for $schedule"
echo "PASS"
