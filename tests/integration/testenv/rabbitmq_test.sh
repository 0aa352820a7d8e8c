#!/usr/bin/env bash
# RabbitMQ (RABBITMQ_AMQP_URL, RABBITMQ_HTTP_URL): N messages published to a new
# queue show as depth N over the management HTTP API, all N come back when
# consumed, and the depth then returns to 0.
source "$(dirname "$0")/../lib.sh"
require_env RABBITMQ_AMQP_URL RABBITMQ_HTTP_URL

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
echo "PASS: $N messages published, depth $N seen over the management API, $N consumed, depth 0"
