# Asynchronous invocations kept in Kafka (real apiserver + KWOK, real
# sluice-runtime stand-ins, real Kafka): with spec.http.async.kafka, 200
# `X-Sluice-Invocation-Type: Event` requests sent while the Function is at
# zero each get 202 + X-Sluice-Request-Id once Kafka acknowledged the record;
# the topic's lag wakes the Function, and every invocation lands in the
# Function's output (a Kafka topic) with the method, path, query and body it
# was sent with — none lost; a poison one (the handler raises) lands in the
# dead letter with the handler's error after spec.retry.maxAttempts; brokers
# that do not acknowledge give 503 + Retry-After, never a 202. The
# gateway's /loads counts the 202s in the Function's requestsPerSecond.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR KAFKA_BOOTSTRAP KAFKA_TOPICS
source "$(dirname "$0")/gateway_lib.sh"
own_namespace gateway-async-kafka
topics=("$ns-async" "$ns-out" "$ns-dead")
delete_topics() {
  local topic
  for topic in "${topics[@]}"; do "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$topic" >/dev/null 2>&1; done
}
trap 'stop_standins; delete_topics; _own_namespace_cleanup' EXIT

"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$ns-async" --partitions 3 \
  --replication-factor 1 >/dev/null || fail "creating topic $ns-async"
for topic in "$ns-out" "$ns-dead"; do
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" --partitions 1 \
    --replication-factor 1 >/dev/null || fail "creating topic $topic"
done
serve_through_gateway orders
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
          order = json.loads(event["body"])
          if order.get("poison"):
              raise ValueError("poison order " + str(order["id"]))
          return json.dumps({"id": order["id"], "body": event["body"], "method": event["httpMethod"],
                             "path": event["path"], "query": event["queryStringParameters"]})
  outputs:
    - name: done
      kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topic: "$ns-out"}
  deadLetter:
    kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topic: "$ns-dead"}
  retry: {maxAttempts: 2, initialBackoff: 50ms, maxBackoff: 100ms}
  scaling:
    minReplicas: 0
    maxReplicas: 1
    cooldownSeconds: 600
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
url="http://127.0.0.1:$gw_port/$ns/orders"
post_event() { post_event_to "${2:-$url/new?src=kafka}" "$1"; } # BODY [URL]
post_orders 200
rate=$(curl -sf "http://127.0.0.1:$gw_admin/loads" |
  jq -r --arg ns "$ns" '.functions[] | select(.namespace == $ns and .name == "orders") | .requestsPerSecond')
[[ -n $rate ]] && jq -e -n --argjson r "$rate" '$r > 0' >/dev/null ||
  fail_with_logs "the gateway's /loads does not count the 202s in requestsPerSecond: '$rate'"
echo "[step] 201 asynchronous calls answered 202 with a request id (requestsPerSecond $rate on /loads)"
# The envelope: the request id is the record's key, method and path ride in its headers, the body is its value.
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$ns-async" -o beginning -e -q -J >"$work/async.jsonl" 2>/dev/null ||
  fail "reading topic $ns-async"
[[ $(wc -l <"$work/async.jsonl") -eq 201 ]] || fail "$(wc -l <"$work/async.jsonl") records in $ns-async, expected 201"
jq -e -s --arg id "$request_id" 'map(select(.key == $id))[0] | .payload == "{\"id\": 1, \"note\": \"order 1\"}"
       and (.headers | index("sluice.http.method")) != null and (.headers | index("POST")) != null' \
  "$work/async.jsonl" >/dev/null || fail "the record of request $request_id: $(grep -m1 "$request_id" "$work/async.jsonl")"

# The output topic, read from the start: one JSON result a line into $work/out.jsonl.
read_out() { kcat -C -b "$KAFKA_BOOTSTRAP" -t "$ns-out" -o beginning -e -q >"$work/out.jsonl" 2>/dev/null; }
missing() { # ID... : prints those not in the output
  jq -r -s --argjson want "$(printf '%s\n' "$@" | jq -s .)" '$want - [.[].id] | map(tostring) | join(" ")' \
    "$work/out.jsonl"
}
all_landed() { read_out && [[ -z $(missing "$@") ]]; }
(poll 120 all_landed "${accepted[@]}") ||
  fail_with_logs "accepted calls missing from the output: $(missing "${accepted[@]}")"
# Each exactly as sent: its body byte for byte, the method, path and query it came with.
wrong=$(jq -r 'select(.body != "{\"id\": \(.id), \"note\": \"order \(.id)\"}" or .method != "POST" or .path != "/new"
                      or .query.src != "kafka") | .id' "$work/out.jsonl")
[[ -z $wrong ]] || fail "results not as sent for ids: $wrong ($(head -1 "$work/out.jsonl"))"
poisoned=$(jq -c 'select(.id == 999)' "$work/out.jsonl")
[[ -z $poisoned ]] || fail "the poison call reached the output: $poisoned"
distinct=$(jq -r .id "$work/out.jsonl" | sort -u | wc -l)
[[ $distinct -eq 200 ]] || fail "$distinct distinct ids in the output, expected 200"
duplicates=$(($(wc -l <"$work/out.jsonl") - distinct))
echo "[figure] async on kafka: 200 of 200 accepted calls in the output, 0 lost ($duplicates delivered twice)"

dead_letter() {
  kcat -C -b "$KAFKA_BOOTSTRAP" -t "$ns-dead" -o beginning -e -q -J >"$work/dead.jsonl" 2>/dev/null &&
    [[ $(wc -l <"$work/dead.jsonl") -ge 1 ]]
}
(poll 60 dead_letter) || fail_with_logs "the poison call never reached the dead letter"
[[ $(wc -l <"$work/dead.jsonl") -eq 1 ]] || fail "$(wc -l <"$work/dead.jsonl") dead letters, expected 1"
jq -e '.payload | fromjson | .id == 999' "$work/dead.jsonl" >/dev/null || fail "dead letter payload: $(cat "$work/dead.jsonl")"
header() { jq -r --arg name "$1" '.headers as $h | [range(0; $h | length; 2) | select($h[.] == $name) | $h[. + 1]][0]' "$work/dead.jsonl"; }
[[ $(header x-sluice-error) == *"poison order 999"* ]] ||
  fail "the dead letter does not carry the handler's error: $(jq -c .headers "$work/dead.jsonl")"
[[ $(header x-sluice-attempts) == 2 ]] ||
  fail "the dead letter does not say 2 attempts: $(jq -c .headers "$work/dead.jsonl")"
echo "[step] the poison call is in the dead letter with its error after 2 attempts"
# Brokers that never acknowledge (nothing listens there): 503 + Retry-After once the confirm timeout is
# over, not a 202 for an invocation that was not kept.
k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders-http}
spec:
  functionRef: {name: orders}
  http:
    path: /orders
    async:
      kafka: {bootstrapServers: ["127.0.0.1:$(free_port)"], topic: "$ns-async"}
YAML
refused_unkept() { [[ $(post_event '{"id": 5000}') == 503 ]]; }
(poll 60 refused_unkept) || fail_with_logs "async call to silent brokers: HTTP $(post_event '{"id": 5000}'), expected 503"
grep -qi '^Retry-After: 1' "$work/headers" || fail "the 503 has no Retry-After: $(cat "$work/headers")"
# librdkafka's own report ("Message timed out"), or the publisher's wait for it ("no acknowledgement
# within N ms") when that report comes later still: either names the topic and the cause.
grep -qE 'the invocation could not be kept \(kafka topic .*(Message timed out|no acknowledgement within [0-9]+ ms)\); it was not accepted, try again' \
  "$work/body" || fail "the 503 does not say why: $(cat "$work/body")"
echo "[step] brokers that do not acknowledge: 503 + Retry-After, nothing accepted"
echo "PASS"
