# The whole operator through apiserver faults, against a private kube-apiserver
# on the shared etcd (tests/env/kube-private.sh; no watch cache, so a watch from
# a compacted resourceVersion gets 410 Gone as it would from etcd):
#   1. its watches cut (ss -K on its connections) and the Function scaled 10 -> 12;
#   2. that apiserver SIGKILLed; meanwhile, through the shared apiserver, the
#      Function scaled to 15 and 3 of its pods deleted, and etcd compacted past
#      every resourceVersion the operator has seen; the apiserver restarted:
#      the operator's watches resume with 410 Gone and it relists.
# After each it must converge (12, then 15 live pods), and a watch on the shared
# apiserver from before the first fault records every pod that ever exists:
# never more than the desired count at once, and exactly 10 + 2 + 3 + 3 pods
# made in all (none made twice).
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR ETCD_ENDPOINT

own_namespace apifaults
private=$(unique_name faults | tr -cd 'a-z0-9-')
private_kubeconfig=""
operator_pid=""
trap 'rc=$?; ((rc == 0)) || { tail -n 40 "$work/operator.log" >&2; [[ -n ${SLUICE_KEEP_LOGS:-} ]] && cp -r "$work" "$SLUICE_KEEP_LOGS"; }; [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null;
  "$SLUICE_SOURCE_DIR/tests/env/kube-private.sh" stop "$private" >/dev/null 2>&1; _own_namespace_cleanup' EXIT

live_count() {
  k get pods -l sluice.io/function=echo -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'
}
count_is() { [[ $(live_count) -eq $1 ]]; }
private_port() { sed -n 's|^export KUBE_PRIVATE_URL=https://127.0.0.1:||p' <<<"$1"; }

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
started=$("$SLUICE_SOURCE_DIR/tests/env/kube-private.sh" start "$private" --watch-cache=false)
private_kubeconfig=$(sed -n 's/^export KUBECONFIG=//p' <<<"$started")
port=$(private_port "$started")
[[ -n $private_kubeconfig && -n $port ]] || fail "kube-private.sh printed no KUBECONFIG or port: $started"
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$private_kubeconfig" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test >>"$work/operator.log" 2>&1 &
operator_pid=$!
echo_function_yaml echo | k apply -f - >/dev/null
k scale fn/echo --replicas=10 >/dev/null
poll 120 count_is 10

# The server's own list (kubectl get -o json makes a List of its own, without a resourceVersion).
"$KUBECTL" get --raw "/api/v1/namespaces/$ns/pods?labelSelector=sluice.io%2Ffunction%3Decho" >"$work/pods-before"
rv=$(jq -r .metadata.resourceVersion "$work/pods-before")
[[ -n $rv && $rv != null ]] || fail "no resourceVersion in the pod list"
"$KUBECTL" get --raw "/api/v1/namespaces/$ns/pods?watch=true&labelSelector=sluice.io%2Ffunction%3Decho&resourceVersion=$rv" \
  >"$work/pod-events" 2>/dev/null &
pids+=($!)

# 1. Cut watches: every TCP connection of the operator to its apiserver destroyed without a close.
cut=$(ss -K -t -n -p dst "127.0.0.1:$port" 2>/dev/null | grep -c "pid=$operator_pid," || true)
((cut >= 1)) || fail "no connection of the operator to 127.0.0.1:$port was cut"
k scale fn/echo --replicas=12 >/dev/null
poll 120 count_is 12
echo "[step] $cut connections cut: converged to 12 pods"

# 2. The apiserver gone while the world changes, etcd compacted, the apiserver back.
"$SLUICE_SOURCE_DIR/tests/env/kube-private.sh" kill "$private" >/dev/null
k scale fn/echo --replicas=15 >/dev/null
mapfile -t victims < <(k get pods -l sluice.io/function=echo -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sed -n 1,3p)
k delete pod "${victims[@]}" --wait=false >/dev/null
revision=$(curl -fsS -X POST "$ETCD_ENDPOINT/v3/kv/range" -d '{"key":"AA==","limit":1}' | jq -r .header.revision)
curl -fsS -X POST "$ETCD_ENDPOINT/v3/kv/compaction" -d "{\"revision\":\"$revision\",\"physical\":true}" >/dev/null ||
  fail "etcd compaction at $revision failed"
"$SLUICE_SOURCE_DIR/tests/env/kube-private.sh" restart "$private" >/dev/null
poll 180 count_is 15
for v in "${victims[@]}"; do
  poll 120 bash -c "! $KUBECTL -n $ns get pods -o json | jq -e --arg n $v '.items[] | select(.metadata.name == \$n and .metadata.deletionTimestamp != null)' >/dev/null"
done
poll 60 count_is 15
gone=$(grep -c "is too old, relisting" "$work/operator.log" || true)
((gone >= 1)) || fail "the operator's log shows no relist after 410 Gone"
echo "[step] apiserver killed, 3 pods deleted, scaled to 15, etcd compacted at $revision, apiserver back: converged to 15 pods"
sleep 3
count_is 15 || fail "did not stay at 15 pods: $(live_count)"
kill "${pids[0]}" 2>/dev/null || true

# Replay: the pods listed before the watch, then every event; a pod stops counting once it is
# being deleted. `made`: pods the watch saw created.
read -r peak made < <({
  jq -r '.items[] | select(.metadata.deletionTimestamp == null) | "LISTED " + .metadata.uid + " live"' "$work/pods-before"
  jq -rR 'fromjson? | select(.type == "ADDED" or .type == "MODIFIED" or .type == "DELETED")
    | .type + " " + .object.metadata.uid + " " + (if .object.metadata.deletionTimestamp then "dying" else "live" end)' \
    "$work/pod-events"
} | awk '
  $1 == "DELETED" || $3 == "dying" { if ($2 in live) { delete live[$2]; n-- }; gone[$2] = 1; next }
  $1 == "ADDED" && !($2 in added) { added[$2] = 1; made++ }
  !($2 in live) && !($2 in gone) { live[$2] = 1; n++; if (n > peak) peak = n }
  END { print peak + 0, made + 0 }')
echo "[figure] through a cut watch and an apiserver restart with a 410: $made pods made after the first 10, at most $peak live at once"
((peak <= 15)) || fail "$peak live pods at once (desired at most 15)"
((made == 2 + 3 + 3)) || fail "$made pods made after the first 10, not 8 (2 to scale to 12, 3 to 15, 3 replacements)"
echo "PASS"
