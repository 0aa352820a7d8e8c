#!/usr/bin/env bash
# `sluice dlq redrive` killed (SIGKILL) part-way, then run again, on Kafka
# and on RabbitMQ: no dead letter is lost and at most the one in flight is
# re-injected twice. The dead letters are written straight into the
# dead-letter topic and queue (with the runtime's x-sluice-* headers); the
# Trigger's source has no consumer, so what the redrives put there is counted
# exactly. The kill comes once the source holds a tenth of them (a count,
# not a time); the test fails if the redrive had already finished.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR KAFKA_BOOTSTRAP KAFKA_TOPICS RABBITMQ_AMQP_URL RABBITMQ_HTTP_URL

apply_crds
own_namespace cli-dlq-kill
"$KUBECTL" create namespace "$ns" >/dev/null
src=$(unique_name dlqk-src)
dead=$(unique_name dlqk-dead)
cleanup_all() {
  drop_topics "$src" "$dead"
  drop_queues "$src" "$dead"
  _own_namespace_cleanup
}
trap cleanup_all EXIT

make_topics "$src" "$dead"
make_queues "$src" "$dead"
"$KUBECTL" apply -f - >/dev/null <<YAML || fail "applying the Functions"
apiVersion: v1
kind: Secret
metadata: {name: rabbit, namespace: $ns}
stringData: {url: "$RABBITMQ_AMQP_URL"}
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: k, namespace: $ns}
spec: {runtime: python3.11, handler: index.main_handler, code: {inline: "def main_handler(e, c):\n    return e\n"}}
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: r, namespace: $ns}
spec: {runtime: python3.11, handler: index.main_handler, code: {inline: "def main_handler(e, c):\n    return e\n"}}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: k-in, namespace: $ns}
spec:
  functionRef: {name: k}
  kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topics: ["$src"], consumerGroup: "$src"}
  delivery: {deadLetter: {kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topic: "$dead"}}}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: r-in, namespace: $ns}
spec:
  functionRef: {name: r}
  rabbitmq: {connectionSecretRef: {name: rabbit}, queue: "$src"}
  delivery: {deadLetter: {rabbitmq: {connectionSecretRef: {name: rabbit}, routingKey: "$dead"}}}
YAML

# kill_midway FUNCTION COUNT_CMD N: starts a redrive, SIGKILLs it once COUNT_CMD says the source holds N/10.
kill_midway() {
  local fn=$1 count=$2 n=$3 pid rc=0
  # The binary itself, not the shell function: $! must be the process that is killed.
  "$SLUICE_BUILD_DIR/sluice" --kubeconfig "$KUBECONFIG" -n "$ns" dlq redrive "$fn" --all >"$work/redrive.out" 2>&1 &
  pid=$!
  tenth() { (($($count) >= n / 10)); }
  poll 120 tenth
  kill -KILL "$pid" 2>/dev/null || fail "$fn: the redrive ended before the kill: $(cat "$work/redrive.out")"
  { wait "$pid"; } 2>/dev/null || rc=$?
  ((rc == 137)) || fail "$fn: the redrive exited $rc, not killed: $(cat "$work/redrive.out")"
  killed_at=$($count)
}

# rerun FUNCTION: the second redrive, with its rate as a figure.
rerun() {
  local start end count
  start=$(date +%s%N)
  count=$(sluice dlq redrive "$1" --all -o json | jq '.redriven | length') || fail "$1: the second redrive failed"
  end=$(date +%s%N)
  echo "[figure] $1: the second redrive re-injected $count records in $(((end - start) / 1000000)) ms"
}

# check_after FUNCTION N RECORDS: after the second redrive, RECORDS (the source's payloads, one a line)
# holds every r-1..r-N, with at most one twice; the dead letter is empty.
check_after() {
  local fn=$1 n=$2 records=$3 total distinct
  total=$(wc -l <"$records")
  distinct=$(sort -u "$records" | wc -l)
  ((distinct == n)) || fail "$fn: $distinct distinct records in the source, expected $n"
  [[ $(sort -u "$records") == "$(seq 1 "$n" | sed 's/^/r-/' | sort)" ]] || fail "$fn: the source is not r-1..r-$n"
  ((total - n <= 1)) || fail "$fn: $((total - n)) records re-injected twice, at most 1 was in flight"
  [[ $(sluice dlq ls "$fn" -o json | jq '.items | length') == 0 ]] || fail "$fn: the dead letter is not empty"
  echo "[figure] $fn: killed with $killed_at of $n in the source; after the re-run $total records, $((total - n)) twice"
}

n=5000
seq 1 "$n" | sed 's/^\(.*\)$/k-\1:r-\1/' | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$dead" -K: -H "x-sluice-error=Internal: bug" \
  -H "x-sluice-attempts=2" -H "x-sluice-event-id=e" -H "x-sluice-source=kafka:$src/0/0" -H "x-sluice-trigger=k-in" ||
  fail "producing dead letters"
kafka_count() { kcat -Q -b "$KAFKA_BOOTSTRAP" -t "$src:0:-1" | awk '{print $NF}'; }
kill_midway k kafka_count "$n"
rerun k
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$src" -e -q -f '%s\n' >"$work/kafka.txt"
check_after k "$n" "$work/kafka.txt"
[[ $(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$src" -e -q -f '%k\n' | sort -u | head -1) == k-1 ]] || fail "keys were not kept"

n=5000
# One curl, one connection, n publishes (curl --config with `next` between requests).
for ((i = 1; i <= n; i++)); do
  ((i == 1)) || echo next
  printf 'url = "%s/api/exchanges/%%2F/amq.default/publish"\nheader = "content-type: application/json"\n' "$RABBITMQ_HTTP_URL"
  printf 'data = "{\\"routing_key\\": \\"%s\\", \\"payload\\": \\"r-%d\\", \\"payload_encoding\\": \\"string\\", ' "$dead" "$i"
  printf '\\"properties\\": {\\"delivery_mode\\": 2, \\"message_id\\": \\"m-%d\\", \\"headers\\": {\\"x-sluice-error\\": \\"Internal: bug\\"}}}"\n' "$i"
  printf 'output = "/dev/null"\n'
done >"$work/publish.curl"
curl -sf -K "$work/publish.curl" || fail "publishing dead letters"
rabbit_depth() { curl -sf "$RABBITMQ_HTTP_URL/api/queues/%2F/$1?columns=messages" | jq '.messages // 0'; }
all_there() { (($(rabbit_depth "$dead") == n)); }
poll 60 all_there
# The source's depth now: a get that requeues (the source has no consumer) answers with the exact
# count left behind it, where the queue's statistics lag by seconds.
rabbit_count() {
  curl -sf -H 'content-type: application/json' "$RABBITMQ_HTTP_URL/api/queues/%2F/$src/get" \
    -d '{"count": 1, "ackmode": "reject_requeue_true", "encoding": "auto"}' |
    jq 'if length == 0 then 0 else .[0].message_count + 1 end'
}
kill_midway r rabbit_count "$n"
rerun r
# Read the source back through the management API (ack mode: each message once).
curl -sf -H 'content-type: application/json' "$RABBITMQ_HTTP_URL/api/queues/%2F/$src/get" \
  -d "{\"count\": $((2 * n)), \"ackmode\": \"ack_requeue_false\", \"encoding\": \"auto\"}" |
  jq -r '.[].payload' >"$work/rabbit.txt"
check_after r "$n" "$work/rabbit.txt"
echo "PASS: a redrive killed part-way and run again lost no dead letter and re-injected at most the one in flight"
