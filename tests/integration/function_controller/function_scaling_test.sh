# FunctionController against the real apiserver, scheduler, controller-manager
# (garbage collector) and KWOK nodes: sluice-operator manages one namespace;
# the test plays the autoscaler by writing status.desiredReplicas and checks
# exact pod counts at every step, that no extra pod ever exists (sampled while
# scaling up; across an operator SIGKILL a watch records every pod that ever
# exists), that status follows the pods, replacement of a deleted pod,
# `kubectl scale` pinning, status columns, Events and garbage collection.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

ns=$(unique_name fnscale)
log_dir=$(mktemp -d)
operator_pid=""
watch_pid=""
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    echo "--- operator log (last 60 lines) ---" >&2
    tail -n 60 "$log_dir"/operator-*.log >&2 || true
    "$KUBECTL" -n "$ns" get pods -o wide >&2 || true
  fi
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  [[ -n $watch_pid ]] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$log_dir"
}
trap cleanup EXIT
k() { "$KUBECTL" -n "$ns" "$@"; }

# start_operator LOG
start_operator() {
  "$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
    --runtime-image sluice/runtime-python:test >>"$log_dir/$1" 2>&1 &
  operator_pid=$!
}
set_desired() { k patch fn echo --subresource=status --type=merge -p "{\"status\":{\"desiredReplicas\":$1}}" >/dev/null; }
# Pods of the Function that are not being deleted.
live_pods() { k get pods -l sluice.io/function=echo -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name'; }
live_count() { live_pods | grep -c . || true; }
all_count() { k get pods -l sluice.io/function=echo --no-headers 2>/dev/null | grep -c . || true; }
count_is() { [[ $(live_count) -eq $1 ]]; }
none_left() { [[ $(all_count) -eq 0 ]]; }
ready_is() { [[ $(k get fn echo -o jsonpath='{.status.readyReplicas}') == "$1" ]]; }
# status_wait CMD...: the Function's status must follow its pods; on timeout the status is shown.
status_wait() {
  local deadline=$((SECONDS + 120))
  until "$@"; do
    ((SECONDS < deadline)) || fail "status did not follow the pods within 120 s ($*): $(k get fn echo -o jsonpath='{.status}')"
    sleep 0.5
  done
}
# Samples the number of pods (terminating included) for SECONDS and prints the maximum.
max_pods_during() {
  local until=$((SECONDS + $1)) max=0 n
  while ((SECONDS < until)); do
    n=$(all_count)
    ((n > max)) && max=$n
    sleep 0.2
  done
  echo "$max"
}

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_operator operator-1.log
echo_function_yaml echo | k apply -f - >/dev/null

# The rendered configuration is stored in a ConfigMap the Function owns.
poll 120 k get configmap echo-sluice-config -o name
[[ $(k get configmap echo-sluice-config -o jsonpath='{.data.code\.py}') == *"def main_handler"* ]] ||
  fail "inline code not in the ConfigMap"
k get configmap echo-sluice-config -o jsonpath='{.data.function\.json}' | jq -e '.handler == "index.main_handler"' >/dev/null ||
  fail "function.json is not the runtime configuration: $(k get configmap echo-sluice-config -o jsonpath='{.data.function\.json}' | head -c 300)"
poll 120 count_is 0

# 0 -> 5: exactly five, all Ready, and never a sixth.
set_desired 5
max=$(max_pods_during 8)
poll 120 count_is 5
status_wait ready_is 5
((max <= 5)) || fail "0->5 made a surplus pod: $max seen at once"
echo "[step] 0->5: 5 pods (max seen at once $max)"
sleep 3
count_is 5 || fail "0->5 did not stay at 5 pods: $(live_count)"

# Pod shape: owner reference, labels, hardened security context, probes.
pod=$(live_pods | sed -n 1p) # sed reads all: `head` could SIGPIPE the producer, which pipefail turns into a failure
pod_json=$(k get pod "$pod" -o json)
[[ $(jq -r '.metadata.ownerReferences[0].kind + "/" + .metadata.ownerReferences[0].name' <<<"$pod_json") == Function/echo ]] ||
  fail "pod $pod is not owned by Function/echo"
[[ $(jq -r '.spec.containers[0].image' <<<"$pod_json") == sluice/runtime-python:test ]] || fail "runtime image not used"
[[ $(jq -r '.spec.containers[0].securityContext.readOnlyRootFilesystem' <<<"$pod_json") == true ]] || fail "root fs writable"
[[ $(jq -r '.spec.securityContext.runAsNonRoot' <<<"$pod_json") == true ]] || fail "pod may run as root"
[[ $(jq -r '.spec.containers[0].readinessProbe.httpGet.path' <<<"$pod_json") == /readyz ]] || fail "no /readyz probe"

# 5 -> 2 -> 0.
set_desired 2
poll 120 count_is 2
echo "[step] 5->2: 2 pods"
set_desired 0
poll 120 count_is 0
echo "[step] 2->0: 0 pods"

# A deleted replica is replaced.
set_desired 3
poll 120 count_is 3
victim=$(live_pods | sed -n 1p)
victim_uid=$(k get pod "$victim" -o jsonpath='{.metadata.uid}')
live_uids() { k get pods -l sluice.io/function=echo -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.uid'; }
k delete pod "$victim" --wait=false >/dev/null
# By uid: the replacement may take the freed name (replicas are named by ordinal).
poll 120 bash -c "! $KUBECTL -n $ns get pods -o jsonpath='{.items[*].metadata.uid}' | grep -qw $victim_uid"
poll 120 count_is 3
grep -qx "$victim_uid" <<<"$(live_uids)" && fail "deleted pod $victim still counted"
echo "[step] deleted pod replaced: 3 pods"

# Status columns and Events.
columns=$(k get fn echo)
[[ $columns == *DESIRED*READY*WARM*TRIGGERS*STATUS* ]] || fail "columns missing: $columns"
status_wait bash -c "$KUBECTL -n $ns get fn echo | grep -q AllReplicasReady"
[[ $(k get fn echo -o jsonpath='{.status.selector}') == sluice.io/function=echo ]] || fail "status.selector not set"
[[ $(k get fn echo -o jsonpath='{.status.conditions[?(@.type=="Active")].status}') == True ]] || fail "Active not True"
reasons=$(k get events --field-selector involvedObject.kind=Function,involvedObject.name=echo -o jsonpath='{.items[*].reason}')
[[ $reasons == *ScaledUp* && $reasons == *ScaledDown* ]] || fail "scale Events missing: $reasons"

# kubectl scale pins the count; the autoscaler's number is ignored while pinned.
k scale fn/echo --replicas=4 >/dev/null
poll 120 count_is 4
set_desired 1
sleep 3
count_is 4 || fail "spec.replicas=4 did not pin the count: $(live_count) pods"
k patch fn echo --type=json -p '[{"op":"remove","path":"/spec/replicas"}]' >/dev/null
poll 120 count_is 1
echo "[step] scale --replicas=4 pinned 4; unpinned -> 1"

# Operator killed mid-scale converges with no extras. Every pod that ever exists from the scale-up on
# is recorded by a watch (uid, name), so a surplus pod that lived only for a moment still counts.
set_desired 0
poll 120 count_is 0
poll 120 none_left # terminating ones too: they would hold names and count as pods below
# Watched from the resourceVersion of a list taken before the scale-up, so the watch misses nothing
# however late it is established.
rv=$(k get pods -l sluice.io/function=echo -o jsonpath='{.metadata.resourceVersion}')
"$KUBECTL" get --raw "/api/v1/namespaces/$ns/pods?watch=true&labelSelector=sluice.io%2Ffunction%3Decho&resourceVersion=$rv" \
  >"$log_dir/pod-events" 2>/dev/null &
watch_pid=$!
# The kill is arranged to land mid-scale rather than hoped for: a ResourceQuota lets the first operator
# make 8 of the 20 pods (it keeps retrying the rest), it is killed once those 8 exist, and the quota
# goes before its successor starts.
k create quota scale-gate --hard=pods=8 >/dev/null
poll 60 bash -c "[[ \$($KUBECTL -n $ns get quota scale-gate -o jsonpath='{.status.hard.pods}') == 8 ]]"
set_desired 20
poll 120 bash -c "[[ \$($KUBECTL -n $ns get pods -l sluice.io/function=echo --no-headers 2>/dev/null | grep -c .) == 8 ]]"
kill -9 "$operator_pid"
wait "$operator_pid" 2>/dev/null || true
operator_pid=""
k delete quota scale-gate >/dev/null
before=$(all_count)
((before == 8)) || fail "the quota let $before pods through, not 8"
start_operator operator-2.log
poll 120 count_is 20
max=$(max_pods_during 3)
count_is 20 || fail "not 20 pods after restart"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=""
pods_seen=$(jq -rR 'fromjson? | select(.type == "ADDED" or .type == "MODIFIED" or .type == "DELETED") | .object.metadata.uid + " " + .object.metadata.name' "$log_dir/pod-events" | sort -u)
seen=$(grep -c . <<<"$pods_seen" || true)
created=$(grep -c "created pod" "$log_dir/operator-2.log" || true)
deleted=$(grep -c "deleted pod" "$log_dir/operator-2.log" || true)
existing=$(grep -c "exists already" "$log_dir/operator-2.log" || true)
successor_log() { grep -E "pods read|created pod|deleted pod|exists already|taken" "$log_dir/operator-2.log" | head -40; }
# Exactly 20 pods ever existed: none made twice, none made and removed again. A create the killed
# operator had in flight lands under the name its successor also wants, so one of the two fails.
((seen == 20 && max == 20 && deleted == 0)) ||
  fail "operator restart made a surplus: $seen pods existed (max $max at once), the successor deleted $deleted; pods: $(tr '\n' ' ' <<<"$pods_seen"); its log: $(successor_log)"
((created <= 20 - before)) || fail "the successor created $created pods with $before already there; its log: $(successor_log)"
[[ $(k get pods -l sluice.io/function=echo -o jsonpath='{.items[*].metadata.labels.sluice\.io/template-hash}' | tr ' ' '\n' | sort -u | grep -c .) == 1 ]] ||
  fail "the successor rolled the pods: more than one template hash"
echo "[figure] restarted operator: $before pods there after the kill, $created created, $existing found existing, $deleted deleted"
grep -E "pods read|exists already" "$log_dir/operator-2.log" | sed 's/^/[successor] /' || true
echo "[step] SIGKILL of the operator with $before of 20 pods created: converged to 20, $seen pods ever existed (max $max at once)"

# Deleting the Function garbage-collects its pods and ConfigMap.
k delete fn echo --wait=false >/dev/null
poll 120 count_is 0
poll 120 bash -c "! $KUBECTL -n $ns get configmap echo-sluice-config -o name 2>/dev/null | grep -q ."
echo "[step] Function deleted: pods and ConfigMap collected"
echo "PASS"
