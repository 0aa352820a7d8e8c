# CPU scaling on the real apiserver + KWOK with a real sluice-runtime: a
# Function (min 1, max 3, cpuTargetUtilization 50, requests.cpu 100m) pushed
# over HTTP. The test apiserver serves no metrics.k8s.io, so the autoscaler
# falls back to the replica's own process_cpu_seconds_total; a real runtime
# stands in for the first pod. Idle: 1 replica. A handler kept busy (one core
# is 1000 % of 100m): 3 replicas (the max), with the CPU metric in
# status.metrics. Load stopped: back to 1. The operator runs with a control CA
# (the chart's default), so the replica serves its control port over HTTPS
# with the certificate from the namespace's Secret, and the CPU scaler reads
# its /metrics over HTTPS, verifying the CA and sluice-replica.<ns>.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
ns=$(unique_name autoscale-cpu)
source "$(dirname "$0")/autoscale_lib.sh"
work=$(mktemp -d)
runtime_pid=""
load_pid=""
extra_cleanup() {
  local pid
  for pid in $load_pid $runtime_pid; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
cpu_metric() { k get fn busy -o json | jq -r '.status.metrics[]? | select(.trigger == "CPU") | "\(.value)/\(.target)"'; }
cpu_measured() { [[ $(cpu_metric) =~ ^[0-9.]+/50$ ]]; }

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_operator --control-ca-dir "$work/ca"
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: busy}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      import time
      def main_handler(event, context):
          end = time.time() + 0.2
          while time.time() < end:
              pass
          return "done"
  resources:
    requests: {cpu: 100m}
  scaling:
    minReplicas: 1
    maxReplicas: 3
    cpuTargetUtilization: 50
    pollingIntervalSeconds: 2
    scaleDown: {stabilizationWindowSeconds: 0}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: busy-http}
spec:
  functionRef: {name: busy}
  http: {path: /busy}
YAML

(poll 60 desired_is busy 1) || fail_with_log "desiredReplicas $(desired busy), expected the minimum 1"
# The Trigger changes the pod template, so the first pod may be replaced: wait for one live, Ready pod.
(poll 60 pods_are busy 1) || fail "pods: $(live_count busy), expected 1"
(poll 60 ready_are busy 1) || fail "Ready pods: $(ready_count busy), expected 1"
pod=$(k get pods -l sluice.io/function=busy -o json |
  jq -r '[.items[] | select(.metadata.deletionTimestamp == null)][0].metadata.name')
ip=$(k get pod "$pod" -o jsonpath='{.status.podIP}')
[[ $ip == 127.* ]] || fail "pod $pod has IP $ip, not on this machine"
k get secret sluice-control-token -o jsonpath='{.data.token}' | base64 -d >"$work/token"
k get configmap busy-sluice-config -o json |
  jq '.data as $d | ($d["function.json"] | fromjson) + {codeFiles: {"index.py": $d["code.py"]}}' >"$work/function.json"
invoke=$(k get secret sluice-control-token -o jsonpath='{.data.invoke}' | base64 -d)
k get secret sluice-control-token -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/tls.crt"
k get secret sluice-control-token -o jsonpath='{.data.tls\.key}' | base64 -d >"$work/tls.key"
SLUICE_INVOKE_TOKEN=$invoke "$SLUICE_BUILD_DIR/sluice-runtime" --config "$work/function.json" \
  --control-bind-address "$ip:8090" --data-bind-address "$ip:8080" --specialize-token-file "$work/token" \
  --control-tls-cert-file "$work/tls.crt" --control-tls-key-file "$work/tls.key" >"$work/runtime.log" 2>&1 &
runtime_pid=$!
poll 60 curl -sf --cacert "$work/ca/ca.crt" --resolve "sluice-replica.$ns:8090:$ip" \
  "https://sluice-replica.$ns:8090/readyz" -o /dev/null
[[ ! -e $work/tls.key ]] || fail "the runtime left its key file readable"

# Idle: the CPU metric is measured (fallback to the runtime's own figures) and one replica is enough.
fell_back() { grep -q "metrics.k8s.io is not served here" "$log_dir/operator.log"; }
(poll 30 fell_back) || fail_with_log "the operator did not fall back from metrics.k8s.io"
# A rate needs two samples of the replica, so the first reading after the pod is Ready is "unknown".
(poll 60 cpu_measured) || fail_with_log "no CPU value in status.metrics: $(k get fn busy -o jsonpath='{.status.metrics}')"
desired_is busy 1 || fail_with_log "idle: desiredReplicas $(desired busy), expected 1 (CPU $(cpu_metric))"
echo "[step] idle: CPU $(cpu_metric) (value/target %), desiredReplicas 1"

# Busy: invocations back to back keep the handler's core busy.
(while :; do curl -s -m 5 -X POST -H "X-Sluice-Invoke-Token: $invoke" "http://$ip:8080/invoke" -d x -o /dev/null; done) &
load_pid=$!
(poll 120 desired_is busy 3) || fail_with_log "busy: desiredReplicas $(desired busy), expected 3 (CPU $(cpu_metric))"
echo "[step] busy: CPU $(cpu_metric), desiredReplicas 3 (the max)"
kill "$load_pid" 2>/dev/null
wait "$load_pid" 2>/dev/null || true # killed on purpose
load_pid=""

(poll 120 desired_is busy 1) || fail_with_log "idle again: desiredReplicas $(desired busy), expected 1 (CPU $(cpu_metric))"
echo "[step] load stopped: CPU $(cpu_metric), desiredReplicas 1"
echo "PASS"
