# Kafka -> Kafka contenders and the steady-rate latency measurement, shared by
# bench/runtime_kafka/run.sh and the CI latency check
# (tests/integration/runtime_io/kafka_latency_test.sh), so the check measures
# exactly what the benchmark does. Sourced; the caller sets:
#   BIN      the sluice_bench_runtime_kafka program
#   RUNTIME  the sluice-runtime program
#   SCRATCH  a scratch folder (configs, logs)
#   KAFKA_BOOTSTRAP, KAFKA_TOPICS   from tests/env
# and appends every background PID it starts to PIDS (the caller kills them on exit).

# bench_topic NAME [kafka-topics ARGS...]: a 3-partition topic.
bench_topic() { "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$1" --partitions 3 "${@:2}" >/dev/null; }

# bench_free_port: a port nothing listens on now.
bench_free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bench_config NAME RUNTIME-JSON IN OUT GROUP MAX-IN-FLIGHT: writes $SCRATCH/NAME.json, a one-trigger,
# one-output runtime configuration (the output: an idempotent acks=all producer with linger.ms 5,
# as the hand-written loops use).
bench_config() {
  cat >"$SCRATCH/$1.json" <<JSON
{"name": "$1", $2,
 "outputs": [{"name": "out", "kafka": {"bootstrapServers": "$KAFKA_BOOTSTRAP", "topic": "$4", "properties": {"linger.ms": "5"}}}],
 "triggers": [{"name": "in", "kafka": {"bootstrapServers": "$KAFKA_BOOTSTRAP", "topics": ["$3"], "consumerGroup": "$5",
               "initialOffset": "earliest", "maxInFlight": $6}}]}
JSON
}

# bench_python_code: $SCRATCH/code/index.py, the trivial handler every Python contender runs.
bench_python_code() {
  mkdir -p "$SCRATCH/code"
  cat >"$SCRATCH/code/index.py" <<'PY'
def main_handler(event, context):
    return event["data"]
PY
}

# bench_start_runtime CONFIG: starts sluice-runtime; its PID in RT_PID once /readyz answers.
bench_start_runtime() {
  local port
  port="$(bench_free_port)"
  "$RUNTIME" --control-bind-address "127.0.0.1:$port" --config "$1" >"$SCRATCH/rt-$port.log" 2>&1 &
  RT_PID=$!
  PIDS+=("$RT_PID")
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "bench: sluice-runtime not ready after 30 s" >&2
  cat "$SCRATCH/rt-$port.log" >&2
  return 1
}

# bench_stop PID: SIGTERM and wait.
bench_stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# bench_ready WHO PID IN OUT: one probe record through the contender before anything is timed. A
# contender that has not joined its group (or is not consuming) within BENCH_READY_SECONDS fails the
# run, naming it: timing it would measure the group join, not the contender.
bench_ready() {
  "$BIN" produce "$KAFKA_BOOTSTRAP" "$3" 1 100 || return 1
  if ! timeout "${BENCH_READY_SECONDS:-60}" "$BIN" measure "$KAFKA_BOOTSTRAP" "$4" 1 "$2" >/dev/null; then
    echo "bench: $1 did not pass the probe record from $3 to $4 within ${BENCH_READY_SECONDS:-60} s:" \
      "its group join or readiness was not reached, so nothing was timed" >&2
    return 1
  fi
}

# bench_latency WHO PID IN OUT RATE SECONDS WARMUP: after the probe, feeds IN at RATE records/s for
# SECONDS and prints the JSON line of p50/p99/max (ms) of OUT's LogAppendTime minus the send time,
# leaving out the first WARMUP seconds. OUT must use message.timestamp.type=LogAppendTime and the
# contender must stop by itself after RATE*SECONDS+1 records or be stopped by the caller.
bench_latency() {
  local n=$(($5 * $6)) skip=$(($5 * $7))
  bench_ready "$1" "$2" "$3" "$4" || return 1
  "$BIN" paced "$KAFKA_BOOTSTRAP" "$3" "$5" "$6" 100 || return 1
  "$BIN" latency "$KAFKA_BOOTSTRAP" "$4" $((n + 1)) "$skip"
}

# bench_latency_pair TAG RATE SECONDS WARMUP: the latency of Sluice (the Python handler) and of the
# raw librdkafka loop, one after the other, on fresh topics and groups named after TAG. Prints
# {"sluice": {...}, "raw_librdkafka_loop": {...}}. Needs bench_python_code first.
bench_latency_pair() {
  local tag=$1 rate=$2 seconds=$3 warmup=$4 t sluice raw raw_pid
  # Callers may run this where errexit does not apply (in `x=$(...) || ...`): every step checks.
  for t in in-s in-r; do bench_topic "$tag-$t" || return 1; done
  for t in out-s out-r; do bench_topic "$tag-$t" --config message.timestamp.type=LogAppendTime || return 1; done
  bench_config "$tag-latency" "\"runtime\": \"python3.11\", \"codeDir\": \"$SCRATCH/code\"" "$tag-in-s" "$tag-out-s" \
    "$tag-g-s" "${MAX_IN_FLIGHT:-50000}"
  bench_start_runtime "$SCRATCH/$tag-latency.json" || return 1
  sluice="$(bench_latency "Sluice (Python handler)" "$RT_PID" "$tag-in-s" "$tag-out-s" "$rate" "$seconds" "$warmup")" ||
    return 1
  bench_stop "$RT_PID"
  "$BIN" raw-loop "$KAFKA_BOOTSTRAP" "$tag-in-r" "$tag-out-r" "$tag-g-r" $((rate * seconds + 1)) &
  raw_pid=$!
  PIDS+=("$raw_pid")
  raw="$(bench_latency "the raw librdkafka loop" "$raw_pid" "$tag-in-r" "$tag-out-r" "$rate" "$seconds" "$warmup")" ||
    return 1
  wait "$raw_pid" || return 1
  echo "{\"sluice\": $sluice, \"raw_librdkafka_loop\": $raw}"
}
