#!/usr/bin/env bash
# RabbitMQ (RABBITMQ_AMQP_URL, RABBITMQ_HTTP_URL): N messages published to a new
# queue show as depth N over the management HTTP API, all N come back when
# consumed, and the depth then returns to 0. The TLS listener
# (RABBITMQ_AMQPS_URL) takes a publish from a client trusting RABBITMQ_CA_FILE
# and refuses one trusting another CA.
source "$(dirname "$0")/../lib.sh"
require_env RABBITMQ_AMQP_URL RABBITMQ_HTTP_URL RABBITMQ_AMQPS_URL RABBITMQ_CA_FILE

N=40
queue=$(unique_name sluice-testenv-q)
work=$(mktemp -d)
cleanup() {
  curl -sf -X DELETE "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Depth as the management API reports it (ready + unacknowledged); "none" when unknown.
queue_depth() {
  curl -sf "$RABBITMQ_HTTP_URL/api/queues/%2F/$queue" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("messages", "none"))' 2>/dev/null ||
    echo none
}
depth_is() { [[ $(queue_depth) == "$1" ]]; }

amqp-declare-queue --url "$RABBITMQ_AMQP_URL" --durable -q "$queue" >/dev/null ||
  fail "declaring queue $queue"
for i in $(seq 1 "$N"); do
  amqp-publish --url "$RABBITMQ_AMQP_URL" -r "$queue" -p -b "message-$i" ||
    fail "publishing message $i to $queue"
done

# Management statistics are refreshed periodically, so the depth lags the publishes.
(poll 60 depth_is "$N") || fail "queue depth over the management API: expected $N, got $(queue_depth)"

# amqp-consume runs the command once per message (and acks it after); stop after N.
timeout 60 amqp-consume --url "$RABBITMQ_AMQP_URL" -q "$queue" -c "$N" -- sh -c 'cat; echo' \
  >"$work/received" || fail "consuming $N messages from $queue (got $(wc -l <"$work/received"))"
received=$(sort -u "$work/received" | wc -l)
[[ $received -eq $N ]] || fail "expected $N distinct messages from $queue, got $received"
diff <(seq -f "message-%g" 1 "$N" | sort) <(sort "$work/received") >/dev/null ||
  fail "the consumed bodies differ from those published"

(poll 60 depth_is 0) || fail "queue depth after consuming: expected 0, got $(queue_depth)"

amqp-publish --url "$RABBITMQ_AMQPS_URL" --ssl --cacert="$RABBITMQ_CA_FILE" -r "$queue" -b over-tls ||
  fail "publishing over TLS trusting the test env's CA"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=another CA" -keyout "$work/other.key" \
  -out "$work/other.crt" 2>/dev/null || fail "making another CA"
if amqp-publish --url "$RABBITMQ_AMQPS_URL" --ssl --cacert="$work/other.crt" -r "$queue" -b wrong-ca 2>/dev/null; then
  fail "the TLS listener was trusted through a CA that did not sign its certificate"
fi
got=$(timeout 30 amqp-get --url "$RABBITMQ_AMQP_URL" -q "$queue") || fail "reading the TLS publish back"
[[ $got == over-tls ]] || fail "expected the TLS publish (over-tls) on the plain listener, got: $got"
(poll 60 depth_is 0) || fail "queue depth after the TLS checks: expected 0, got $(queue_depth)"
echo "PASS: $N messages published, depth $N seen over the management API, $N consumed, depth 0; TLS listener" \
  "verified by its CA only"
