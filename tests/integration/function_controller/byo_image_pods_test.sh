# Bring your own handler image (docs/handler-images.md), against the real
# apiserver with KWOK nodes: the real operator renders the pods of a
# spec.protocol python Function and a spec.protocol http one, replicas and
# warm pods, in a namespace that enforces the restricted Pod Security
# Standard (so every container of both is admitted as restricted). Checked on
# the stored pods: the containers and images, the runtime bundle's init
# container, volume and loader command (python), the handler sidecar with its
# port and probe (http), each container's security context, and that each
# Function has a warm pool of its own. The CRD refuses a protocol without an
# image, naming the field.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace byo
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
"$KUBECTL" label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/enforce-version=latest >/dev/null

# The CRD's rules name the field at fault.
if out=$(k apply -f - 2>&1 <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: no-image}
spec: {protocol: http}
YAML
); then fail "a Function with spec.protocol and no spec.image was admitted"; fi
[[ $out == *'spec.image: Invalid value: "object": spec.protocol needs spec.image (the handler'"'"'s image)'* ]] ||
  fail "unexpected refusal: $out"

"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image localhost/sluice-runtime-python:test >"$work/operator.log" 2>&1 &
pids+=($!)
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: py}
spec:
  image: localhost/sluice-e2e-python-requests:test
  protocol: python
  code: {inline: "import requests\ndef main_handler(event, context): return event['data']"}
  scaling: {minReplicas: 1, warmPool: {size: 1}}
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: web}
spec:
  image: localhost/sluice-e2e-node-handler:test
  protocol: http
  http: {port: 3000}
  concurrency: 4
  env: [{name: MODE, value: strict}]
  scaling: {minReplicas: 1, warmPool: {size: 1}}
YAML

pod_count() { k get pods -l "$1" -o name | grep -c . || true; }
all_created() {
  [[ $(pod_count sluice.io/function=py) -eq 1 && $(pod_count sluice.io/function=web) -eq 1 &&
     $(pod_count sluice.io/role=warm) -eq 2 ]]
}
(poll 120 all_created) || fail "not every pod was created: $(k get pods -o name | tr '\n' ' '); $(grep -i -m3 -e forbidden -e PodSecurity -e error "$work/operator.log")"
if grep -Eqi 'violates PodSecurity|forbidden' "$work/operator.log"; then
  fail "a pod was refused: $(grep -Ei -m3 'violates PodSecurity|forbidden' "$work/operator.log")"
fi

k get pod -l sluice.io/function=py -o json | jq '.items[0].spec' >"$work/py.json"
k get pod -l sluice.io/function=web -o json | jq '.items[0].spec' >"$work/web.json"
# expect FILE JQ_FILTER WANT: the filter's compact output on the stored pod spec.
expect() {
  local got
  got=$(jq -c "$2" "$1")
  [[ $got == "$3" ]] || fail "$(basename "$1") $2: got $got, want $3"
}
restricted='{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"readOnlyRootFilesystem":true,"runAsNonRoot":true}'

# python: the Function's image runs the runtime copied in by the runtime image.
expect "$work/py.json" '[.containers[] | .name + "=" + .image]' '["runtime=localhost/sluice-e2e-python-requests:test"]'
expect "$work/py.json" '[.initContainers[] | .name + "=" + .image]' '["install-runtime=localhost/sluice-runtime-python:test"]'
expect "$work/py.json" '.containers[0].command' '["/sluice/lib/ld-linux-x86-64.so.2","--library-path","/sluice/lib","/sluice/bin/sluice-runtime"]'
expect "$work/py.json" '.initContainers[0].command' '["cp","-R","/usr/local/lib/sluice-runtime-bundle/.","/sluice"]'
expect "$work/py.json" '[.volumes[].name] | sort' '["code","config","sluice-runtime","tmp"]'
expect "$work/py.json" '[.containers[0].volumeMounts[] | select(.name == "sluice-runtime") | .mountPath, .readOnly]' '["/sluice",true]'
expect "$work/py.json" '[.containers[0].env[] | select(.name == "SLUICE_PYTHON_FROM_IMAGE") | .value]' '["1"]'

# http: the runtime image, and the Function's image as a sidecar on its port.
expect "$work/web.json" '[.containers[] | .name + "=" + .image]' '["runtime=localhost/sluice-runtime-python:test"]'
expect "$work/web.json" '[.initContainers[] | .name + "=" + .image + "=" + .restartPolicy]' '["handler=localhost/sluice-e2e-node-handler:test=Always"]'
expect "$work/web.json" '.initContainers[0].ports' '[{"containerPort":3000,"name":"handler","protocol":"TCP"}]'
expect "$work/web.json" '.initContainers[0].startupProbe.tcpSocket.port' '3000'
expect "$work/web.json" '[.initContainers[0].env[].name]' '["PORT","MODE"]'
expect "$work/web.json" '[.containers[0].env[] | select(.name == "MODE")] | length' '0'
expect "$work/web.json" '[.volumes[].name] | sort' '["config","handler-tmp","tmp"]'

for f in "$work/py.json" "$work/web.json"; do
  expect "$f" '[(.containers + .initContainers)[] | .securityContext] | unique' "[$restricted]"
  expect "$f" '[.securityContext.runAsNonRoot, .securityContext.runAsUser, .securityContext.seccompProfile.type]' '[true,65532,"RuntimeDefault"]'
done

# Each Function's warm pod is in a pool of its own: they differ by image and protocol.
pools=$(k get pods -l sluice.io/role=warm -o jsonpath='{range .items[*]}{.metadata.labels.sluice\.io/pool}{"\n"}{end}' | sort -u | grep -c .)
[[ $pools -eq 2 ]] || fail "the two Functions' warm pods share a pool ($pools pools)"
echo "PASS: python and http protocol pods (replicas and warm pods) admitted under enforce=restricted, with the expected containers, volumes and security contexts; two warm pools"
