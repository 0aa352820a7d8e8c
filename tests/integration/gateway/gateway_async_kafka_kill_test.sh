# A gateway SIGKILLed while it answers asynchronous calls kept in Kafka (real
# apiserver + KWOK, real sluice-runtime stand-ins, real Kafka) loses none of
# the invocations it answered 202: two clients send `X-Sluice-Invocation-Type:
# Event` requests at once, the gateway is killed with requests in flight, and
# every id that got 202 lands in the Function's output at least once. A 202
# comes only after Kafka acknowledged the record (acks=all), so the kill can
# cut off answers but not lose what was answered. The RabbitMQ counterpart is
# the last step of gateway_async_test.sh.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR KAFKA_BOOTSTRAP KAFKA_TOPICS
source "$(dirname "$0")/gateway_lib.sh"
own_namespace gateway-async-kafka-kill
topics=("$ns-async" "$ns-out")
delete_topics() {
  local topic
  for topic in "${topics[@]}"; do "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$topic" >/dev/null 2>&1; done
}
trap 'stop_standins; delete_topics; _own_namespace_cleanup' EXIT

"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$ns-async" --partitions 3 \
  --replication-factor 1 >/dev/null || fail "creating topic $ns-async"
"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$ns-out" --partitions 1 \
  --replication-factor 1 >/dev/null || fail "creating topic $ns-out"
serve_through_gateway orders
# One replica from the start: what is checked is the gateway's promise, not waking from zero
# (gateway_async_kafka_test shows that), and the replica reads Kafka without the gateway.
k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: orders}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  concurrency: 4
  code:
    inline: |
      import json
      def main_handler(event, context):
          return json.dumps({"id": json.loads(event["body"])["id"]})
  outputs:
    - name: done
      kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topic: "$ns-out"}
  scaling:
    minReplicas: 1
    maxReplicas: 1
    pollingIntervalSeconds: 1
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders-http}
spec:
  functionRef: {name: orders}
  http:
    path: /orders
    async:
      kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topic: "$ns-async"}
YAML
url="http://127.0.0.1:$gw_port/$ns/orders/k"

# The output topic, read from the start: one JSON result a line into $work/out.jsonl.
read_out() { kcat -C -b "$KAFKA_BOOTSTRAP" -t "$ns-out" -o beginning -e -q >"$work/out.jsonl" 2>/dev/null; }
missing() { # ID... : prints those not in the output
  jq -r -s --argjson want "$(printf '%s\n' "$@" | jq -s .)" '$want - [.[].id] | map(tostring) | join(" ")' \
    "$work/out.jsonl"
}
all_landed() { read_out && [[ -z $(missing "$@") ]]; }
# Before the kill, the whole path works: the gateway routes the Trigger, Kafka keeps the
# record, the replica consumes it into the output.
accepts() { [[ $(post_event_to "$url" '{"id": 1}') == 202 ]]; }
(poll 60 accepts) || fail_with_logs "async call: HTTP $(post_event_to "$url" '{"id": 1}'): $(cat "$work/body")"
(poll 120 all_landed 1) || fail_with_logs "the first accepted call never reached the output"
echo "[step] an accepted call reaches the output through Kafka"

# client FIRST LAST: posts ids FIRST..LAST one after the other until the gateway is gone;
# appends each id to kill-accepted (202), kill-cut (no answer: the kill) or kill-refused.
client() {
  local i status
  for i in $(seq "$1" "$2"); do
    status=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'X-Sluice-Invocation-Type: Event' \
      -H 'Content-Type: application/json' --data "{\"id\": $i}" "$url" || true)
    case $status in
      202) echo "$i" >>"$work/kill-accepted" ;;
      000) echo "$i" >>"$work/kill-cut" && return 0 ;;
      *) echo "$i $status" >>"$work/kill-refused" ;;
    esac
  done
}
: >"$work/kill-accepted"
: >"$work/kill-cut"
: >"$work/kill-refused"
client 1000 2999 &
first=$!
client 3000 4999 &
second=$!
accepted_some() { [[ $(wc -l <"$work/kill-accepted") -ge 40 ]]; }
(poll 60 accepted_some) || fail_with_logs "the clients got $(wc -l <"$work/kill-accepted") 202s before the kill"
kill -KILL "$gw_pid"
wait "$first" "$second" || true
mapfile -t killed_ids <"$work/kill-accepted"
cut=$(wc -l <"$work/kill-cut")
refused=$(wc -l <"$work/kill-refused")
# Both clients were still sending when the gateway died (each stopped on an unanswered request):
# the kill hit the gateway while it was accepting, not after the clients were done.
[[ $cut -eq 2 ]] || fail "$cut of 2 clients were cut off by the kill (refused: $(head -3 "$work/kill-refused"))"
echo "[step] gateway SIGKILLed after ${#killed_ids[@]} accepted calls, 2 requests cut off, $refused refused"

(poll 120 all_landed "${killed_ids[@]}") ||
  fail_with_logs "accepted calls lost by the SIGKILL: $(missing "${killed_ids[@]}")"
# Nothing but what was sent: every id in the output is one of the posted ones.
strangers=$(jq -r 'select(.id != 1 and (.id < 1000 or .id > 4999)) | .id' "$work/out.jsonl")
[[ -z $strangers ]] || fail "ids in the output that were never sent: $strangers"
duplicates=$(jq -r .id "$work/out.jsonl" | sort | uniq -d | wc -l)
cut_delivered=$(jq -r .id "$work/out.jsonl" | grep -cxFf "$work/kill-cut" || true)
echo "[figure] async on kafka: ${#killed_ids[@]} of ${#killed_ids[@]} calls accepted before the gateway's SIGKILL" \
  "delivered ($duplicates ids delivered twice; $cut_delivered of the 2 cut off delivered too, as may be)"
echo "PASS"
