# Shared by the e2e tests: Sluice as a user runs it. The chart is installed with
# `helm install` from the images `make images` built here; the operator and every
# Function replica run as pods on the real node of tests/env (kubelet, containerd,
# runc), in namespaces pinned to that node and enforcing the restricted Pod
# Security Standard. One release serves every scenario: install/ sets it up
# (a CTest fixture), each scenario works in the Functions' namespace under names
# of its own, and teardown/ uninstalls it. Sourced after ../integration/lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
require_env HELM KUBECTL KUBECONFIG KAFKA_TOPICS NODE_NAME NODE_POD_GATEWAY SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

E2E_RELEASE=sluice
# The operator's namespace and the one namespace it manages (the chart's
# operator.watchNamespace): the other integration tests run operators of
# their own, which must never meet this one.
E2E_SYSTEM_NS=sluice-system
E2E_NS=sluice-e2e
E2E_VERSION=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' "$SLUICE_SOURCE_DIR/CMakeLists.txt")
E2E_IMAGES_DIR=${SLUICE_IMAGES_DIR:-$SLUICE_BUILD_DIR/images}
export HELM_CONFIG_HOME=$SLUICE_BUILD_DIR/e2e-helm/config HELM_CACHE_HOME=$SLUICE_BUILD_DIR/e2e-helm/cache
export HELM_DATA_HOME=$SLUICE_BUILD_DIR/e2e-helm/data

ns=$E2E_NS
k() { "$KUBECTL" -n "$E2E_NS" "$@"; }
ksys() { "$KUBECTL" -n "$E2E_SYSTEM_NS" "$@"; }

# pod_url URL: the same tests/env service as a pod reaches it. Every server of
# tests/env listens on 127.0.0.1; the node forwards the pod bridge's gateway
# address to it, port for port (tests/env/components/node.sh).
pod_url() { echo "${1//127.0.0.1/$NODE_POD_GATEWAY}"; }

# e2e_work: a scratch directory ($work) and background processes ($pids) that
# go when the test exits; CLEANUP (a function name, optional) runs first.
e2e_work() {
  work=$(mktemp -d)
  pids=()
  trap _e2e_cleanup EXIT
}
_e2e_cleanup() {
  local rc=$? pid
  if ((rc != 0)); then
    echo "--- pods of $E2E_NS ---" >&2
    k get pods -o wide >&2 || true
    echo "--- operator log (leader, last 60 lines) ---" >&2
    ksys logs -l app.kubernetes.io/component=operator --tail=60 --prefix >&2 2>/dev/null || true
    # The replicas' own view (rebalances, probation, stalls): what the operator log cannot say.
    local pod
    for pod in $(k get pods -l sluice.io/function -o jsonpath='{.items[*].metadata.name}' 2>/dev/null); do
      echo "--- $pod (last 40 lines of each container) ---" >&2
      k logs "$pod" --all-containers --tail=40 --prefix >&2 2>/dev/null || true
    done
    echo "--- Function and Trigger status ---" >&2
    k get functions,triggers -o json 2>/dev/null | jq -c '.items[] | {kind, name: .metadata.name, status}' >&2 || true
  fi
  [[ $(type -t e2e_cleanup) == function ]] && { e2e_cleanup || true; }
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  return "$rc"
}

# Replica pods of Function $1 that are not being deleted, and those Ready.
replica_count() {
  k get pods -l "sluice.io/function=$1" -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'
}
replicas_are() { [[ $(replica_count "$1") -eq $2 ]]; }
ready_count() {
  k get pods -l "sluice.io/function=$1" -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null and
          any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
replicas_at_least() { (($(ready_count "$1") >= $2)); }
# Every pod of Function $1 runs on the real node (never a KWOK node).
on_real_node() {
  local nodes
  nodes=$(k get pods -l "sluice.io/function=$1" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u)
  [[ -z $nodes || $nodes == "$NODE_NAME" ]] || fail "pods of $1 ran on $nodes, not only on $NODE_NAME"
}

# record_replicas FN FILE: samples the Function's live and Ready replica count
# every second into FILE ("epoch live ready" lines) until the test ends.
record_replicas() {
  (
    while :; do
      echo "$(date +%s) $(replica_count "$1" 2>/dev/null || echo -1) $(ready_count "$1" 2>/dev/null || echo -1)"
      sleep 1
    done
  ) >>"$2" &
  pids+=($!)
}
# The highest Ready replica count in a record_replicas file.
peak_ready() { awk 'max < $3 { max = $3 } END { print max + 0 }' "$1"; }
# The highest replica (pod) count in a record_replicas file, Ready or not.
peak_replicas() { awk 'max < $2 { max = $2 } END { print max + 0 }' "$1"; }

# scaling_from_zero_yaml MAX COOLDOWN WINDOW: the spec.scaling of a Function
# that idles at zero with a warm pod and follows its load within seconds (a
# 1 s polling interval, no burst hold, the given cooldown and scale-down
# window), indented for a Function's spec.
scaling_from_zero_yaml() {
  cat <<YAML
  scaling:
    minReplicas: 0
    maxReplicas: $1
    cooldownSeconds: $2
    pollingIntervalSeconds: 1
    burst: {thresholdPercent: 1000}
    warmPool: {size: 1}
    scaleDown: {stabilizationWindowSeconds: $3}
YAML
}

# Warm pools: the Function's pool has N Ready pods (status.warmReplicas), and
# waking it adopted one (an AdoptedWarmPods Event) instead of starting a pod.
warm_ready() { (($(k get fn "$1" -o jsonpath='{.status.warmReplicas}' 2>/dev/null || echo 0) >= $2)); }
adopted_warm_pod() {
  k get events --field-selector "involvedObject.kind=Function,involvedObject.name=$1,reason=AdoptedWarmPods" \
    -o name | grep -q .
}
assert_adopted() {
  poll 30 adopted_warm_pod "$1"
  if k get events --field-selector "involvedObject.kind=Function,involvedObject.name=$1,reason=AdoptionFailed" \
    -o jsonpath='{.items[*].message}' | grep .; then
    fail "$1: an adoption failed"
  fi
}

# install_sluice RELEASE SYSTEM_NS WATCH_NS [helm flags...]: imports the images
# `make images` built into the node's containerd, pins both namespaces to the
# real node (restricted Pod Security enforced) and `helm install`s the chart
# with those images, the operator managing WATCH_NS; waits for Ready pods.
install_sluice() {
  local release=$1 system_ns=$2 watch_ns=$3 image n
  shift 3
  for image in sluice-operator sluice-gateway sluice-runtime-python; do
    [[ -f $E2E_IMAGES_DIR/$image.tar ]] || fail "$E2E_IMAGES_DIR/$image.tar is missing: run 'make images' first"
  done
  bash "$SLUICE_SOURCE_DIR/tests/env/node-import.sh" "$E2E_IMAGES_DIR/sluice-operator.tar" \
    "$E2E_IMAGES_DIR/sluice-gateway.tar" "$E2E_IMAGES_DIR/sluice-runtime-python.tar" || fail "importing the images into the node's containerd"
  for n in "$system_ns" "$watch_ns"; do
    bash "$SLUICE_SOURCE_DIR/tests/env/node-namespace.sh" "$n" || fail "pinning namespace $n to the real node"
  done
  "$HELM" upgrade --install "$release" "$SLUICE_SOURCE_DIR/charts/sluice" -n "$system_ns" \
    --set operator.image.repository=localhost/sluice-operator --set "operator.image.tag=$E2E_VERSION" \
    --set operator.image.pullPolicy=Never \
    --set gateway.image.repository=localhost/sluice-gateway --set "gateway.image.tag=$E2E_VERSION" \
    --set gateway.image.pullPolicy=Never \
    --set runtime.image.repository=localhost/sluice-runtime-python --set "runtime.image.tag=$E2E_VERSION" \
    --set "operator.watchNamespace=$watch_ns" "$@" \
    --wait --timeout 240s >"$work/helm.out" 2>&1 || fail "helm install: $(cat "$work/helm.out")"
  "$KUBECTL" -n "$system_ns" wait --for=condition=Ready pod -l app.kubernetes.io/component=operator --timeout=120s \
    >/dev/null || fail "the operator pods are not Ready"
}

# A condition of a Function or Trigger: condition KIND NAME TYPE -> True/False/"".
condition() {
  k get "$1" "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].status}"
}

# kafka_topic BOOTSTRAP NAME PARTITIONS: creates a topic (the brokers do not
# create topics on first use).
kafka_topic() {
  "$KAFKA_TOPICS" --bootstrap-server "$1" --create --topic "$2" --partitions "$3" --replication-factor 1 >/dev/null ||
    fail "creating topic $2 on $1"
}
# kafka_values BOOTSTRAP TOPIC: every value in the topic, one per line.
kafka_values() { kcat -C -b "$1" -t "$2" -o beginning -e -q -f '%s\n' 2>/dev/null; }
# kafka_count_is BOOTSTRAP TOPIC N
kafka_count_is() { [[ $(kafka_values "$1" "$2" | grep -c .) -ge $3 ]]; }
# ids_match SENT RECEIVED: the same set of ids (every line's "id"), no loss;
# at-least-once may repeat a record only when a replica was stopped mid-batch,
# which these scenarios never do, so a duplicate fails too.
ids_match() {
  local sent=$1 received=$2
  jq -r .id "$sent" | sort >"$sent.ids"
  jq -r .id "$received" | sort >"$received.ids"
  local missing duplicated
  missing=$(comm -23 "$sent.ids" <(sort -u "$received.ids") | wc -l)
  duplicated=$(($(wc -l <"$received.ids") - $(sort -u "$received.ids" | wc -l)))
  ((missing == 0)) || fail "$missing of $(wc -l <"$sent.ids") ids never arrived (first: $(comm -23 "$sent.ids" <(sort -u "$received.ids") | head -3 | tr '\n' ' '))"
  ((duplicated == 0)) || fail "$duplicated ids arrived more than once"
  [[ $(sort -u "$received.ids" | wc -l) -eq $(wc -l <"$sent.ids") ]] || fail "ids arrived that were never sent"
}
