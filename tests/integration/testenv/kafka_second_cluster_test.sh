#!/usr/bin/env bash
# The second Kafka cluster (KAFKA_BOOTSTRAP_B) is real and independent: a topic
# created there carries messages and does not exist on KAFKA_BOOTSTRAP.
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_BOOTSTRAP_B KAFKA_TOPICS

[[ $KAFKA_BOOTSTRAP != "$KAFKA_BOOTSTRAP_B" ]] ||
  fail "KAFKA_BOOTSTRAP and KAFKA_BOOTSTRAP_B are the same address ($KAFKA_BOOTSTRAP)"

topic=$(unique_name sluice-testenv-kafka-b)
"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP_B" --create --topic "$topic" \
  --partitions 1 --replication-factor 1 >/dev/null || fail "creating $topic on cluster B"

seq -f "b-%02g" 1 25 | kcat -P -b "$KAFKA_BOOTSTRAP_B" -t "$topic" || fail "producing to cluster B"
count=$(kcat -C -b "$KAFKA_BOOTSTRAP_B" -t "$topic" -o beginning -e -q -f '%s\n' | sort -u | wc -l)
[[ $count -eq 25 ]] || fail "expected 25 distinct messages on cluster B, got $count"

on_a=$("$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --list)
if grep -qxF "$topic" <<<"$on_a"; then
  fail "topic $topic created on cluster B is visible on cluster A: the clusters are not independent"
fi
"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP_B" --delete --topic "$topic" >/dev/null 2>&1 || true
echo "PASS: cluster B carried 25 messages on $topic, which cluster A does not have"
