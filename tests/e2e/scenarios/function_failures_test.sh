# Pod failures reach the Function, on real pods (issue 16): a Function whose handler cannot be
# loaded (its module has no such function) crash-loops on the real node, and `kubectl wait
# --for=condition=Ready` on it times out while its Ready condition carries the kubelet's reason
# (CrashLoopBackOff) and the runtime's termination message (the load error), with a Warning Event
# of the same reason; a healthy Function beside it passes the same `kubectl wait`.
source "$(dirname "$0")/../lib.sh"
e2e_work
good=healthy-$RANDOM
bad=broken-$RANDOM
e2e_cleanup() { k delete fn "$good" "$bad" --ignore-not-found --wait=false >/dev/null 2>&1; }

# one_replica_function NAME [HANDLER]: the echo Function pinned at one replica.
one_replica_function() {
  echo "---"
  echo_function_yaml "$@"
  echo "  scaling: {minReplicas: 1, maxReplicas: 1}"
}
{
  one_replica_function "$good"
  one_replica_function "$bad" index.no_such_handler
} | k apply -f - >/dev/null

k wait --for=condition=Ready "fn/$good" --timeout=180s >/dev/null ||
  fail "the healthy Function is not Ready: $(k get fn "$good" -o jsonpath='{.status.conditions}')"
on_real_node "$good"
echo "[step] kubectl wait --for=condition=Ready fn/$good succeeded"

ready_reason() { k get fn "$bad" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'; }
crash_looping() { [[ $(ready_reason) == CrashLoopBackOff ]]; }
poll 180 crash_looping
if k wait --for=condition=Ready "fn/$bad" --timeout=5s >/dev/null 2>&1; then
  fail "kubectl wait --for=condition=Ready succeeded on a crash-looping Function"
fi
message=$(k get fn "$bad" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
[[ $message == *'module "index" has no function "no_such_handler"'* ]] ||
  fail "the Ready message lacks the runtime's termination message: $message"
[[ $(condition fn "$bad" Degraded) == True ]] || fail "the broken Function is not Degraded"
events=$(k get events --field-selector "involvedObject.kind=Function,involvedObject.name=$bad,reason=CrashLoopBackOff" \
  -o jsonpath='{range .items[*]}{.type} {.message}{"\n"}{end}')
[[ $events == Warning*no_such_handler* ]] || fail "no Warning Event CrashLoopBackOff on the Function: '$events'"
echo "[step] Ready=False CrashLoopBackOff: $message"
echo "PASS: kubectl wait passes for a healthy Function and shows why a crash-looping one is not Ready"
