#!/usr/bin/env bash
# Asynchronous invocations kept in RabbitMQ over TLS (real apiserver + KWOK,
# real sluice-runtime stand-ins, the test env's amqps:// listener): the
# connection Secret holds an amqps:// URL and the CA (tls.caKey); the gateway
# publishes every accepted call over TLS, the operator measures the backlog
# with it and wakes the Function from zero, and the replica consumes the queue
# and writes its output over TLS too. Every accepted call lands in the output.
# A Secret without the CA key is Ready=False SecretKeyMissing naming the field.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR RABBITMQ_AMQP_URL RABBITMQ_AMQPS_URL \
  RABBITMQ_CA_FILE RABBITMQ_HTTP_URL
source "$(dirname "$0")/gateway_lib.sh"
own_async_queues gateway-amqps
serve_through_gateway orders
k create secret generic rabbit --from-literal=url="$RABBITMQ_AMQPS_URL" \
  --from-literal=managementUrl="$RABBITMQ_HTTP_URL" --from-file=ca.crt="$RABBITMQ_CA_FILE" >/dev/null
k label secret rabbit sluice.io/scaler-access=true >/dev/null
TLS='tls: {caKey: ca.crt}'
k apply -f - >/dev/null <<YAML
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
          return json.dumps({"id": order["id"]})
  outputs:
    - name: done
      rabbitmq: {connectionSecretRef: {name: rabbit}, routingKey: "$ns-out", $TLS}
  deadLetter:
    rabbitmq: {connectionSecretRef: {name: rabbit}, routingKey: "$ns-dead", $TLS}
  retry: {maxAttempts: 2, initialBackoff: 50ms, maxBackoff: 100ms}
  scaling: {minReplicas: 0, maxReplicas: 1, cooldownSeconds: 600, pollingIntervalSeconds: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders-http}
spec:
  functionRef: {name: orders}
  http:
    path: /orders
    async:
      rabbitmq: {connectionSecretRef: {name: rabbit}, queue: "$ns-async", $TLS}
YAML
url="http://127.0.0.1:$gw_port/$ns/orders"
post_event() { post_event_to "${2:-$url/new}" "$1"; } # BODY [URL]
post_orders 20
echo "[step] 21 asynchronous calls answered 202, kept over amqps://"

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
all_landed() {
  drain_out
  [[ -z $(missing "$@") ]]
}
(poll 90 all_landed "${accepted[@]}") ||
  fail_with_logs "accepted calls missing from the output: $(missing "${accepted[@]}")"
landed=$(jq -r .id "$work/out.jsonl" | sort -u | wc -l)
[[ $landed -eq 20 ]] || fail "expected the 20 orders in the output, got $landed distinct ids"
dead_letter() {
  curl -sf -X POST -H 'content-type: application/json' \
    -d '{"count": 10, "ackmode": "ack_requeue_true", "encoding": "auto"}' "$RABBITMQ_HTTP_URL/api/queues/%2F/$ns-dead/get" \
    >"$work/dead.json" && [[ $(jq length "$work/dead.json") -ge 1 ]]
}
(poll 60 dead_letter) || fail_with_logs "the poison call never reached the dead letter over amqps://"
echo "[step] the Function woke from zero, 20 of 20 calls landed in the output and the poison one in the dead letter"

# The replica would not start without the CA: the Trigger names the missing key instead.
k create secret generic rabbit-no-ca --from-literal=url="$RABBITMQ_AMQPS_URL" >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders-no-ca}
spec:
  functionRef: {name: orders}
  rabbitmq: {connectionSecretRef: {name: rabbit-no-ca}, queue: "$ns-async", $TLS}
YAML
ready_message() { k get trigger orders-no-ca -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'; }
missing_key() { [[ $(ready_message) == "spec.rabbitmq.tls.caKey: Secret $ns/rabbit-no-ca has no key ca.crt" ]]; }
(poll 30 missing_key) || fail_with_logs "Trigger orders-no-ca Ready message: $(ready_message)"
echo "[step] a Secret without the CA key: $(ready_message)"
echo "PASS"
