# The operator against an apiserver that pushes back (issue 14): a private kube-apiserver on the
# shared etcd that serves one request at a time (--max-requests-inflight=1, priority and fairness
# off, so a request that arrives while another is served gets 429 with Retry-After), kept busy by
# four reader loops. sluice-operator runs as a ServiceAccount (system:masters, the test admin's
# group, is never refused by that limit), reconciles 12 Functions through it and must converge
# exactly (each its ConfigMap and one pod, no more), count the 429s it waited out in
# sluice_kube_client_waits_total{cause="throttled"}, and still stop on SIGTERM.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

ns=$(unique_name throttle)
private=$(unique_name thr | tr -cd 'a-z0-9-')
work=$(mktemp -d)
shared_kubeconfig=$KUBECONFIG
operator_pid=""
readers=()
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    echo "--- operator log (last 40 lines) ---" >&2
    tail -n 40 "$work/operator.log" >&2 || true
  fi
  for p in "${readers[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  bash "$SLUICE_SOURCE_DIR/tests/env/kube-private.sh" stop "$private" >/dev/null 2>&1 || true
  KUBECONFIG=$shared_kubeconfig "$KUBECTL" delete clusterrolebinding "$ns" --wait=false >/dev/null 2>&1 || true
  KUBECONFIG=$shared_kubeconfig "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# The shared apiserver (same etcd) observes what the operator did through the busy one.
k() { KUBECONFIG=$shared_kubeconfig "$KUBECTL" -n "$ns" "$@"; }

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
env_lines=$(bash "$SLUICE_SOURCE_DIR/tests/env/kube-private.sh" start "$private" \
  --max-requests-inflight=1 --max-mutating-requests-inflight=1 --enable-priority-and-fairness=false) ||
  fail "the private apiserver did not start"
private_kubeconfig=$(sed -n 's/^export KUBECONFIG=//p' <<<"$env_lines")
[[ -f $private_kubeconfig ]] || fail "kube-private.sh printed no KUBECONFIG: $env_lines"
poll 60 env KUBECONFIG="$private_kubeconfig" "$KUBECTL" get --raw /readyz >/dev/null

# Four readers keep the one request slot busy for the whole test.
for _ in 1 2 3 4; do
  (while true; do KUBECONFIG=$private_kubeconfig "$KUBECTL" get --raw "/api/v1/namespaces/$ns/configmaps" \
    >/dev/null 2>&1; done) &
  readers+=($!)
done

# The operator's identity: a ServiceAccount token (bound to cluster-admin for this test only).
k create serviceaccount operator >/dev/null
"$KUBECTL" create clusterrolebinding "$ns" --clusterrole=cluster-admin --serviceaccount="$ns:operator" >/dev/null
token=$(k create token operator --duration=1h)
server=$(sed -n 's/^ *server: //p' "$private_kubeconfig")
ca=$(sed -n 's/^ *certificate-authority: //p' "$private_kubeconfig")
cat >"$work/operator.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: private
  cluster: {server: "$server", certificate-authority: "$ca"}
users:
- name: operator
  user: {token: "$token"}
contexts:
- name: private
  context: {cluster: private, user: operator, namespace: $ns}
current-context: private
KC

metrics_port=$(free_port)
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$work/operator.kubeconfig" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test --metrics-bind-address "127.0.0.1:$metrics_port" \
  >"$work/operator.log" 2>&1 &
operator_pid=$!

functions=12
for i in $(seq 1 "$functions"); do
  echo "---"
  echo_function_yaml "fn-$i"
done | k apply -f - >/dev/null
for i in $(seq 1 "$functions"); do
  poll 180 k get configmap "fn-$i-sluice-config" -o name >/dev/null
  k patch fn "fn-$i" --subresource=status --type=merge -p '{"status":{"desiredReplicas":1}}' >/dev/null
done
echo "[step] $functions Functions rendered through the busy apiserver"

pods_of() { k get pods -l "sluice.io/function=$1" --no-headers 2>/dev/null | grep -c . || true; }
all_have_one() {
  for i in $(seq 1 "$functions"); do [[ $(pods_of "fn-$i") -eq 1 ]] || return 1; done
}
poll 180 all_have_one
# Converged means it stays so: no late duplicate from a retried create.
sleep 5
for i in $(seq 1 "$functions"); do
  n=$(pods_of "fn-$i")
  [[ $n -eq 1 ]] || fail "fn-$i has $n pods, expected exactly 1"
done
echo "[step] every Function has exactly one pod"

throttled=$(curl -sf "http://127.0.0.1:$metrics_port/metrics" |
  sed -n 's/^sluice_kube_client_waits_total{cause="throttled"} \([0-9.e+]*\)$/\1/p')
[[ -n $throttled ]] || fail "no sluice_kube_client_waits_total{cause=\"throttled\"} series on /metrics"
python3 -c "import sys; sys.exit(0 if float('$throttled') >= 1 else 1)" ||
  fail "the operator waited out no 429 (throttled waits: $throttled); the apiserver never pushed back?"
echo "[figure] 429 waits: $throttled"

for p in "${readers[@]}"; do kill "$p" 2>/dev/null || true; done
readers=()
kill -TERM "$operator_pid"
for _ in $(seq 1 200); do kill -0 "$operator_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$operator_pid" 2>/dev/null && fail "the operator did not stop within 20 s of SIGTERM"
wait "$operator_pid" || fail "the operator exited with $? after SIGTERM"
operator_pid=""
echo "PASS: the operator converged through 429s ($throttled waits counted) and stopped on SIGTERM"
