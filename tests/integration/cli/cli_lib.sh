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

# expect_golden NAME FILE [FROM TO]...: FILE, with each FROM replaced by TO (the run's namespace, topic
# and queue names, which are unique to it) and volatile fields normalised — RFC 3339 times to TIME,
# "ageSeconds"/"durationMs" values to 0, uids to UID, IPv4 addresses to IP — must equal
# $GOLDEN_DIR/NAME (default tests/integration/cli/golden). SLUICE_UPDATE_GOLDEN=1 writes the golden instead.
expect_golden() {
  local name=$1 file=$2 golden
  shift 2
  golden=${GOLDEN_DIR:-$SLUICE_SOURCE_DIR/tests/integration/cli/golden}/$name
  local text
  text=$(cat "$file")
  while (($# >= 2)); do
    text=${text//"$1"/"$2"}
    shift 2
  done
  text=$(sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/TIME/g' \
    -e 's/"(ageSeconds|durationMs)": [0-9]+/"\1": 0/g' \
    -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/UID/g' \
    -e 's/\b([0-9]{1,3}\.){3}[0-9]{1,3}\b/IP/g' <<<"$text")
  if [[ ${SLUICE_UPDATE_GOLDEN:-} == 1 ]]; then
    mkdir -p "$(dirname "$golden")"
    printf '%s\n' "$text" >"$golden"
    return 0
  fi
  [[ -f $golden ]] || fail "no golden $golden (SLUICE_UPDATE_GOLDEN=1 writes it)"
  diff -u "$golden" <(printf '%s\n' "$text") >&2 || fail "$name differs from its golden (SLUICE_UPDATE_GOLDEN=1 rewrites it)"
}

# buggy_function_yaml NAME OUTPUT_DIR [SPEC_LINES]: a Function whose handler raises for "bad" records
# while the file $bug exists (the dead-letter tests' "bug", fixed by removing the file), writing
# what it handles to OUTPUT_DIR; SPEC_LINES (already indented by two) go into its spec.
buggy_function_yaml() {
  cat <<YAML
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $1, namespace: $ns}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      import os
      def main_handler(event, context):
          data = event["data"]
          data = data.decode() if isinstance(data, bytes) else data
          if "bad" in data and os.path.exists("$bug"):
              raise ValueError("bug: cannot handle " + data)
          return data
  outputs:
    - dir: {path: "$2"}
${3:+$3
}  scaling: {minReplicas: 1, maxReplicas: 1}
YAML
}
