#!/usr/bin/env bash
# Asynchronous invocations under `sluice-operator --local`: the local gateway
# takes `X-Sluice-Invocation-Type: Event` for a Trigger with spec.http.async
# the way the cluster's does — on RabbitMQ (the AMQP URL from the Secret among
# the manifests of DIR, each invocation confirmed before 202) and on Kafka
# (acknowledged with acks=all) — and the local replicas consume the queue or
# topic: each Function at zero wakes on its backlog and every handler result
# lands in its output directory. A Trigger without spec.http.async is refused
# with 400 naming it.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR RABBITMQ_AMQP_URL RABBITMQ_HTTP_URL KAFKA_BOOTSTRAP KAFKA_TOPICS
source "$(dirname "$0")/local_lib.sh"
queue=$(unique_name local-async)
trap 'curl -sf -X DELETE "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" >/dev/null 2>&1
  "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$queue" >/dev/null 2>&1; cleanup' EXIT
"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$queue" --partitions 1 \
  --replication-factor 1 >/dev/null || fail "creating topic $queue"
mkdir -p "$work/out" "$work/out-kafka"

# orders_yaml NAME OUTPUT_DIR ASYNC: a Function echoing each order's id, method and path into
# OUTPUT_DIR, and its http Trigger with `async: ASYNC`.
orders_yaml() {
  cat <<YAML
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $1}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  code:
    inline: |
      import json
      def main_handler(event, context):
          order = json.loads(event["body"])
          return json.dumps({"id": order["id"], "method": event["httpMethod"], "path": event["path"]})
  outputs:
    - dir: {path: "$2"}
  scaling: {minReplicas: 0, maxReplicas: 1, cooldownSeconds: 600, pollingIntervalSeconds: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $1-http}
spec:
  functionRef: {name: $1}
  http: {path: /orders, async: $3}
YAML
}
{
  cat <<YAML
apiVersion: v1
kind: Secret
metadata: {name: rabbit}
stringData: {url: "$RABBITMQ_AMQP_URL", managementUrl: "$RABBITMQ_HTTP_URL"}
YAML
  orders_yaml orders "$work/out" "{rabbitmq: {connectionSecretRef: {name: rabbit}, queue: \"$queue\"}}"
  orders_yaml kafka-orders "$work/out-kafka" "{kafka: {bootstrapServers: [\"$KAFKA_BOOTSTRAP\"], topic: \"$queue\"}}"
  cat <<YAML
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: sync-only}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return "ok"
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: sync-only-http}
spec:
  functionRef: {name: sync-only}
  http: {path: /}
YAML
} >"$work/manifests/orders.yaml"
start_local_operator
url_logged() { grep -q "local: Function default/$1 answers HTTP at http://127.0.0.1:$gw_port/default/$1$" \
  "$work/operator.log"; } # FUNCTION
for function in orders kafka-orders sync-only; do poll 20 url_logged "$function"; done
post_event() { # URL BODY -> prints the HTTP status; the answer in $work/body
  curl -s -m 30 -o "$work/body" -w '%{http_code}' -H 'X-Sluice-Invocation-Type: Event' \
    -H 'Content-Type: application/json' --data "$2" "$1"
}
for function in orders kafka-orders; do
  for i in 1 2 3 4 5; do
    status=$(post_event "http://127.0.0.1:$gw_port/default/$function/new" "{\"id\": $i}")
    [[ $status == 202 ]] || fail "async call $i of $function under --local: HTTP $status, expected 202: $(cat "$work/body")"
    jq -e '.requestId | test("^[0-9a-f]{32}$")' "$work/body" >/dev/null || fail "202 body: $(cat "$work/body")"
  done
done
echo "[step] 5 asynchronous calls each through RabbitMQ and Kafka answered 202 by the local gateway"

status=$(post_event "http://127.0.0.1:$gw_port/default/sync-only/" '{"id": 0}')
[[ $status == 400 ]] || fail "async call of a Trigger without spec.http.async: HTTP $status, expected 400"
grep -q "its Trigger default/sync-only-http has no spec.http.async" "$work/body" ||
  fail "the 400 does not name spec.http.async: $(cat "$work/body")"

results() { cat "$work/$1"/* 2>/dev/null | jq -s -c 'map(.id) | sort'; } # OUTPUT_DIR
all_results() { [[ $(results "$1") == '[1,2,3,4,5]' ]]; }
for out in out out-kafka; do
  (poll 60 all_results "$out") || fail "$out holds $(results "$out"), expected [1,2,3,4,5]"
  cat "$work/$out"/* | jq -e -s 'all(.method == "POST" and .path == "/new")' >/dev/null ||
    fail "the handler saw other events: $(cat "$work/$out"/* | head -c 300)"
done
echo "PASS: 5 asynchronous invocations each through RabbitMQ and Kafka under --local reached the handler and the output"
