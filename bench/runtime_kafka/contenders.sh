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

# bench_latency_together RATE SECONDS WARMUP NAME PID IN OUT [NAME PID IN OUT ...]: the contenders
# (each already started, consuming IN and writing OUT, stopping by itself after RATE*SECONDS+1
# records or stopped by the caller) are probed one by one, then all fed at RATE records/s for
# SECONDS at the same time, each IN by its own producer, so a busy machine slows them alike
# (measured one after another, a burst of other work could land in one contender's window only).
# Prints {"NAME": {"records", "p50_ms", "p99_ms", "max_ms"}, ...}: OUT's LogAppendTime minus the send
# time, the first WARMUP seconds left out. Every OUT must use message.timestamp.type=LogAppendTime.
bench_latency_together() {
  local rate=$1 seconds=$2 warmup=$3 i producers=() readers=() json="" sep=""
  shift 3
  local -a c=("$@")
  for ((i = 0; i < ${#c[@]}; i += 4)); do bench_ready "${c[i]}" "${c[i + 1]}" "${c[i + 2]}" "${c[i + 3]}" || return 1; done
  for ((i = 0; i < ${#c[@]}; i += 4)); do
    "$BIN" paced "$KAFKA_BOOTSTRAP" "${c[i + 2]}" "$rate" "$seconds" 100 &
    producers+=($!)
  done
  for i in "${producers[@]}"; do wait "$i" || return 1; done
  for ((i = 0; i < ${#c[@]}; i += 4)); do
    "$BIN" latency "$KAFKA_BOOTSTRAP" "${c[i + 3]}" $((rate * seconds + 1)) $((rate * warmup)) >"$SCRATCH/latency-$i.json" &
    readers+=($!)
  done
  for i in "${readers[@]}"; do wait "$i" || return 1; done
  for ((i = 0; i < ${#c[@]}; i += 4)); do
    json+="$sep\"${c[i]}\": $(cat "$SCRATCH/latency-$i.json")"
    sep=", "
  done
  echo "{$json}"
}

# bench_latency_pair TAG RATE SECONDS WARMUP: Sluice (the Python handler) and the raw librdkafka loop
# at the same time (bench_latency_together) on fresh topics and groups named after TAG. Prints
# {"sluice": {...}, "raw_librdkafka_loop": {...}}. Needs bench_python_code first.
bench_latency_pair() {
  local tag=$1 rate=$2 seconds=$3 warmup=$4 result
  bench_latency_start "$tag" "$((rate * seconds + 1))" || return 1
  result="$(bench_latency_together "$rate" "$seconds" "$warmup" \
    sluice "$RT_PID" "$tag-in-s" "$tag-out-s" raw_librdkafka_loop "$RAW_PID" "$tag-in-r" "$tag-out-r")" || return 1
  bench_stop "$RT_PID"
  wait "$RAW_PID" || return 1
  echo "$result"
}

# bench_latency_start TAG N: topics TAG-in-s/-out-s and TAG-in-r/-out-r (outputs with LogAppendTime),
# then Sluice (Python handler, PID in RT_PID) and the raw librdkafka loop (PID in RAW_PID, stops
# after N records) on them. Needs bench_python_code first.
bench_latency_start() {
  local tag=$1 t
  # Callers may run this where errexit does not apply (in `x=$(...) || ...`): every step checks.
  for t in s r; do
    bench_topic "$tag-in-$t" || return 1
    bench_topic "$tag-out-$t" --config message.timestamp.type=LogAppendTime || return 1
  done
  bench_config "$tag-latency" "\"runtime\": \"python3.11\", \"codeDir\": \"$SCRATCH/code\"" "$tag-in-s" "$tag-out-s" \
    "$tag-g-s" "${MAX_IN_FLIGHT:-50000}"
  bench_start_runtime "$SCRATCH/$tag-latency.json" || return 1
  "$BIN" raw-loop "$KAFKA_BOOTSTRAP" "$tag-in-r" "$tag-out-r" "$tag-g-r" "$2" &
  RAW_PID=$!
  PIDS+=("$RAW_PID")
}
