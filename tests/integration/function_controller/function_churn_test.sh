# Never a surplus pod under churn: sluice-operator (4 workers) against the real
# apiserver, scheduler and KWOK nodes scales one Function 0 -> 20 -> 0 for
# CYCLES cycles (kubectl scale: spec.replicas pins the count) while two load
# generators keep changing Triggers: creating, changing and deleting those of
# another Function, and relabelling this one's (each requeues it). In one
# cycle the operator is SIGKILLed mid-scale and a successor finishes the job. A watch taken from before the first
# scale-up records every pod that ever exists, terminating ones included;
# replayed, it must show at most 20 pods at any moment and exactly 20 distinct
# pods per cycle: none made twice, none made and removed again.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

cycles=${SLUICE_CHURN_CYCLES:-50}
kill_cycle=$((cycles / 2))
replicas=20
own_namespace fnchurn
operator_pid=""
stop_operator() {
  if [[ -n $operator_pid ]]; then
    kill -9 "$operator_pid" 2>/dev/null || true
    wait "$operator_pid" 2>/dev/null || true
  fi
  operator_pid=""
}
trap 'rc=$?; ((rc == 0)) || { tail -n 40 "$work"/operator-*.log >&2; [[ -n ${SLUICE_KEEP_LOGS:-} ]] && cp -r "$work" "$SLUICE_KEEP_LOGS"; }; stop_operator; _own_namespace_cleanup' EXIT

# start_operator LOG
start_operator() {
  "$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" --workers 4 \
    --runtime-image sluice/runtime-python:test >>"$work/$1" 2>&1 &
  operator_pid=$!
}
all_count() { k get pods -l sluice.io/function=echo --no-headers 2>/dev/null | grep -c . || true; }
live_count() {
  k get pods -l sluice.io/function=echo -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'
}
count_is() { [[ $(live_count) -eq $1 ]]; }
none_left() { [[ $(all_count) -eq 0 ]]; }

# trigger_yaml NAME FUNCTION PAYLOAD: a cron Trigger that will not fire during the test.
trigger_yaml() {
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $1}
spec:
  functionRef: {name: $2}
  cron: {schedule: "0 3 * * *", payload: "$3"}
YAML
}
# churn GENERATOR, in a loop until $work/stop exists. "specs": Triggers of Function
# "other" made, changed and deleted (each a reconcile of it, in the same queues as
# echo's). "labels": echo's own two Triggers relabelled (each requeues echo without
# changing what its pods run: a change of their spec would roll the pods, by design).
churn() {
  local i=0
  until [[ -e $work/stop ]]; do
    if [[ $1 == labels ]]; then
      k label trigger "echo-$((i % 2))" "churn=$i" --overwrite >/dev/null 2>&1 || true
    elif ((i % 3 == 2)); then
      k delete trigger "other-$((i % 4))" --wait=false >/dev/null 2>&1 || true
    else
      trigger_yaml "other-$((i % 4))" other "churn $i" | k apply -f - >/dev/null 2>&1 || true
    fi
    i=$((i + 1))
  done
  echo "$i" >"$work/churned-$1"
}

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_operator operator-1.log
echo_function_yaml echo | k apply -f - >/dev/null
echo_function_yaml other | k apply -f - >/dev/null
for t in echo-0 echo-1; do trigger_yaml "$t" echo "tick" | k apply -f - >/dev/null; done
k scale fn/echo --replicas=0 >/dev/null
poll 120 none_left

# The server's own list version (kubectl get -o json makes a List of its own, without one).
rv=$("$KUBECTL" get --raw "/api/v1/namespaces/$ns/pods?labelSelector=sluice.io%2Ffunction%3Decho" | jq -r .metadata.resourceVersion)
"$KUBECTL" get --raw "/api/v1/namespaces/$ns/pods?watch=true&labelSelector=sluice.io%2Ffunction%3Decho&resourceVersion=$rv" \
  >"$work/pod-events" 2>/dev/null &
pids+=($!)
churn specs &
pids+=($!)
churn labels &
pids+=($!)

for ((cycle = 1; cycle <= cycles; cycle++)); do
  if ((cycle == kill_cycle)); then
    # The kill lands mid-scale by construction: a ResourceQuota lets the operator make 8 pods (it
    # keeps retrying the rest); it is killed once those exist and the quota goes before its successor starts.
    k create quota scale-gate --hard=pods=8 >/dev/null
    poll 60 bash -c "[[ \$($KUBECTL -n $ns get quota scale-gate -o jsonpath='{.status.hard.pods}') == 8 ]]"
    k scale fn/echo --replicas=$replicas >/dev/null
    poll 120 bash -c "[[ \$($KUBECTL -n $ns get pods -l sluice.io/function=echo --no-headers 2>/dev/null | grep -c .) == 8 ]]"
    stop_operator
    killed_at=$(all_count)
    k delete quota scale-gate >/dev/null
    start_operator operator-2.log
    echo "[step] cycle $cycle: operator SIGKILLed with $killed_at of $replicas pods made; a successor started"
  else
    k scale fn/echo --replicas=$replicas >/dev/null
  fi
  poll 120 count_is $replicas
  k scale fn/echo --replicas=0 >/dev/null
  poll 120 none_left
done
touch "$work/stop"
wait "${pids[1]}" "${pids[2]}"
sleep 2 # the watch's last DELETED events
kill "${pids[0]}" 2>/dev/null || true

# Replay the watch: pods alive at once (terminating included, until DELETED) and distinct pods.
read -r peak distinct < <(jq -rR 'fromjson? | select(.type == "ADDED" or .type == "MODIFIED" or .type == "DELETED")
  | .type + " " + .object.metadata.uid' "$work/pod-events" | awk '
  $1 == "DELETED" { if ($2 in live) { delete live[$2]; n-- }; gone[$2] = 1; next }
  !($2 in live) && !($2 in gone) { live[$2] = 1; seen[$2] = 1; n++; if (n > peak) peak = n }
  END { d = 0; for (u in seen) d++; print peak + 0, d }')
churned=$(($(cat "$work/churned-specs") + $(cat "$work/churned-labels")))
echo "[figure] $cycles cycles 0->$replicas->0 under $churned Trigger changes: $distinct pods made, at most $peak at once"
((peak == replicas)) || fail "$peak pods existed at once (limit $replicas)"
((distinct == cycles * replicas)) || fail "$distinct pods were made in $cycles cycles of $replicas: a surplus or a replacement"
((churned >= cycles)) || fail "the load generators made only $churned Trigger changes"
echo "PASS"
