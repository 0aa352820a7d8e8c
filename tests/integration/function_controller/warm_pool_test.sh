# Warm pools on the real apiserver + KWOK: a Function with warmPool.size 2
# gets two generic runtime pods; the test stands a real `sluice-runtime --warm`
# in for each (bound to the pod's loopback IP, with the namespace's control
# token from its Secret), then scales 0 -> 1 and checks that the replica is an
# adopted warm pod (no new pod), that it was specialized over /specialize and
# runs the handler, and that the pool refills to 2. Then 1 -> 2: the next warm
# pod has no runtime behind it, so specialization fails and a fresh pod is
# created instead (AdoptionFailed Event).
# Tokens (issue 15): the control token is rotated (annotation) before the
# adoption, so the operator must reach the warm pod, started with the old one,
# with the previous token; /invoke answers only on the data port with the
# namespace's invoke token (HMAC of the operator's master key); and a deleted
# token Secret is recreated with the same tokens, a new pod starting, within 60 s.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace warmpool
set_desired() { k patch fn echo --subresource=status --type=merge -p "{\"status\":{\"desiredReplicas\":$1}}" >/dev/null; }
pods_with() { k get pods -l "$1" -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name' | sort; }
ready_warm_count() {
  k get pods -l sluice.io/role=warm -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null and .status.podIP != null and
         any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
warm_is() { [[ $(ready_warm_count) -eq $1 ]]; }
replicas_is() { [[ $(pods_with sluice.io/function=echo | grep -c .) -eq $1 ]]; }

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test --invoke-key-dir "$(invoke_key_dir)" --token-resync-seconds 2 \
  >"$work/operator.log" 2>&1 &
pids+=($!)
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: echo}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return "adopted:" + context.function_name
  scaling:
    warmPool: {size: 2}
YAML

poll 120 warm_is 2
replicas_is 0 || fail "replicas exist at desired 0"
poll 120 k get secret sluice-control-token -o name >/dev/null
token=$(k get secret sluice-control-token -o jsonpath='{.data.token}' | base64 -d)
[[ ${#token} -eq 64 ]] || fail "control token is not 32 random bytes in hex: ${#token} characters"
invoke=$(k get secret sluice-control-token -o jsonpath='{.data.invoke}' | base64 -d)
want=$(printf 'sluice-invoke:%s' "$ns" | openssl dgst -sha256 -hmac "$(cat "$work/invoke-key/key")" -r | cut -d' ' -f1)
[[ $invoke == "$want" ]] || fail "the Secret's invoke token is not HMAC-SHA256(master key, namespace): $invoke"
warm_before=$(pods_with sluice.io/role=warm)
for pod in $warm_before; do
  ip=$(k get pod "$pod" -o jsonpath='{.status.podIP}')
  [[ $ip == 127.* ]] || fail "pod $pod has IP $ip, not on this machine (KWOK must allocate loopback IPs)"
  [[ $(k get pod "$pod" -o jsonpath='{.spec.containers[0].args}') == *--warm* ]] || fail "warm pod $pod not started --warm"
  SLUICE_SPECIALIZE_TOKEN=$token SLUICE_INVOKE_TOKEN=$invoke "$SLUICE_BUILD_DIR/sluice-runtime" --warm \
    --control-bind-address "$ip:8090" --data-bind-address "$ip:8080" >"$work/runtime-$pod.log" 2>&1 &
  pids+=($!)
  poll 120 curl -sf "http://$ip:8090/readyz" -o /dev/null
done

# An unauthenticated /specialize is refused by the real runtime.
first_ip=$(k get pod "$(head -1 <<<"$warm_before")" -o jsonpath='{.status.podIP}')
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$first_ip:8090/specialize" -d '{}')
[[ $code == 401 ]] || fail "/specialize without the token answered $code"

# Rotate the control token: the warm pods hold the old one only.
k annotate secret sluice-control-token sluice.io/rotate=now >/dev/null
rotated() {
  [[ $(k get secret sluice-control-token -o jsonpath='{.data.previous}' | base64 -d) == "$token" &&
     $(k get secret sluice-control-token -o jsonpath='{.data.token}' | base64 -d) != "$token" &&
     -z $(k get secret sluice-control-token -o jsonpath='{.metadata.annotations.sluice\.io/rotate}') ]]
}
poll 30 rotated
echo "[step] control token rotated; the warm pods were started with the previous one"

started=$(date +%s%N)
set_desired 1
poll 120 replicas_is 1
adopted_ms=$((($(date +%s%N) - started) / 1000000))
replica=$(pods_with sluice.io/function=echo)
grep -qx "$replica" <<<"$warm_before" || fail "replica $replica is a new pod, not one of the warm pods: $warm_before"
[[ $(k get pod "$replica" -o jsonpath='{.metadata.ownerReferences[0].name}') == echo ]] || fail "adopted pod not owned by echo"
[[ -z $(k get pod "$replica" -o jsonpath='{.metadata.labels.sluice\.io/pool}') ]] || fail "adopted pod still in the pool"
grep -q "specialized as function echo" "$work/runtime-$replica.log" || fail "runtime of $replica was not specialized: $(tail -5 "$work/runtime-$replica.log")"
ip=$(k get pod "$replica" -o jsonpath='{.status.podIP}')
# echo has no http or cron Trigger: with the token, /invoke gets past authentication to the
# function's triggers, and there is none to run (404); without it, 401.
out=$(curl -s -w ' %{http_code}' -X POST -H "X-Sluice-Invoke-Token: $invoke" "http://$ip:8080/invoke" -d 'x')
[[ $out == "NotFound: X-Sluice-Trigger is missing and the function has 0 http triggers"$'\n 404' ]] ||
  fail "the adopted replica's /invoke answered \"$out\""
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ip:8080/invoke" -d 'x')
[[ $code == 401 ]] || fail "/invoke without the invoke token answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Sluice-Invoke-Token: $invoke" "http://$ip:8090/invoke" -d 'x')
[[ $code == 404 ]] || fail "/invoke on the control port answered $code"
echo "[figure] warm adoption 0->1: replica $replica adopted and specialized ${adopted_ms} ms after desiredReplicas was set"

# The pool refills with new pods.
poll 120 warm_is 2
refilled=$(pods_with sluice.io/role=warm)
grep -qx "$replica" <<<"$refilled" && fail "adopted pod still counted in the pool"
reasons=$(k get events --field-selector involvedObject.kind=Function,involvedObject.name=echo -o jsonpath='{.items[*].reason}')
[[ $reasons == *AdoptedWarmPods* ]] || fail "no AdoptedWarmPods Event: $reasons"

# 1 -> 2: the remaining original warm pod has its runtime; the refilled ones do not. Stop every
# stand-in so the next adoption must fail, and check the fallback to a fresh pod.
for pid in "${pids[@]:1}"; do kill "$pid" 2>/dev/null || true; done
set_desired 2
poll 120 replicas_is 2
second=$(pods_with sluice.io/function=echo | grep -vx "$replica")
grep -qx "$second" <<<"$warm_before$refilled" && fail "second replica $second is an adopted pod whose specialization cannot have succeeded"
poll 120 bash -c "$KUBECTL -n $ns get events --field-selector involvedObject.kind=Function,involvedObject.name=echo -o jsonpath='{.items[*].reason}' | grep -q AdoptionFailed"
poll 120 warm_is 2
echo "[step] failed specialization fell back to fresh pod $second; pool back at 2"

# A deleted token Secret comes back (same tokens: running replicas keep working) and new pods start.
current=$(k get secret sluice-control-token -o jsonpath='{.data.token}')
deleted=$(date +%s%N)
k delete secret sluice-control-token >/dev/null
secret_exists() { k get secret sluice-control-token -o name >/dev/null 2>&1; }
poll 60 secret_exists
recreated_ms=$((($(date +%s%N) - deleted) / 1000000))
[[ $(k get secret sluice-control-token -o jsonpath='{.data.token}') == "$current" ]] || fail "recreated with another token"
[[ $(k get secret sluice-control-token -o jsonpath='{.data.invoke}' | base64 -d) == "$invoke" ]] || fail "recreated without the invoke token"
set_desired 3
running3() {
  [[ $(k get pods -l sluice.io/function=echo -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null and .status.phase == "Running")] | length') -eq 3 ]]
}
poll 120 running3
# When the third pod started, by the server's clock (not when this test, slow on a busy machine, saw it).
third=$(pods_with sluice.io/function=echo | grep -vx "$replica" | grep -vx "$second")
started_at=$(date -u -d "$(k get pod "$third" -o jsonpath='{.status.startTime}')" +%s)
started_s=$((started_at - deleted / 1000000000))
((started_s <= 60)) || fail "the new pod $third started ${started_s} s after the Secret was deleted"
echo "[figure] token Secret deleted: recreated after ${recreated_ms} ms, a third replica started ${started_s} s after (server time)"
echo "PASS"
