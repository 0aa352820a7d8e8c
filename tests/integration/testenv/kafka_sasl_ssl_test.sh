#!/usr/bin/env bash
# Kafka's SASL_SSL listener (KAFKA_SASL_SSL_BOOTSTRAP): with the exported
# SCRAM user and CA, 200 messages go in and the same 200 come back over TLS;
# a wrong password is refused with librdkafka's authentication error, and a
# client that does not trust the test CA fails the TLS handshake.
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_TOPICS KAFKA_SASL_SSL_BOOTSTRAP KAFKA_SSL_CA_FILE KAFKA_SASL_MECHANISM \
  KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD

topic=$(unique_name sluice-testenv-sasl)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" \
  --partitions 2 --replication-factor 1 >"$work/create.log" 2>&1 ||
  fail "creating topic $topic: $(cat "$work/create.log")"

secure=(-b "$KAFKA_SASL_SSL_BOOTSTRAP" -X security.protocol=SASL_SSL -X "sasl.mechanisms=$KAFKA_SASL_MECHANISM"
  -X "sasl.username=$KAFKA_SASL_USERNAME")
seq -f "secure-%04g" 1 200 >"$work/sent"
kcat -P "${secure[@]}" -X "sasl.password=$KAFKA_SASL_PASSWORD" -X "ssl.ca.location=$KAFKA_SSL_CA_FILE" \
  -t "$topic" -X acks=all <"$work/sent" 2>"$work/produce.log" ||
  fail "producing over SASL_SSL: $(tail -n 5 "$work/produce.log")"
kcat -C "${secure[@]}" -X "sasl.password=$KAFKA_SASL_PASSWORD" -X "ssl.ca.location=$KAFKA_SSL_CA_FILE" \
  -t "$topic" -o beginning -e -q -f '%s\n' >"$work/received" 2>"$work/consume.log" ||
  fail "consuming over SASL_SSL: $(tail -n 5 "$work/consume.log")"
diff <(sort "$work/sent") <(sort "$work/received") >/dev/null ||
  fail "read back $(wc -l <"$work/received") messages over SASL_SSL, not the 200 sent"

if kcat -L "${secure[@]}" -X sasl.password=not-the-password -X "ssl.ca.location=$KAFKA_SSL_CA_FILE" -m 5 \
  >/dev/null 2>"$work/wrong.log"; then
  fail "a wrong password was accepted"
fi
grep -q "SASL authentication error.*invalid credentials" "$work/wrong.log" ||
  fail "a wrong password did not fail authentication: $(tail -n 3 "$work/wrong.log")"

# Without the test CA the broker's certificate is not trusted.
if kcat -L "${secure[@]}" -X "sasl.password=$KAFKA_SASL_PASSWORD" -m 5 >/dev/null 2>"$work/untrusted.log"; then
  fail "the broker certificate was trusted without the test CA"
fi
grep -q "certificate verify failed" "$work/untrusted.log" ||
  fail "an untrusted certificate did not fail the handshake: $(tail -n 3 "$work/untrusted.log")"

"$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$topic" >/dev/null 2>&1 || true
echo "PASS: 200 messages over SASL_SSL; wrong password and untrusted CA refused"
