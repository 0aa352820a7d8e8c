#!/usr/bin/env bash
# `sluice dlq` on a Function's own spec.deadLetter (the dead letter of each of
# its Triggers without one), against real Kafka and RabbitMQ. Function fan
# dead-letters into a Kafka topic and is fed by a Kafka Trigger and a RabbitMQ
# Trigger (the RabbitMQ dead-letter store is the Trigger-level one of
# cli_dlq_test, and the unit tests'). Its handler raises for "bad" records
# while a bug file exists: `dlq ls` lists exactly those, from both Triggers
# (`--trigger` keeps one's), and its --output json, normalised, equals its
# golden; after the fix `dlq redrive --all` puts each back into the source of
# the Trigger that dead-lettered it (x-sluice-trigger): every record arrives
# once, the dead letter is empty, a second redrive re-injects 0. A record of a
# deleted Trigger stays (exit 1, named); errors name spec.deadLetter.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR KAFKA_BOOTSTRAP KAFKA_TOPICS RABBITMQ_AMQP_URL \
  RABBITMQ_HTTP_URL

apply_crds
own_namespace cli-dlqfn
"$KUBECTL" create namespace "$ns" >/dev/null
in_topic=$(unique_name fan-in)
dlq_topic=$(unique_name fan-dead)
queue=$(unique_name fan-q)
local_pid=
cleanup_all() {
  local code=$?
  if ((code != 0)); then
    echo "--- sluice local log (last 40 lines)"
    tail -40 "$work/local.log"
    echo "--- last dlq ls: $(cat "$work/ls.json" "$work/ls.err" 2>/dev/null)"
  fi
  [[ -n $local_pid ]] && kill -INT "$local_pid" 2>/dev/null && wait "$local_pid" 2>/dev/null
  # Each Kafka tool start is a JVM (seconds on a busy machine): both at once.
  drop_topics "$in_topic" &
  drop_topics "$dlq_topic"
  wait
  drop_queues "$queue"
  _own_namespace_cleanup
}
trap cleanup_all EXIT

make_topics "$in_topic" &
made=$!
make_topics "$dlq_topic" || fail "creating $dlq_topic"
wait "$made" || fail "creating $in_topic"
make_queues "$queue"
mkdir -p "$work/manifests" "$work/out-fan"
bug=$work/bug
touch "$bug"

# function_yaml NAME OUTPUT_DIR DEAD_LETTER: a handler that raises for "bad" records while $bug exists.
function_yaml() {
  buggy_function_yaml "$1" "$2" "  retry: {maxAttempts: 2, initialBackoff: 10ms, maxBackoff: 20ms}
  deadLetter: $3"
}
{
  cat <<YAML
apiVersion: v1
kind: Secret
metadata: {name: rabbit, namespace: $ns}
stringData: {url: "$RABBITMQ_AMQP_URL"}
YAML
  function_yaml fan "$work/out-fan" "{kafka: {bootstrapServers: [\"$KAFKA_BOOTSTRAP\"], topic: \"$dlq_topic\"}}"
  cat <<YAML
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: fan-k, namespace: $ns}
spec:
  functionRef: {name: fan}
  kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topics: ["$in_topic"], consumerGroup: "$in_topic", initialOffset: earliest}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: fan-r, namespace: $ns}
spec:
  functionRef: {name: fan}
  rabbitmq: {connectionSecretRef: {name: rabbit}, queue: "$queue"}
YAML
} >"$work/manifests/fan.yaml"
sluice apply "$work/manifests" >/dev/null || fail "apply to the apiserver"
"$SLUICE_BUILD_DIR/sluice" local "$work/manifests" --metrics-bind-address "127.0.0.1:$(free_port)" \
  --gateway-listen-address "" --warm-pool 0 --drain-grace 5 >"$work/local.log" 2>&1 &
local_pid=$!

n=8
bad_indexes=(2 5 8)
is_bad() { [[ " ${bad_indexes[*]} " == *" $1 "* ]]; }
payload() { if is_bad "$1"; then echo "bad-$2-$1"; else echo "good-$2-$1"; fi; }
for ((i = 1; i <= n; i++)); do payload "$i" k; done | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$in_topic" || fail "producing"
for ((i = 1; i <= n; i++)); do
  curl -sf -H 'content-type: application/json' "$RABBITMQ_HTTP_URL/api/exchanges/%2F/amq.default/publish" \
    -d "{\"routing_key\": \"$queue\", \"payload\": \"$(payload "$i" r)\", \"payload_encoding\": \"string\",
         \"properties\": {\"message_id\": \"msg-$i\", \"delivery_mode\": 2}}" |
    grep -q '"routed":true' || fail "publishing msg-$i"
done
outputs() {
  local f
  for f in "$1"/*; do [[ -f $f ]] && cat "$f" && echo; done | sort
}
nbad=${#bad_indexes[@]}

# Both Triggers' bad records in the Function's Kafka dead letter.
listed() {
  sluice dlq ls "$1" -o json >"$work/ls.json" 2>"$work/ls.err" && [[ $(jq '.items | length' "$work/ls.json") == "$2" ]] &&
    [[ $(outputs "$3" | wc -l) == "$4" ]]
}
echo "[step] $SECONDS s: applied, sluice local started, records produced"
poll 60 listed fan $((2 * nbad)) "$work/out-fan" $((2 * (n - nbad)))
# Sorted, and positions (partition/offset: the order the two Triggers' records reached the topic) left out.
jq -S '.items |= (sort_by(.trigger, .id) | map(.position = "#N"))' "$work/ls.json" >"$work/ls.sorted.json"
expect_golden dlq-ls-function.json "$work/ls.sorted.json" "$ns" NS "$in_topic" IN_TOPIC "$dlq_topic" DLQ_TOPIC \
  "$queue" QUEUE
[[ $(sluice dlq ls fan --trigger fan-r -o json | jq -c '[.items[].id] | sort') == '["msg-2","msg-5","msg-8"]' ]] ||
  fail "ls --trigger fan-r: $(sluice dlq ls fan --trigger fan-r -o json)"
text=$(sluice dlq ls fan)
[[ $(head -1 <<<"$text") == "Function $ns/fan (spec.deadLetter): kafka topic $dlq_topic, $((2 * nbad)) dead letters" ]] ||
  fail "ls text: $text"
echo "[step] $SECONDS s: $((2 * nbad)) records of two Triggers in fan's spec.deadLetter (Kafka), listed"

rm -f "$bug"
red=$(sluice dlq redrive fan --all -o json) || fail "redrive fan failed"
[[ $(jq '.redriven | length' <<<"$red") == $((2 * nbad)) ]] || fail "redriven $red"
all_arrived() { [[ $(outputs "$work/out-fan" | wc -l) -ge $((2 * n)) ]]; }
poll 60 all_arrived
want=$(for ((i = 1; i <= n; i++)); do payload "$i" k; payload "$i" r; done | sort)
[[ $(outputs "$work/out-fan") == "$want" ]] || fail "fan outputs are not each record once: $(outputs "$work/out-fan")"
[[ $(sluice dlq ls fan -o json | jq '.items | length') == 0 ]] || fail "dead letter not empty after redrive"
[[ $(sluice dlq redrive fan --all -o json | jq '.redriven | length') == 0 ]] || fail "second redrive"
echo "[step] $SECONDS s: redriven into each Trigger's own source: all $((2 * n)) records arrived once, second redrive 0"

# A dead letter of a Trigger that is gone stays, exit 1 naming why.
touch "$bug"
echo "bad-late" | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$in_topic"
poll 60 listed fan 1 "$work/out-fan" $((2 * n))
k delete trigger fan-k >/dev/null
expect_exit 1 sluice dlq redrive fan --all
[[ $err == "sluice dlq redrive: 1 left in kafka topic $dlq_topic, first $in_topic/0/$((n + nbad)): x-sluice-trigger \"fan-k\" is not a Trigger of Function $ns/fan without a dead letter of its own" ]] ||
  fail "redrive of a deleted Trigger's record: $err"
[[ $(sluice dlq ls fan -o json | jq '.items | length') == 1 ]] || fail "the unroutable record left the dead letter"
k patch fn fan --type=merge -p '{"spec": {"deadLetter": {"kafka": null, "dir": {"path": "/tmp/dead"}}}}' >/dev/null
expect_exit 1 sluice dlq ls fan
[[ $err == "sluice dlq ls: Function $ns/fan: spec.deadLetter: a dir dead letter cannot be read back (dlq reads kafka topics and rabbitmq queues)" ]] ||
  fail "a dir dead letter: $err"
echo "PASS: dlq ls and redrive of a Function's spec.deadLetter (Kafka), each record back to its Trigger's Kafka or RabbitMQ source"
