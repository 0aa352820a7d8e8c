# On the real apiserver: a Function whose output names a Secret that does not
# exist, then one that lacks the key, is Ready=False SecretNotFound, then
# SecretKeyMissing naming the field, Secret and key, with a Warning Event, at
# zero replicas where no pod would ever show it; `kubectl wait
# --for=condition=Ready` times out on it and passes once the key is added. A
# Trigger's dead letter's Secret key is named on the Trigger the same way.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace secretkeys
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null

"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test >"$work/operator.log" 2>&1 &
pids+=($!)
k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: notify}
spec:
  code: {inline: "def main_handler(event, context): return event"}
  outputs:
    - name: hook
      http:
        url: http://127.0.0.1:9/hook
        bearerTokenSecretRef: {name: hook-token}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: nightly}
spec:
  functionRef: {name: notify}
  cron: {schedule: "0 0 1 1 *"}
  delivery:
    deadLetter:
      rabbitmq:
        connectionSecretRef: {name: dlq-conn}
        routingKey: failed
YAML

# ready OBJECT FIELD: a field of OBJECT's Ready condition; ready_reason_is OBJECT REASON.
ready() { k get "$1" -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].$2}"; }
ready_reason_is() { [[ $(ready "$1" reason) == "$2" ]]; }
# one_event OBJECT REASON MESSAGE: exactly one Event of that reason on OBJECT (a kind/name), with that message.
one_event() {
  [[ $(k get events --field-selector "reason=$2,involvedObject.name=${1#*/}" -o jsonpath='{.items[*].message}') == "$3" ]]
}
fn_condition() { ready function/notify "$1"; }
reason_is() { ready_reason_is function/notify "$1"; }
(poll 60 reason_is SecretNotFound) || fail "Function Ready: $(k get function notify -o jsonpath='{.status.conditions}')"
[[ $(fn_condition status) == False ]] || fail "Ready is $(fn_condition status) with a Secret missing"
[[ $(fn_condition message) == "0/0 replicas ready; Secret not found in namespace $ns: hook-token" ]] ||
  fail "Ready message: $(fn_condition message)"
if k wait --for=condition=Ready function/notify --timeout=3s >/dev/null 2>&1; then
  fail "kubectl wait --for=condition=Ready passed with the Secret missing"
fi

k create secret generic hook-token --from-literal=other=x >/dev/null
expected="spec.outputs[0].http.bearerTokenSecretRef: Secret $ns/hook-token has no key token"
# Secrets are read, not watched: the Function looks again within 30 s.
(poll 60 reason_is SecretKeyMissing) || fail "Function Ready after the Secret appeared: $(fn_condition reason)"
[[ $(fn_condition message) == "0/0 replicas ready; $expected" ]] || fail "Ready message: $(fn_condition message)"
(poll 30 one_event function/notify SecretKeyMissing "$expected") || fail "no single SecretKeyMissing Event on the Function: $(k get events -o jsonpath='{.items[*].message}')"

t_condition() { ready trigger/nightly "$1"; }
t_reason_is() { ready_reason_is trigger/nightly "$1"; }
(poll 60 t_reason_is SecretNotFound) || fail "Trigger Ready: $(k get trigger nightly -o jsonpath='{.status.conditions}')"
[[ $(t_condition message) == "Secret not found in namespace $ns: dlq-conn" ]] || fail "Trigger message: $(t_condition message)"
echo "[step] missing Secret, then key, named on the Function; the dead letter's Secret on the Trigger"

k create secret generic hook-token --from-literal=token=t0ken --dry-run=client -o yaml | k apply -f - >/dev/null
started=$SECONDS
k wait --for=condition=Ready function/notify --timeout=60s >/dev/null ||
  fail "kubectl wait --for=condition=Ready timed out after the key was added: $(fn_condition message)"
[[ $(fn_condition reason) == ScaledToZero ]] || fail "Ready reason once fixed: $(fn_condition reason)"
[[ $(k get function notify -o jsonpath='{.status.conditions[?(@.type=="Degraded")].status}') == False ]] ||
  fail "still Degraded once fixed"
echo "[figure] Ready $((SECONDS - started)) s after the key was added (rechecked every 30 s)"

# The Trigger's dead letter: its Secret without the URL key is named by field, with an Event.
k create secret generic dlq-conn --from-literal=uri=amqp://127.0.0.1:1 >/dev/null
expected="spec.delivery.deadLetter.rabbitmq.connectionSecretRef: Secret $ns/dlq-conn has no key url"
(poll 60 t_reason_is SecretKeyMissing) || fail "Trigger Ready after the Secret appeared: $(t_condition reason)"
[[ $(t_condition message) == "$expected" ]] || fail "Trigger message: $(t_condition message)"
(poll 30 one_event trigger/nightly SecretKeyMissing "$expected") || fail "no SecretKeyMissing Event on the Trigger"
