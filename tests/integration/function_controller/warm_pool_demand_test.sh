# Warm pools sized by demand on the real apiserver + KWOK (issue 19): an
# operator with --warm-pool-ceiling 4, a 20 s window and a 10 s pod start; two
# Functions of one pod shape, so one pool.
#   no start yet: the pool is the floor, 0 (no warm pod);
#   3 + 2 replicas started at once (cold: the pool was empty): 5 starts within
#     one pod start, so the computed size is 5, bounded by the ceiling to 4, and
#     4 warm pods follow; /metrics shows that size, the 5 starts (cold) and
#     their rate over the window (15 a minute);
#   20 s on, the starts have left the window: size 0, the warm pods go;
#   one start more: size 1, one warm pod.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace warmdemand
metrics_port=$(free_port)
set_desired() { k patch fn "$1" --subresource=status --type=merge -p "{\"status\":{\"desiredReplicas\":$2}}" >/dev/null; }
warm_count() {
  k get pods -l sluice.io/role=warm -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'
}
warm_is() { [[ $(warm_count) -eq $1 ]]; }
replicas_of() {
  k get pods -l "sluice.io/function=$1" -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'
}
replicas_are() { [[ $(replicas_of "$1") -eq $2 ]]; }
# The first /metrics sample whose line starts with PREFIX (one awk: a `head` would SIGPIPE curl).
metric() { curl -sf "http://127.0.0.1:$metrics_port/metrics" | awk -v s="$1" '!found && index($0, s) == 1 { print $NF; found = 1 }'; }
pool="{namespace=\"$ns\""
size_is() { [[ $(metric "sluice_warm_pool_size$pool") == "$1" ]]; }
# The pool's starts by served="warm"|"cold", summed.
starts_total() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" |
    awk -v s="sluice_warm_pool_starts_total$pool" 'index($0, s) == 1 { sum += $NF } END { print sum + 0 }'
}
show_log() {
  echo "--- operator log (last 30 lines) ---" >&2
  tail -30 "$work/operator.log" >&2
}

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
  --runtime-image sluice/runtime-python:test --invoke-key-dir "$(invoke_key_dir)" \
  --metrics-bind-address "127.0.0.1:$metrics_port" --warm-pool-ceiling 4 --warm-pool-window-seconds 20 \
  --warm-pool-pod-start-seconds 10 >"$work/operator.log" 2>&1 &
pids+=($!)
k apply -f - >/dev/null <<YAML
$(echo_function_yaml orders)
---
$(echo_function_yaml invoices)
YAML

# No start yet: the floor (0), and it holds.
(poll 60 size_is 0) || { show_log; fail "sluice_warm_pool_size never showed the pool at 0: '$(metric "sluice_warm_pool_size$pool")'"; }
sleep 3
warm_is 0 || fail "$(warm_count) warm pods before any start; the floor is 0"
echo "[step] no start: pool size 0, no warm pod"

# 5 starts at once across the two Functions: the pool grows to the ceiling, 4.
set_desired orders 3
set_desired invoices 2
(poll 60 replicas_are orders 3) || fail "orders has $(replicas_of orders) pods, expected 3"
(poll 60 replicas_are invoices 2) || fail "invoices has $(replicas_of invoices) pods, expected 2"
(poll 60 warm_is 4) || { show_log; fail "$(warm_count) warm pods after 5 starts; the size is min(5, ceiling 4)"; }
size_is 4 || fail "sluice_warm_pool_size $(metric "sluice_warm_pool_size$pool") with 4 warm pods"
[[ $(starts_total) == 5 ]] || fail "sluice_warm_pool_starts_total sums to $(starts_total), expected 5"
rate=$(metric "sluice_warm_pool_starts_per_minute$pool")
[[ $rate == 15 ]] || fail "sluice_warm_pool_starts_per_minute $rate; 5 starts over a 20 s window are 15 a minute"
echo "[step] 3 + 2 starts: pool size 4 (ceiling), 4 warm pods, 15 starts a minute"

# The starts leave the 20 s window: back to the floor, the warm pods go.
(poll 60 warm_is 0) || { show_log; fail "$(warm_count) warm pods after the starts left the window; expected 0"; }
size_is 0 || fail "sluice_warm_pool_size $(metric "sluice_warm_pool_size$pool") after the window; expected 0"
echo "[step] window passed: pool size 0, warm pods gone"

# One start more (a cold one: the pool is empty): one warm pod.
set_desired orders 4
(poll 60 replicas_are orders 4) || fail "orders has $(replicas_of orders) pods, expected 4"
(poll 60 warm_is 1) || { show_log; fail "$(warm_count) warm pods after one start; expected 1"; }
size_is 1 || fail "sluice_warm_pool_size $(metric "sluice_warm_pool_size$pool") after one start; expected 1"
[[ $(starts_total) == 6 ]] || fail "sluice_warm_pool_starts_total sums to $(starts_total), expected 6"
echo "[step] one start: pool size 1, 1 warm pod"
echo "PASS"
