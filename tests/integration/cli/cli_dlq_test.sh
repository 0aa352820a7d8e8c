#!/usr/bin/env bash
# `sluice dlq`: records failed by a bug, handler fixed, redriven, all arrive
# once — on Kafka and on RabbitMQ. The Function and its Trigger run under
# `sluice local` (real sluice-runtime processes, Python handler) and are also
# applied to the real apiserver, where `sluice dlq` finds the Trigger and the
# Secret it names with the user's kube access. The handler raises for the
# records whose payload says "bad" while a bug file exists: those (and only
# those) reach the dead letter, and `dlq ls -o json` lists exactly them (count
# and event ids), twice, so reading consumed nothing. The bug file is removed
# (the fix), `dlq redrive --all` re-injects them: every record arrives exactly
# once at the output directory, the dead letter is empty afterwards and a
# second redrive re-injects 0. Then bad input exits 2 (flags) or 1 (a Trigger
# without a dead letter, an --id that is not there), naming the field.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/cli_lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR KAFKA_BOOTSTRAP KAFKA_TOPICS RABBITMQ_AMQP_URL \
  RABBITMQ_HTTP_URL

apply_crds
own_namespace cli-dlq
"$KUBECTL" create namespace "$ns" >/dev/null
in_topic=$(unique_name dlq-in)
dlq_topic=$(unique_name dlq-dead)
queue=$(unique_name dlq-in)
dlq_queue=$(unique_name dlq-dead)
local_pid=
cleanup_all() {
  local code=$?
  if ((code != 0)); then
    echo "--- sluice local log (last 40 lines)"
    tail -40 "$work/local.log"
    echo "--- last dlq ls: $(cat "$work/ls.json" "$work/ls.err" 2>/dev/null)"
    echo "--- outputs: kafka $(outputs "$work/out-kafka" | wc -l), rabbitmq $(outputs "$work/out-rabbit" | wc -l)"
  fi
  [[ -n $local_pid ]] && kill -INT "$local_pid" 2>/dev/null && wait "$local_pid" 2>/dev/null
  drop_topics "$in_topic" "$dlq_topic"
  drop_queues "$queue" "$dlq_queue"
  _own_namespace_cleanup
}
trap cleanup_all EXIT

make_topics "$in_topic" "$dlq_topic"
make_queues "$queue" "$dlq_queue"
mkdir -p "$work/manifests" "$work/out-kafka" "$work/out-rabbit"
bug=$work/bug
touch "$bug"

# function_yaml NAME OUTPUT_DIR: a handler that raises for "bad" records while $bug exists.
function_yaml() { buggy_function_yaml "$1" "$2"; }
retry='{maxAttempts: 2, initialBackoff: 10ms, maxBackoff: 20ms}'
{
  cat <<YAML
apiVersion: v1
kind: Secret
metadata: {name: rabbit, namespace: $ns}
stringData: {url: "$RABBITMQ_AMQP_URL"}
YAML
  function_yaml orders-kafka "$work/out-kafka"
  cat <<YAML
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders-kafka-in, namespace: $ns}
spec:
  functionRef: {name: orders-kafka}
  kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topics: ["$in_topic"], consumerGroup: "$in_topic", initialOffset: earliest}
  delivery:
    retry: $retry
    deadLetter: {kafka: {bootstrapServers: ["$KAFKA_BOOTSTRAP"], topic: "$dlq_topic"}}
YAML
  function_yaml orders-rabbit "$work/out-rabbit"
  cat <<YAML
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: orders-rabbit-in, namespace: $ns}
spec:
  functionRef: {name: orders-rabbit}
  rabbitmq: {connectionSecretRef: {name: rabbit}, queue: "$queue"}
  delivery:
    retry: $retry
    deadLetter: {rabbitmq: {connectionSecretRef: {name: rabbit}, routingKey: "$dlq_queue"}}
YAML
} >"$work/manifests/orders.yaml"
sluice apply "$work/manifests" >/dev/null || fail "apply to the apiserver"
# Processes on this machine, the operator's --local mode: the namespace is the manifests' own.
"$SLUICE_BUILD_DIR/sluice" local "$work/manifests" --metrics-bind-address "127.0.0.1:$(free_port)" \
  --gateway-listen-address "" --warm-pool 0 --drain-grace 5 >"$work/local.log" 2>&1 &
local_pid=$!

n=20
bad_indexes=(3 8 9 15 20)
is_bad() { [[ " ${bad_indexes[*]} " == *" $1 "* ]]; }
payload() { if is_bad "$1"; then echo "bad-$1"; else echo "good-$1"; fi; }
for ((i = 1; i <= n; i++)); do payload "$i"; done | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$in_topic" ||
  fail "producing to $in_topic"
for ((i = 1; i <= n; i++)); do
  curl -sf -H 'content-type: application/json' "$RABBITMQ_HTTP_URL/api/exchanges/%2F/amq.default/publish" \
    -d "{\"routing_key\": \"$queue\", \"payload\": \"$(payload "$i")\", \"payload_encoding\": \"string\",
         \"properties\": {\"message_id\": \"msg-$i\", \"delivery_mode\": 2, \"headers\": {\"origin\": \"test\"}}}" |
    grep -q '"routed":true' || fail "publishing msg-$i"
done

# Expected ids, sorted: Kafka topic/partition/offset (offset i-1), RabbitMQ the message id. (The
# runtime retries RabbitMQ messages in parallel, so they reach the dead letter in any order.)
expected_kafka=$(for i in "${bad_indexes[@]}"; do echo "$in_topic/0/$((i - 1))"; done | jq -R . | jq -sc 'sort')
expected_rabbit=$(for i in "${bad_indexes[@]}"; do echo "msg-$i"; done | jq -R . | jq -sc 'sort')
# outputs DIR: the records written there (a file each, no newline), one a line, sorted.
outputs() {
  local f
  for f in "$1"/*; do [[ -f $f ]] && cat "$f" && echo; done | sort
}
good_count=$((n - ${#bad_indexes[@]}))

check_flow() {
  local fn=$1 out=$2 expected=$3 kind=$4
  listed() {
    sluice dlq ls "$fn" -o json >"$work/ls.json" 2>"$work/ls.err" && [[ $(jq '.items | length' "$work/ls.json") == "${#bad_indexes[@]}" ]] &&
      [[ $(outputs "$out" | wc -l) == "$good_count" ]]
  }
  poll 120 listed
  [[ $(jq -c '[.items[].id] | sort' "$work/ls.json") == "$expected" ]] ||
    fail "$kind: ls ids $(jq -c '[.items[].id]' "$work/ls.json") != $expected"
  jq -e --arg t "$fn-in" 'all(.items[]; .attempts == 2 and (.error | contains("bug: cannot handle bad-")) and .trigger == $t
      and .size > 0 and .ageSeconds >= 0)' "$work/ls.json" >/dev/null || fail "$kind: ls items $(jq -c .items "$work/ls.json")"
  # Reading twice shows the same: ls consumed nothing.
  [[ $(sluice dlq ls "$fn" -o json | jq -c '[.items[].id]') == "$(jq -c '[.items[].id]' "$work/ls.json")" ]] ||
    fail "$kind: a second ls differs (order included)"
  text=$(sluice dlq ls "$fn")
  [[ $(head -1 <<<"$text") == "Trigger $ns/$fn-in: $kind, ${#bad_indexes[@]} dead letters" ]] || fail "$kind: ls text: $text"
  [[ $(sed -n 2p <<<"$text") == "ID "*"ATTEMPTS  AGE"*"SIZE  ERROR" ]] || fail "$kind: ls text header: $text"
  echo "[step] $kind: ${#bad_indexes[@]} records dead-lettered, listed twice with ids $expected"

  dry=$(sluice dlq redrive "$fn" --all --dry-run -o json)
  [[ $(jq '.redriven | length' <<<"$dry") == "${#bad_indexes[@]}" && $(jq .dryRun <<<"$dry") == true ]] || fail "$kind: dry run $dry"
  [[ $(sluice dlq ls "$fn" -o json | jq '.items | length') == "${#bad_indexes[@]}" ]] || fail "$kind: the dry run removed dead letters"

  rm -f "$bug"
  red=$(sluice dlq redrive "$fn" --all -o json) || fail "$kind: redrive failed"
  [[ $(jq -c '[.redriven[].id] | sort' <<<"$red") == "$expected" ]] || fail "$kind: redriven $(jq -c '[.redriven[].id]' <<<"$red")"
  all_arrived() { [[ $(outputs "$out" | wc -l) -ge $n ]]; }
  poll 120 all_arrived
  want=$(for ((i = 1; i <= n; i++)); do payload "$i"; done | sort)
  [[ $(outputs "$out") == "$want" ]] || fail "$kind: outputs are not each record once: $(outputs "$out" | uniq -c | awk '$1 != 1')"
  [[ $(sluice dlq ls "$fn" -o json | jq '.items | length') == 0 ]] || fail "$kind: dead letter not empty after redrive"
  again=$(sluice dlq redrive "$fn" --all -o json)
  [[ $(jq '.redriven | length' <<<"$again") == 0 ]] || fail "$kind: a second redrive re-injected $again"
  [[ $(sluice dlq redrive "$fn" --all) == "redrove 0 dead letters of Trigger $ns/$fn-in from $kind into "* ]] ||
    fail "$kind: second redrive text"
  echo "[step] $kind: redriven after the fix, all $n records arrived once, dead letter empty, second redrive 0"
  touch "$bug"
}
check_flow orders-kafka "$work/out-kafka" "$expected_kafka" "kafka topic $dlq_topic"
check_flow orders-rabbit "$work/out-rabbit" "$expected_rabbit" "rabbitmq queue $dlq_queue"

# The RabbitMQ redrive kept the message's headers and id, minus the x-sluice-* error headers: a record that
# fails again carries its original header once and the error headers once.
curl -sf -H 'content-type: application/json' "$RABBITMQ_HTTP_URL/api/exchanges/%2F/amq.default/publish" \
  -d "{\"routing_key\": \"$queue\", \"payload\": \"bad-again\", \"payload_encoding\": \"string\",
       \"properties\": {\"message_id\": \"msg-again\", \"headers\": {\"origin\": \"test\"}}}" >/dev/null
one_dead() { [[ $(sluice dlq ls orders-rabbit -o json | jq '.items | length') == 1 ]]; }
poll 60 one_dead
rm -f "$bug"
sluice dlq redrive orders-rabbit --id msg-again >/dev/null || fail "redrive --id msg-again"
arrived_again() { outputs "$work/out-rabbit" | grep -qx bad-again; }
poll 60 arrived_again
echo "[step] rabbitmq: --id redrive of one record"

expect_exit 2 sluice dlq redrive orders-kafka
[[ $err == "sluice dlq redrive: --all or --id: give one of them" ]] || fail "no selection: $err"
expect_exit 2 sluice dlq redrive orders-kafka --all --id x
[[ $err == "sluice dlq redrive: --all or --id: give one of them" ]] || fail "both selections: $err"
expect_exit 2 sluice dlq ls orders-kafka -o xml
[[ $err == "sluice dlq ls: --output: xml is not one of text, json, yaml" ]] || fail "bad output: $err"
expect_exit 2 sluice dlq ls orders-kafka --trigger orders-rabbit-in
[[ $err == "sluice dlq ls: --trigger: Trigger $ns/orders-rabbit-in feeds Function orders-rabbit, not orders-kafka" ]] ||
  fail "another Function's trigger: $err"
expect_exit 2 sluice dlq
expect_exit 1 sluice dlq ls nobody
[[ $err == "sluice dlq ls: Function $ns/nobody not found" ]] || fail "missing Function: $err"
expect_exit 1 sluice dlq redrive orders-kafka --id "$in_topic/0/999"
[[ $err == "sluice dlq redrive: --id $in_topic/0/999: no such dead letter in kafka topic $dlq_topic" ]] || fail "missing id: $err"
k patch trigger orders-kafka-in --type=json -p '[{"op": "remove", "path": "/spec/delivery/deadLetter"}]' >/dev/null
expect_exit 1 sluice dlq ls orders-kafka
[[ $err == "sluice dlq ls: trigger orders-kafka-in: spec.delivery.deadLetter is not set, nor the Function's spec.deadLetter" ]] ||
  fail "no dead letter: $err"
k delete secret rabbit >/dev/null
expect_exit 1 sluice dlq ls orders-rabbit
[[ $err == "sluice dlq ls: trigger orders-rabbit-in: spec.delivery.deadLetter.rabbitmq.connectionSecretRef: Secret $ns/rabbit not found" ]] ||
  fail "missing Secret: $err"
echo "PASS: dlq ls and redrive on Kafka and RabbitMQ: failed records listed, redriven after the fix, all arrived once"
