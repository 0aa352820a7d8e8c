# Shared by the --local tests that start sluice-operator themselves (sourced
# after ../lib.sh): a scratch directory $work with manifests/ in it, the
# operator stopped on exit with SIGINT (it drains its processes; its log is
# shown when the test failed), start_local_operator and replicas.

work=$(mktemp -d)
op_pid=
cleanup() {
  local code=$?
  [[ -n $op_pid ]] && kill -INT "$op_pid" 2>/dev/null && wait "$op_pid" 2>/dev/null
  ((code == 0)) || { echo "--- operator log (last 40 lines)"; tail -40 "$work/operator.log"; }
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/manifests"

# start_local_operator: `sluice-operator --local $work/manifests`, /metrics on $port, its gateway on $gw_port.
start_local_operator() {
  port=$(free_port)
  gw_port=$(free_port)
  "$SLUICE_BUILD_DIR/sluice-operator" --local "$work/manifests" --metrics-bind-address "127.0.0.1:$port" \
    --gateway-listen-address "127.0.0.1:$gw_port" --warm-pool 1 --drain-grace 5 >"$work/operator.log" 2>&1 &
  op_pid=$!
}

# at_zero FUNCTION: whether default/FUNCTION has no process now; $peak keeps the most seen.
peak=0
at_zero() {
  local n
  n=$(replicas "$1")
  ((n > peak)) && peak=$n
  ((n == 0))
}

# replicas FUNCTION: how many processes of default/FUNCTION are starting or ready.
replicas() {
  curl -sf "http://127.0.0.1:$port/metrics" |
    awk -v fn="function=\"default/$1\"" '/^sluice_local_replicas\{/ && index($0, fn) && /state="(starting|ready)"/ {n += $2}
      END {print n + 0}'
}
