# `helm install` of charts/sluice as a user does it, with the images built here
# (make images) and imported into the real node's containerd. The CTest fixture
# every scenario needs. Asserts: both operator replicas run as pods on the
# real node under restricted Pod Security, pass their probes, use in-cluster
# configuration and the chart's RBAC, and exactly one holds the leader Lease;
# the namespaces really enforce `restricted` (a privileged pod is refused).
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR
e2e_work

# A pod that breaks the restricted standard is refused, so the standard is in force
# for everything the chart and the operator create below.
bash "$SLUICE_SOURCE_DIR/tests/env/node-namespace.sh" "$E2E_NS" || fail "pinning namespace $E2E_NS to the real node"
[[ $("$KUBECTL" get namespace "$E2E_NS" -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}') == restricted ]] ||
  fail "namespace $E2E_NS does not enforce the restricted Pod Security Standard"

if "$KUBECTL" -n "$E2E_NS" run privileged-probe --image="localhost/sluice-runtime-python:$E2E_VERSION" \
  --overrides='{"spec":{"containers":[{"name":"p","image":"localhost/sluice-runtime-python:'"$E2E_VERSION"'","securityContext":{"privileged":true}}]}}' \
  >"$work/privileged.out" 2>&1; then
  fail "a privileged pod was admitted in $E2E_NS"
fi
grep -q 'violates PodSecurity "restricted' "$work/privileged.out" || fail "privileged pod refused for another reason: $(cat "$work/privileged.out")"

started=$SECONDS
install_sluice "$E2E_RELEASE" "$E2E_SYSTEM_NS" "$E2E_NS"
echo "[figure] helm install --wait: $((SECONDS - started)) s to two Ready operator pods"

pods=$(ksys get pods -l app.kubernetes.io/component=operator -o json)
[[ $(jq '.items | length' <<<"$pods") == 2 ]] || fail "$(jq '.items | length' <<<"$pods") operator pods, expected 2"
[[ $(jq -r '[.items[].spec.nodeName] | unique | join(",")' <<<"$pods") == "$NODE_NAME" ]] ||
  fail "operator pods run on $(jq -r '[.items[].spec.nodeName] | unique | join(",")' <<<"$pods"), not on $NODE_NAME"
[[ $(jq -r '[.items[].status.podIP | startswith("'"${NODE_POD_GATEWAY%.*}"'.")] | all' <<<"$pods") == true ]] ||
  fail "operator pods lack addresses of the node's pod network: $(jq -r '[.items[].status.podIP] | join(",")' <<<"$pods")"
[[ $(jq -r '[.items[].status.containerStatuses[].image] | unique | join(",")' <<<"$pods") == *"localhost/sluice-operator:$E2E_VERSION" ]] ||
  fail "operator pods run image $(jq -r '[.items[].status.containerStatuses[].image] | unique | join(",")' <<<"$pods")"

# The chart's gateway: two Ready pods on the real node with the image built here.
gateway_ready() {
  [[ $(ksys get pods -l app.kubernetes.io/component=gateway -o json |
    jq '[.items[] | select(.spec.nodeName == "'"$NODE_NAME"'") | select(.status.conditions[]? | .type == "Ready" and .status == "True")] | length') == 2 ]]
}
poll 60 gateway_ready
[[ $(ksys get pods -l app.kubernetes.io/component=gateway -o jsonpath='{.items[*].status.containerStatuses[*].image}') == *"localhost/sluice-gateway:$E2E_VERSION"* ]] ||
  fail "gateway pods run image $(ksys get pods -l app.kubernetes.io/component=gateway -o jsonpath='{.items[*].status.containerStatuses[*].image}')"

# Exactly one leader, and it is one of the two pods.
holder() { ksys get lease sluice-operator-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
# A Lease left by an earlier release's pod is taken over once it expires.
held_by_a_pod() { jq -e --arg h "$(holder)" '[.items[].metadata.name] | index($h)' <<<"$pods" >/dev/null; }
poll 60 held_by_a_pod || fail "the Lease is held by $(holder), not by an operator pod"
for pod in $(jq -r '.items[].metadata.name' <<<"$pods"); do
  ksys logs "$pod" >"$work/$pod.log"
  grep -q "in-cluster" "$work/$pod.log" || fail "$pod did not use in-cluster configuration: $(head -5 "$work/$pod.log")"
  if grep -iq "forbidden" "$work/$pod.log"; then fail "$pod was refused by the apiserver: $(grep -i forbidden "$work/$pod.log" | head -3)"; fi
done

# The probes keep passing: no restarts after two liveness periods.
sleep 20
restarts=$(ksys get pods -l app.kubernetes.io/component=operator -o json | jq '[.items[].status.containerStatuses[].restartCount] | add')
((restarts == 0)) || fail "operator containers restarted $restarts times"
echo "PASS: 2 operator pods on $NODE_NAME (leader $(holder)) and 2 gateway pods, restricted PSS, no restarts"
