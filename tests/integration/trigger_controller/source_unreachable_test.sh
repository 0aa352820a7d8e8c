# On the real apiserver: a Kafka Trigger whose bootstrap servers accept no
# connection (a port on loopback nothing listens on) is Ready=False
# SourceUnreachable naming the field and the error, with one Warning Event;
# `kubectl wait --for=condition=Ready` times out on it; pointed at the real
# Kafka it is Ready, and the wait passes.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR KAFKA_BOOTSTRAP

own_namespace unreachable
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test >"$work/operator.log" 2>&1 &
pids+=($!)
closed_port=$(free_port) # free now: nothing listens there
echo_function_yaml orders | k apply -f - >/dev/null
# trigger_yaml BOOTSTRAP: the Trigger of Function orders on that Kafka.
trigger_yaml() {
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders}
spec:
  functionRef: {name: orders}
  kafka: {bootstrapServers: ["$1"], topics: [orders], consumerGroup: orders}
YAML
}
trigger_yaml "127.0.0.1:$closed_port" | k apply -f - >/dev/null

condition() { k get trigger orders -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].$1}"; }
reason_is() { [[ $(condition reason) == "$1" ]]; }
(poll 60 reason_is SourceUnreachable) || fail "Trigger Ready: $(k get trigger orders -o jsonpath='{.status.conditions}')"
[[ $(condition status) == False ]] || fail "Ready is not False: $(condition status)"
expected="the source does not accept connections: spec.kafka.bootstrapServers[0]: 127.0.0.1:$closed_port: Connection refused"
[[ $(condition message) == "$expected" ]] || fail "Ready message: $(condition message) (expected: $expected)"
if k wait --for=condition=Ready trigger/orders --timeout=5s >/dev/null 2>&1; then
  fail "kubectl wait --for=condition=Ready passed on an unreachable source"
fi
events=$(k get events --field-selector involvedObject.kind=Trigger,involvedObject.name=orders,reason=SourceUnreachable \
  -o jsonpath='{range .items[*]}{.type} {.count} {.message}{"\n"}{end}')
[[ $events == "Warning 1 $expected" ]] || fail "Events: $events"
echo "[step] unreachable: Ready=False SourceUnreachable, one Warning Event, kubectl wait timed out"

trigger_yaml "$KAFKA_BOOTSTRAP" | k apply -f - >/dev/null
k wait --for=condition=Ready trigger/orders --timeout=60s >/dev/null ||
  fail "not Ready on the real Kafka: $(k get trigger orders -o jsonpath='{.status.conditions}')"
echo "[step] the real Kafka: Ready"
echo "PASS"
