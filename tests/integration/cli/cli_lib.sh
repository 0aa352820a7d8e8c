# Shared by the CLI tests (after ../lib.sh and own_namespace): the sluice CLI
# bound to the test's kubeconfig and namespace, an exit-code check, and the
# Kafka topics and RabbitMQ queues a dead-letter test reads and writes.
sluice() { "$SLUICE_BUILD_DIR/sluice" --kubeconfig "$KUBECONFIG" -n "$ns" "$@"; }

# expect_exit CODE CMD...: runs CMD, fails unless it exits CODE; its stderr is in $err.
expect_exit() {
  local want=$1 rc=0
  shift
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  err=$(cat "$work/err")
  ((rc == want)) || fail "$* exited $rc, expected $want (stderr: $err)"
}

# make_topics TOPIC...: one-partition Kafka topics.
make_topics() {
  local t
  for t in "$@"; do
    "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$t" --partitions 1 \
      --replication-factor 1 >/dev/null || fail "creating topic $t"
  done
}

# make_queues QUEUE...: durable RabbitMQ queues, through the management API.
make_queues() {
  local q
  for q in "$@"; do
    curl -sf -X PUT -H 'content-type: application/json' -d '{"durable": true}' "$RABBITMQ_HTTP_URL/api/queues/%2F/$q" ||
      fail "creating queue $q"
  done
}

# drop_topics TOPIC... / drop_queues QUEUE...: what make_topics / make_queues made (cleanup; errors ignored).
drop_topics() {
  local t
  for t in "$@"; do "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$t" >/dev/null 2>&1; done
  return 0
}
drop_queues() {
  local q
  for q in "$@"; do curl -sf -X DELETE "$RABBITMQ_HTTP_URL/api/queues/%2F/$q" >/dev/null 2>&1; done
  return 0
}
