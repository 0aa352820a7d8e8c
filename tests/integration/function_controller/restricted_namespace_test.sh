# Every pod Sluice makes passes Pod Security admission at `restricted` (the
# apiserver admits or refuses a pod at create time, KWOK nodes or not): in a
# namespace labelled pod-security.kubernetes.io/enforce=restricted the real
# operator creates a replica and a warm pod for an inline-code Function, a
# replica with the code-image init container, and one with spec.pod
# overrides (UID, fsGroup, Localhost seccomp, labels, annotations). The
# namespace is shown to enforce first: a pod without runAsNonRoot is refused.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace restricted
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
"$KUBECTL" label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/enforce-version=latest >/dev/null

# The namespace does enforce: a pod that may run as root is refused.
if out=$(k run loose --image=busybox --restart=Never 2>&1); then fail "a pod without runAsNonRoot was admitted: $out"; fi
[[ $out == *'violates PodSecurity "restricted:latest"'* ]] || fail "the refusal is not Pod Security's: $out"

"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test >"$work/operator.log" 2>&1 &
pids+=($!)
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: inline}
spec:
  code: {inline: "def main_handler(event, context): return event"}
  scaling: {minReplicas: 1, warmPool: {size: 1}}
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: image}
spec:
  code: {image: "example.com/handlers:1"}
  scaling: {minReplicas: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: tuned}
spec:
  code: {inline: "def main_handler(event, context): return event"}
  scaling: {minReplicas: 1}
  pod:
    labels: {team: etl}
    annotations: {container.apparmor.security.beta.kubernetes.io/runtime: runtime/default}
    securityContext:
      runAsUser: 1000
      runAsGroup: 1000
      fsGroup: 2000
      seccompProfile: {type: Localhost, localhostProfile: profiles/sluice.json}
YAML

pod_count() { k get pods -l "$1" -o name | grep -c . || true; }
all_created() {
  [[ $(pod_count sluice.io/function=inline) -eq 1 && $(pod_count sluice.io/function=image) -eq 1 &&
     $(pod_count sluice.io/function=tuned) -eq 1 && $(pod_count sluice.io/role=warm) -eq 1 ]]
}
(poll 120 all_created) || fail "not every pod was created: $(k get pods -o name | tr '\n' ' '); $(grep -i -m3 -e forbidden -e PodSecurity "$work/operator.log")"
if grep -Eqi 'violates PodSecurity|forbidden' "$work/operator.log"; then
  fail "a pod was refused: $(grep -Ei -m3 'violates PodSecurity|forbidden' "$work/operator.log")"
fi
[[ $(k get pod -l sluice.io/function=image -o jsonpath='{.items[0].spec.initContainers[0].name}') == fetch-code ]] ||
  fail "the code-image Function's pod has no fetch-code init container"
[[ $(k get pod -l sluice.io/function=tuned -o jsonpath='{.items[0].spec.securityContext.runAsUser} {.items[0].metadata.labels.team}') == "1000 etl" ]] ||
  fail "spec.pod overrides did not reach the pod"
echo "PASS: replica, warm, code-image and spec.pod-tuned pods admitted under enforce=restricted; a loose pod refused"
