# Shared by the gateway integration tests (real apiserver + KWOK): a
# sluice-gateway watching the test's namespace, optionally a sluice-operator
# that knows it (status.url, the http scaler on its /loads), and real
# sluice-runtime stand-ins for the Function's KWOK pods, started on each
# Ready pod's IP as it appears and stopped when the pod goes.
# Sourced after ../lib.sh and own_namespace (which set $ns, $work, $pids).
# shellcheck source=tests/integration/standins_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../standins_lib.sh"

# start_gateway NAME [FLAGS...]: a gateway (SLUICE_GATEWAY_BINARY, default the
# build's) whose process is ${NAME}_pid, public port ${NAME}_port
# and admin port ${NAME}_admin; waits until it has loaded its routes.
start_gateway() {
  local name=$1
  shift
  start_gateway_at "$name" "$(free_port)" "$(free_port)" "$@"
}

# start_gateway_at NAME PORT ADMIN_PORT [FLAGS...]: start_gateway on these ports
# (a gateway restarted where the operator already looks for it).
start_gateway_at() {
  local name=$1 port=$2 admin=$3
  shift 3
  "${SLUICE_GATEWAY_BINARY:-$SLUICE_BUILD_DIR/sluice-gateway}" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
    --listen-address "127.0.0.1:$port" --admin-address "127.0.0.1:$admin" --invoke-key-dir "$(invoke_key_dir)" \
    "$@" >>"$work/$name.log" 2>&1 &
  pids+=($!)
  printf -v "${name}_pid" %s "$!"
  printf -v "${name}_port" %s "$port"
  printf -v "${name}_admin" %s "$admin"
  poll 30 curl -sf "http://127.0.0.1:$admin/readyz" -o /dev/null ||
    fail_with_logs "gateway $name: not ready on 127.0.0.1:$admin/readyz within 30 s"
}

# start_operator_with_gateway GATEWAY [FLAGS...]: the operator of $ns, told the gateway's URL and /loads.
start_operator_with_gateway() {
  local port_var="${1}_port" admin_var="${1}_admin"
  shift
  "$SLUICE_BUILD_DIR/sluice-operator" "$@" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
    --runtime-image sluice/runtime-python:test --metrics-bind-address "127.0.0.1:$(free_port)" \
    --gateway-url "http://127.0.0.1:${!port_var}" --gateway-loads-url "http://127.0.0.1:${!admin_var}/loads" \
    --invoke-key-dir "$(invoke_key_dir)" >>"$work/operator.log" 2>&1 &
  pids+=($!)
}

# serve_through_gateway FUNCTION: the CRDs, $ns, a gateway "gw" ($gw_port, $gw_admin),
# the operator told about it, and stand-ins for FUNCTION's pods.
serve_through_gateway() {
  apply_crds
  "$KUBECTL" create namespace "$ns" >/dev/null
  start_gateway gw
  start_operator_with_gateway gw
  standins "$1"
}

desired() { k get fn "$1" -o jsonpath='{.status.desiredReplicas}'; }
desired_is() { [[ $(desired "$1") == "$2" ]]; }
live_count() {
  k get pods -l "sluice.io/function=$1" -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'
}
pods_are() { [[ $(live_count "$1") -eq $2 ]]; }
show_logs() {
  local file
  for file in "$work"/*.log "$work"/standins/*.log; do
    [[ -e $file ]] || continue
    echo "--- $(basename "$file") (last 30 lines) ---" >&2
    tail -30 "$file" >&2
  done
}
fail_with_logs() {
  show_logs
  fail "$@"
}

# post_event_to URL BODY: an asynchronous call (X-Sluice-Invocation-Type: Event) with a JSON body; prints
# the HTTP status, keeps the answer's headers in $work/headers and its body in $work/body.
post_event_to() {
  curl -s -m 30 -o "$work/body" -D "$work/headers" -w '%{http_code}' -H 'X-Sluice-Invocation-Type: Event' \
    -H 'Content-Type: application/json' --data "$2" "$1"
}
# accepted_request_id: the X-Sluice-Request-Id of the last answer (a 202), failing the test unless it is
# 32 hex digits and the body's requestId says the same.
accepted_request_id() {
  local id
  id=$(grep -i '^X-Sluice-Request-Id:' "$work/headers" | tr -d '\r' | awk '{print $2}')
  [[ $id =~ ^[0-9a-f]{32}$ ]] || fail "202 without a request id header: $(cat "$work/headers")"
  jq -e --arg id "$id" '.requestId == $id' "$work/body" >/dev/null || fail "202 body: $(cat "$work/body")"
  echo "$id"
}
# post_orders N: through post_event (the test's: BODY [URL]), order 1 until accepted, then orders 2..N
# and a poison one (id 999), each {"id": I, "note": "order I"}; every one must get 202. Sets
# request_id (order 1's) and accepted (the ids 1..N).
post_orders() {
  local i status
  accepts() { [[ $(post_event '{"id": 1, "note": "order 1"}') == 202 ]]; }
  (poll 30 accepts) || fail_with_logs "async call: HTTP $(post_event '{"id": 1, "note": "order 1"}'): $(cat "$work/body")"
  request_id=$(accepted_request_id) || exit 1
  accepted=(1)
  for i in $(seq 2 "$1"); do
    status=$(post_event "{\"id\": $i, \"note\": \"order $i\"}")
    [[ $status == 202 ]] || fail_with_logs "async call $i: HTTP $status $(cat "$work/body")"
    accepted+=("$i")
  done
  status=$(post_event '{"id": 999, "poison": true}')
  [[ $status == 202 ]] || fail_with_logs "poison call: HTTP $status"
}

# own_async_queues PREFIX: own_namespace PREFIX, with the queues of an asynchronous test
# ($ns-async, $ns-out, $ns-dead) deleted at exit with the stand-ins and the namespace,
# and the output and dead-letter queues declared now (the async one is the Trigger's).
own_async_queues() {
  own_namespace "$1"
  queues=("$ns-async" "$ns-out" "$ns-dead")
  trap 'stop_standins; _delete_async_queues; _own_namespace_cleanup' EXIT
  local queue
  for queue in "$ns-out" "$ns-dead"; do
    amqp-declare-queue --url "$RABBITMQ_AMQP_URL" --durable -q "$queue" >/dev/null || fail "declaring queue $queue"
  done
}
_delete_async_queues() {
  local queue
  for queue in "${queues[@]}"; do curl -sf -X DELETE "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" >/dev/null 2>&1; done
}
