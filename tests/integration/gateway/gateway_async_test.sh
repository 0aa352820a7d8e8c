# Asynchronous invocations through sluice-gateway (real apiserver + KWOK, real
# sluice-runtime stand-ins, real RabbitMQ): `X-Sluice-Invocation-Type: Event`
# is refused with 400 naming spec.http.async while the Trigger has none; with
# spec.http.async.rabbitmq every request gets 202 + X-Sluice-Request-Id, the
# queued invocations wake the Function from zero, and each lands in the
# Function's output as the same lambda HTTP event a synchronous call makes; a
# poison request (the handler raises) lands in the dead letter with the error
# after spec.retry.maxAttempts; a gateway SIGKILLed while clients are being
# answered 202 loses none of the invocations it accepted.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR RABBITMQ_AMQP_URL RABBITMQ_HTTP_URL
source "$(dirname "$0")/gateway_lib.sh"
own_async_queues gateway-async
serve_through_gateway orders
k create secret generic rabbit --from-literal=url="$RABBITMQ_AMQP_URL" \
  --from-literal=managementUrl="$RABBITMQ_HTTP_URL" >/dev/null
function_yaml() {
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: orders}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  code:
    inline: |
      import json
      def main_handler(event, context):
          order = json.loads(event["body"])
          if order.get("poison"):
              raise ValueError("poison order " + str(order["id"]))
          return json.dumps({"id": order["id"], "method": event["httpMethod"], "path": event["path"],
                             "query": event["queryStringParameters"]})
  outputs:
    - name: done
      rabbitmq: {connectionSecretRef: {name: rabbit}, routingKey: "$ns-out"}
  deadLetter:
    rabbitmq: {connectionSecretRef: {name: rabbit}, routingKey: "$ns-dead"}
  retry: {maxAttempts: 2, initialBackoff: 50ms, maxBackoff: 100ms}
  scaling:
    minReplicas: 0
    maxReplicas: 1
    cooldownSeconds: 600
    pollingIntervalSeconds: 1
YAML
}
trigger_yaml() {
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders-http}
spec:
  functionRef: {name: orders}
  http:
    path: /orders
$1
YAML
}
{ function_yaml; echo ---; trigger_yaml ""; } | k apply -f - >/dev/null
url="http://127.0.0.1:$gw_port/$ns/orders"
post_event() { post_event_to "${2:-$url/new?src=async}" "$1"; } # BODY [URL]
# No spec.http.async: a clear 4xx naming the field, nothing queued (and nothing woken).
refused_async() { [[ $(post_event '{"id": 0}') == 400 ]]; }
(poll 30 refused_async) ||
  fail_with_logs "async call without spec.http.async: HTTP $(post_event '{"id": 0}'), expected 400: $(cat "$work/body")"
grep -q "has no spec.http.async (set spec.http.async.rabbitmq" "$work/body" ||
  fail "the 400 does not name spec.http.async: $(cat "$work/body")"
status=$(curl -s -o "$work/body" -w '%{http_code}' -H 'X-Sluice-Invocation-Type: Later' "$url/")
[[ $status == 400 ]] && grep -q 'is not RequestResponse or Event' "$work/body" ||
  fail "an unknown invocation type: HTTP $status $(cat "$work/body")"
echo "[step] without spec.http.async: 400 naming the field"

trigger_yaml "    async:
      rabbitmq: {connectionSecretRef: {name: rabbit}, queue: \"$ns-async\"}" | k apply -f - >/dev/null
post_orders 20
echo "[step] 21 asynchronous calls answered 202 with a request id"

# Every output message, read (and removed) from the queue: one id a line into $work/ids.
drain_out() {
  curl -sf -X POST -H 'content-type: application/json' \
    -d '{"count": 1000, "ackmode": "ack_requeue_false", "encoding": "auto"}' \
    "$RABBITMQ_HTTP_URL/api/queues/%2F/$ns-out/get" | jq -r '.[].payload' >>"$work/out.jsonl"
}
: >"$work/out.jsonl"
missing() { # ID... : prints those not in the output
  jq -r -s --argjson want "$(printf '%s\n' "$@" | jq -s .)" '$want - [.[].id] | map(tostring) | join(" ")' \
    "$work/out.jsonl"
}
all_landed() { # ID... : each is in the output at least once
  drain_out
  [[ -z $(missing "$@") ]]
}
(poll 90 all_landed "${accepted[@]}") ||
  fail_with_logs "accepted calls missing from the output: $(missing "${accepted[@]}")"
jq -e -s 'map(select(.id == 1))[0] | .method == "POST" and .path == "/new" and .query.src == "async"' \
  "$work/out.jsonl" >/dev/null || fail "the handler saw another event: $(head -1 "$work/out.jsonl")"
poisoned=$(jq -c 'select(.id == 999)' "$work/out.jsonl")
[[ -z $poisoned ]] || fail "the poison call reached the output: $poisoned"
echo "[step] all 20 calls landed in the output as lambda HTTP events (POST /new?src=async)"

dead_letter() {
  curl -sf -X POST -H 'content-type: application/json' \
    -d '{"count": 10, "ackmode": "ack_requeue_true", "encoding": "auto"}' "$RABBITMQ_HTTP_URL/api/queues/%2F/$ns-dead/get" \
    >"$work/dead.json" && [[ $(jq length "$work/dead.json") -ge 1 ]]
}
(poll 60 dead_letter) || fail_with_logs "the poison call never reached the dead letter"
jq -e '.[0].payload | fromjson | .id == 999' "$work/dead.json" >/dev/null || fail "dead letter payload: $(cat "$work/dead.json")"
jq -e '.[0].properties.headers["x-sluice-error"] | test("poison order 999")' "$work/dead.json" >/dev/null ||
  fail "the dead letter does not carry the handler's error: $(jq -c '.[0].properties.headers' "$work/dead.json")"
jq -e '.[0].properties.headers["x-sluice-attempts"] | tostring == "2"' "$work/dead.json" >/dev/null ||
  fail "the dead letter does not say 2 attempts: $(jq -c '.[0].properties.headers' "$work/dead.json")"
echo "[step] the poison call is in the dead letter with its error after 2 attempts"

# SIGKILL the gateway while a client is being answered: every 202 it gave is delivered.
: >"$work/kill-accepted"
(
  for i in $(seq 1000 1999); do
    status=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'X-Sluice-Invocation-Type: Event' \
      -H 'Content-Type: application/json' --data "{\"id\": $i}" "$url/k" || true)
    [[ $status == 202 ]] && echo "$i" >>"$work/kill-accepted"
    [[ $status == 000 ]] && break # the gateway is gone
  done
) &
client=$!
accepted_some() { [[ $(wc -l <"$work/kill-accepted") -ge 40 ]]; }
(poll 60 accepted_some) || fail_with_logs "the client got $(wc -l <"$work/kill-accepted") 202s"
kill -KILL "$gw_pid"
wait "$client" || true
mapfile -t killed_ids <"$work/kill-accepted"
echo "[step] gateway SIGKILLed after ${#killed_ids[@]} accepted calls"
queue_states() {
  local queue
  for queue in "${queues[@]}"; do
    echo -n "$queue: $(curl -sf "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" |
      jq -c '{messages, messages_unacknowledged, consumers}'); "
  done
}
(poll 90 all_landed "${killed_ids[@]}") ||
  fail_with_logs "queues $(queue_states); accepted calls lost by the SIGKILL: $(missing "${killed_ids[@]}")"
duplicates=$(jq -r .id "$work/out.jsonl" | sort | uniq -d | wc -l)
echo "[figure] async: ${#killed_ids[@]} of ${#killed_ids[@]} calls accepted before the gateway's SIGKILL delivered ($duplicates ids delivered twice)"
echo "PASS"
