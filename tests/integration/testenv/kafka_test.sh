#!/usr/bin/env bash
# Kafka (KAFKA_BOOTSTRAP): a new 3-partition topic takes exactly 1,000 distinct
# messages and gives exactly those 1,000 back when read from the beginning.
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_TOPICS

topic=$(unique_name sluice-testenv-kafka)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" \
  --partitions 3 --replication-factor 1 >"$work/create.log" 2>&1 ||
  fail "creating topic $topic: $(cat "$work/create.log")"

seq -f "message-%04g" 1 1000 >"$work/sent"
# kcat -P exits non-zero if any message is not acknowledged (acks=all by default).
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -X acks=all <"$work/sent" ||
  fail "producing to $topic"

# -e: stop once every partition's end is reached.
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$topic" -o beginning -e -q -f '%s\n' >"$work/received" ||
  fail "consuming from $topic"

received=$(wc -l <"$work/received")
distinct=$(sort -u "$work/received" | wc -l)
[[ $received -eq 1000 ]] || fail "expected 1000 messages from $topic, got $received"
[[ $distinct -eq 1000 ]] || fail "expected 1000 distinct payloads, got $distinct"
diff <(sort "$work/sent") <(sort "$work/received") >/dev/null ||
  fail "the payloads read back differ from those sent"

"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$topic" >/dev/null 2>&1 || true
echo "PASS: 1000 messages produced to and consumed from $topic"
