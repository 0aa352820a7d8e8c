# Shared by the autoscaler integration tests: a namespace of our own, a
# sluice-operator watching only it (FunctionController + autoscaler loop),
# and readers of the Function's status, pods and Events.
# Sourced after ../lib.sh; expects $ns to be set.
log_dir=$(mktemp -d)
operator_pid=""
extra_cleanup() { :; }
cleanup() {
  extra_cleanup || true
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  if [[ ${keep_logs:-} == 1 ]]; then echo "operator log kept in $log_dir" >&2; else rm -rf "$log_dir"; fi
}
trap cleanup EXIT
k() { "$KUBECTL" -n "$ns" "$@"; }

# A free 127.0.0.1 port for the operator's /metrics.
metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_operator() {
  local keys
  keys=$(work=${work:-$log_dir} invoke_key_dir)
  "$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
    --runtime-image sluice/runtime-python:test --metrics-bind-address "127.0.0.1:$metrics_port" \
    --invoke-key-dir "$keys" "$@" >>"$log_dir/operator.log" 2>&1 &
  operator_pid=$!
}
# The value of the first /metrics sample whose line starts with PREFIX (name{labels...).
# (One awk reads everything: a `head` would SIGPIPE the writers, which pipefail turns into a failure.)
metric_sample() { curl -sf "http://127.0.0.1:$metrics_port/metrics" | awk -v s="$1" '!found && index($0, s) { print $NF; found = 1 }'; }
fail_with_log() {
  keep_logs=1
  echo "--- operator log (last 40 lines) ---" >&2
  tail -40 "$log_dir/operator.log" >&2 || true
  fail "$@"
}

# The Function the autoscale tests drive (0..6 replicas, 5 s cooldown, a 2 s
# polling interval, no scale-down window), as YAML for a manifest of its own.
scaled_function_yaml() {
  echo_function_yaml "$1"
  cat <<YAML
  scaling:
    minReplicas: 0
    maxReplicas: 6
    cooldownSeconds: 5
    pollingIntervalSeconds: 2
    scaleDown: {stabilizationWindowSeconds: 0}
YAML
}

# kafka_trigger_yaml NAME FUNCTION [FIELD...]: a Kafka Trigger of FUNCTION on $topic as group $group from
# the earliest offset (each FIELD one more line of spec.kafka, e.g. "lagThreshold: 10"), as YAML.
kafka_trigger_yaml() {
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $1}
spec:
  functionRef: {name: $2}
  kafka:
    bootstrapServers: ["$KAFKA_BOOTSTRAP"]
    topics: ["$topic"]
    consumerGroup: "$group"
    initialOffset: earliest
YAML
  local field
  for field in "${@:3}"; do echo "    $field"; done
}

desired() { k get fn "$1" -o jsonpath='{.status.desiredReplicas}'; }
desired_is() { [[ $(desired "$1") == "$2" ]]; }
desired_above_zero() { local d; d=$(desired "$1"); [[ -n $d && $d -gt 0 ]]; }
live_count() {
  k get pods -l "sluice.io/function=$1" -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'
}
ready_count() {
  k get pods -l "sluice.io/function=$1" -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null) | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length'
}
pods_are() { [[ $(live_count "$1") -eq $2 ]]; }
ready_are() { [[ $(ready_count "$1") -eq $2 ]]; }
# trigger_status_is TRIGGER VALUE/ACTIVE: the Trigger's status.metricValue and status.active.
trigger_status_is() { [[ $(k get trigger "$1" -o jsonpath='{.status.metricValue}/{.status.active}') == "$2" ]]; }
metric_value_is() { [[ $(k get fn "$1" -o jsonpath='{.status.metrics[0].value}') == "$2" ]]; }
# Milliseconds since the epoch of the operator's first log line matching PATTERN (spdlog's local time).
log_time_ms() {
  local line
  line=$(grep -m1 -- "$1" "$log_dir/operator.log") || return 1
  date -d "$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}' <<<"$line" | sed -n 1p | tr T ' ')" +%s%3N
}
event_reasons() {
  k get events --field-selector "involvedObject.kind=Function,involvedObject.name=$1" -o jsonpath='{.items[*].reason}'
}
# The autoscaler writes the Function's status, then records its Events, then
# writes the Trigger's status, then its /metrics: after waiting for one, the
# next must be polled for too, never read once.
# event_reason_seen FUNCTION GLOB: an Event of FUNCTION has a reason matching GLOB.
# shellcheck disable=SC2053 # GLOB is a pattern on purpose
event_reason_seen() { [[ $(event_reasons "$1") == $2 ]]; }
metric_sample_is() { [[ $(metric_sample "$1") == "$2" ]]; }
# holds SECONDS CMD...: CMD is true at every look (every 0.5 s) for SECONDS; a
# value that leaves and comes back between two single reads is still seen.
holds() {
  local deadline=$((SECONDS + $1))
  shift
  while ((SECONDS < deadline)); do
    "$@" || return 1
    sleep 0.5
  done
}
