#!/usr/bin/env bash
# spec.protocol http under `sluice-operator --local` (docs/handler-images.md):
# nothing starts the image there, so the user runs the handler server — here
# the e2e image's own Node.js handler (images/byo/node-handler.js) on a free
# port, named by spec.http.port — and the local replica, the real
# sluice-runtime, delivers each record of a real Kafka topic to it over
# localhost. 1,000 records all reach the output topic, and the poison record
# the handler answers 500 to is dead-lettered after its two attempts with
# the answer in x-sluice-error.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR KAFKA_BOOTSTRAP KAFKA_TOPICS
source "$(dirname "$0")/local_lib.sh"
[[ -x /usr/bin/node ]] || fail "/usr/bin/node is not installed"
fn=$(unique_name byo-local)
for topic in in out dead; do
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$fn-$topic" --partitions 2 \
    --replication-factor 1 >/dev/null || fail "creating topic $fn-$topic"
done
node_port=$(free_port)
PORT=$node_port /usr/bin/node "$SLUICE_SOURCE_DIR/images/byo/node-handler.js" >"$work/node.log" 2>&1 &
node_pid=$!
trap 'kill "$node_pid" 2>/dev/null; for t in in out dead; do
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$fn-$t" >/dev/null 2>&1; done; cleanup' EXIT

cat >"$work/manifests/byo.yaml" <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $fn}
spec:
  image: registry.example/team/node-handler:1
  protocol: http
  http: {port: $node_port}
  concurrency: 8
  retry: {maxAttempts: 2, initialBackoff: 50ms}
  outputs:
  - kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topic: "$fn-out"}
  deadLetter:
    kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topic: "$fn-dead"}
  scaling: {minReplicas: 1, maxReplicas: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $fn}
spec:
  functionRef: {name: $fn}
  kafka:
    bootstrapServers: ["$KAFKA_BOOTSTRAP"]
    topics: ["$fn-in"]
    consumerGroup: "$fn"
    initialOffset: earliest
YAML
start_local_operator

for i in $(seq 1 1000); do printf '{"id":"l-%d"}\n' "$i"; done >"$work/sent"
{ head -n 500 "$work/sent"; echo poison; tail -n +501 "$work/sent"; } |
  kcat -P -b "$KAFKA_BOOTSTRAP" -t "$fn-in" -X acks=all || fail "producing to $fn-in"
values() { kcat -C -b "$KAFKA_BOOTSTRAP" -t "$1" -o beginning -e -q -f '%s\n' 2>/dev/null; }
out_complete() { [[ $(values "$fn-out" | grep -c .) -ge 1000 ]]; }
poll 180 out_complete || fail "$(values "$fn-out" | grep -c .) of 1000 records reached $fn-out"
dead_one() { [[ $(values "$fn-dead" | grep -c .) -ge 1 ]]; }
poll 60 dead_one || fail "the poison record was not dead-lettered"
sleep 2 # a duplicate or a second dead letter would arrive now
values "$fn-out" | jq -r .id | sort -u >"$work/received.ids"
jq -r .id "$work/sent" | sort >"$work/sent.ids"
lost=$(comm -23 "$work/sent.ids" "$work/received.ids" | wc -l)
((lost == 0)) || fail "$lost of 1000 records lost (first: $(comm -23 "$work/sent.ids" "$work/received.ids" | head -3 | tr '\n' ' '))"
[[ $(values "$fn-out" | jq -r .handledBy | sort -u) == "node $(/usr/bin/node --version)" ]] ||
  fail "the output records were not handled by the node server: $(values "$fn-out" | head -1)"
[[ $(values "$fn-dead") == poison ]] || fail "the dead letter holds: $(values "$fn-dead" | head -3 | tr '\n' ' ')"
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$fn-dead" -o beginning -e -q -f '%h\n' 2>/dev/null |
  grep -q 'http handler answered HTTP 500: poison record refused' || fail "the dead letter does not carry the HTTP 500"
echo "PASS: --local delivered 1000 of 1000 Kafka records to the node handler on port $node_port, the poison record dead-lettered"
