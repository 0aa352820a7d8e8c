#!/usr/bin/env bash
# Kafka -> Kafka benchmarks of one sluice-runtime replica on the real broker of
# tests/env (source build/testenv.env first), each against a baseline run in
# the same invocation on the same topics' twins:
#   1. built-in mirror pipeline vs a raw librdkafka consume->produce loop (N small records)
#   2. trivial Python handler (`return event["data"]`) vs a confluent-kafka Python loop calling
#      the same handler and producing to the same kind of topic (NP records); the loop runs twice:
#      with librdkafka's defaults (the goal's baseline) and with fetch.queue.backoff.ms=10 like Sluice
#   3. end-to-end latency of the same two Python contenders at a steady LAT_RATE records/s for
#      LAT_SECONDS (the first LAT_WARMUP_SECONDS left out): producer send time (carried in the value)
#      -> the output record's LogAppendTime on the broker; p50/p99/max
# Writes bench/results/runtime_kafka.json. The confluent-kafka baseline needs the
# package: set SLUICE_BENCH_PYTHON to a Python that has it (e.g. a venv with
# `pip install confluent-kafka`); without it that baseline is reported as missing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${SLUICE_BENCH_BUILD_DIR:-${1:-$ROOT/build}}"
BIN="$BUILD/sluice_bench_runtime_kafka"
RUNTIME="$BUILD/sluice-runtime"
N="${N:-1000000}"
NP="${NP:-100000}"
# Sluice's at-least-once window: records fetched but not yet acknowledged by the sink (a trigger's
# maxInFlight). Throughput is at most this window per produce round trip; the hand-written loops have
# no such window (they commit without waiting for delivery reports).
MAX_IN_FLIGHT="${MAX_IN_FLIGHT:-50000}"
PY="${SLUICE_BENCH_PYTHON:-/usr/bin/python3}"
if [[ -z ${KAFKA_BOOTSTRAP:-} && -f $ROOT/build/testenv.env ]]; then
  # shellcheck disable=SC1091
  source "$ROOT/build/testenv.env"
fi
: "${KAFKA_BOOTSTRAP:?not set (make testenv-up)}" "${KAFKA_TOPICS:?not set (make testenv-up)}"
for f in "$BIN" "$RUNTIME"; do [[ -x "$f" ]] || { echo "run.sh: $f not built" >&2; exit 1; }; done
SCRATCH="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$SCRATCH"; }
trap cleanup EXIT
RUN="bench-$$-$(date +%s)"
topic() { "$KAFKA_TOPICS" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$1" --partitions 3 "${@:2}" >/dev/null; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_runtime CONFIG -> pid in $RT_PID, waits for /readyz
start_runtime() {
  local port; port="$(free_port)"
  "$RUNTIME" --control-bind-address "127.0.0.1:$port" --config "$1" >"$SCRATCH/rt-$port.log" 2>&1 &
  RT_PID=$!; PIDS+=("$RT_PID")
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "run.sh: runtime not ready" >&2; cat "$SCRATCH/rt-$port.log" >&2; exit 1
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

config() {  # NAME RUNTIME-JSON IN OUT GROUP
  cat >"$SCRATCH/$1.json" <<JSON
{"name": "$1", $2,
 "outputs": [{"name": "out", "kafka": {"bootstrapServers": "$KAFKA_BOOTSTRAP", "topic": "$4", "properties": {"linger.ms": "5"}}}],
 "triggers": [{"name": "in", "kafka": {"bootstrapServers": "$KAFKA_BOOTSTRAP", "topics": ["$3"], "consumerGroup": "$5",
               "initialOffset": "earliest", "maxInFlight": $MAX_IN_FLIGHT}}]}
JSON
}

echo "== mirror: $N records" >&2
for t in m-in m-sluice m-raw; do topic "$RUN-$t"; done
"$BIN" produce "$KAFKA_BOOTSTRAP" "$RUN-m-in" "$N" 100
config mirror '"runtime": "builtin", "pipeline": [{"mirror": {}}]' "$RUN-m-in" "$RUN-m-sluice" "$RUN-g-mirror"
start_runtime "$SCRATCH/mirror.json"
MIRROR="$("$BIN" measure "$KAFKA_BOOTSTRAP" "$RUN-m-sluice" "$N" "$RT_PID")"; stop "$RT_PID"
"$BIN" raw-loop "$KAFKA_BOOTSTRAP" "$RUN-m-in" "$RUN-m-raw" "$RUN-g-raw" "$N" & RAW_PID=$!; PIDS+=("$RAW_PID")
RAW="$("$BIN" measure "$KAFKA_BOOTSTRAP" "$RUN-m-raw" "$N" "$RAW_PID")"; wait "$RAW_PID"
echo "mirror $MIRROR / raw $RAW" >&2

echo "== python: $NP records" >&2
for t in p-in p-sluice p-base; do topic "$RUN-$t"; done
"$BIN" produce "$KAFKA_BOOTSTRAP" "$RUN-p-in" "$NP" 100
mkdir -p "$SCRATCH/code"
cat >"$SCRATCH/code/index.py" <<'PY'
def main_handler(event, context):
    return event["data"]
PY
config python "\"runtime\": \"python3.11\", \"codeDir\": \"$SCRATCH/code\"" "$RUN-p-in" "$RUN-p-sluice" "$RUN-g-py"
start_runtime "$SCRATCH/python.json"
PYSLUICE="$("$BIN" measure "$KAFKA_BOOTSTRAP" "$RUN-p-sluice" "$NP" "$RT_PID")"; stop "$RT_PID"
echo "python sluice $PYSLUICE" >&2
PYBASE='null'
# The loop a user would write by hand around the same handler: canonical-like
# event dict, produce with key/headers, async commits every 10,000.
cat >"$SCRATCH/baseline.py" <<'PY'
import sys
from confluent_kafka import Consumer, Producer
bootstrap, src, dst, group, n, code = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
sys.path.insert(0, code)
from index import main_handler
extra = {"fetch.queue.backoff.ms": int(sys.argv[7])} if len(sys.argv) > 7 else {}
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False, **extra})
producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
consumer.subscribe([src])
class Context:
    def __init__(self, request_id):
        self.request_id = request_id
done = 0
while done < n:
    m = consumer.poll(0.1)
    if m is None or m.error():
        continue
    event = {"id": "%s/%d/%d" % (m.topic(), m.partition(), m.offset()), "source": "kafka", "type": "kafka.record",
             "key": m.key(), "headers": m.headers(), "partition": m.partition(), "offset": m.offset(),
             "data": m.value().decode("utf-8", "surrogateescape")}
    out = main_handler(event, Context(event["id"]))
    while True:
        try:
            producer.produce(dst, value=out, key=m.key(), headers=m.headers())
            break
        except BufferError:
            producer.poll(0.01)
    producer.poll(0)
    done += 1
    if done % 10000 == 0:
        consumer.commit(asynchronous=True)
producer.flush(120)
try:
    consumer.commit(asynchronous=False)
except Exception:
    pass  # nothing new since the last asynchronous commit
consumer.close()
PY
if "$PY" -c 'import confluent_kafka' 2>/dev/null; then
  "$PY" "$SCRATCH/baseline.py" "$KAFKA_BOOTSTRAP" "$RUN-p-in" "$RUN-p-base" "$RUN-g-pybase" "$NP" "$SCRATCH/code" &
  BASE_PID=$!
  PIDS+=("$BASE_PID")
  PYBASE="$("$BIN" measure "$KAFKA_BOOTSTRAP" "$RUN-p-base" "$NP" "$BASE_PID")"; wait "$BASE_PID"
fi
echo "confluent-kafka loop $PYBASE" >&2
# The same loop with the one consumer setting Sluice changes from librdkafka's defaults
# (fetch.queue.backoff.ms 10, see kafka_source.cpp): how much of the ratio that setting alone explains.
PYTUNED='null'
if "$PY" -c 'import confluent_kafka' 2>/dev/null; then
  topic "$RUN-p-tuned"
  "$PY" "$SCRATCH/baseline.py" "$KAFKA_BOOTSTRAP" "$RUN-p-in" "$RUN-p-tuned" "$RUN-g-pytuned" "$NP" "$SCRATCH/code" 10 &
  BASE_PID=$!
  PIDS+=("$BASE_PID")
  PYTUNED="$("$BIN" measure "$KAFKA_BOOTSTRAP" "$RUN-p-tuned" "$NP" "$BASE_PID")"; wait "$BASE_PID"
fi
echo "confluent-kafka loop, fetch.queue.backoff.ms=10: $PYTUNED" >&2

LR="${LAT_RATE:-2000}"; LSEC="${LAT_SECONDS:-20}"; LW="${LAT_WARMUP_SECONDS:-2}"
NL=$((LR * LSEC)); SKIP=$((LR * LW))
echo "== latency: $LR records/s for $LSEC s (first $LW s left out)" >&2
for t in l-in-s l-in-b; do topic "$RUN-$t"; done
for t in l-out-s l-out-b; do topic "$RUN-$t" --config message.timestamp.type=LogAppendTime; done
config latency "\"runtime\": \"python3.11\", \"codeDir\": \"$SCRATCH/code\"" "$RUN-l-in-s" "$RUN-l-out-s" "$RUN-g-lat"
# ready PID IN OUT: one probe record through the contender, so the paced run starts once it consumes.
ready() { "$BIN" produce "$KAFKA_BOOTSTRAP" "$2" 1 100; "$BIN" measure "$KAFKA_BOOTSTRAP" "$3" 1 "$1" >/dev/null; }
start_runtime "$SCRATCH/latency.json"
ready "$RT_PID" "$RUN-l-in-s" "$RUN-l-out-s"
"$BIN" paced "$KAFKA_BOOTSTRAP" "$RUN-l-in-s" "$LR" "$LSEC" 100
LATSLUICE="$("$BIN" latency "$KAFKA_BOOTSTRAP" "$RUN-l-out-s" $((NL + 1)) "$SKIP")"; stop "$RT_PID"
echo "latency sluice $LATSLUICE" >&2
LATBASE='null'
if "$PY" -c 'import confluent_kafka' 2>/dev/null; then
  "$PY" "$SCRATCH/baseline.py" "$KAFKA_BOOTSTRAP" "$RUN-l-in-b" "$RUN-l-out-b" "$RUN-g-latbase" $((NL + 1)) \
    "$SCRATCH/code" &
  BASE_PID=$!; PIDS+=("$BASE_PID")
  ready "$BASE_PID" "$RUN-l-in-b" "$RUN-l-out-b"
  "$BIN" paced "$KAFKA_BOOTSTRAP" "$RUN-l-in-b" "$LR" "$LSEC" 100
  LATBASE="$("$BIN" latency "$KAFKA_BOOTSTRAP" "$RUN-l-out-b" $((NL + 1)) "$SKIP")"; wait "$BASE_PID"
fi
echo "latency confluent-kafka loop $LATBASE" >&2

mkdir -p "$ROOT/bench/results"
/usr/bin/python3 - "$MIRROR" "$RAW" "$PYSLUICE" "$PYBASE" "$N" "$NP" "$LATSLUICE" "$LATBASE" "$LR" "$MAX_IN_FLIGHT" \
  "$PYTUNED" >"$ROOT/bench/results/runtime_kafka.json" <<'PY'
import json, sys
mirror, raw, pys, pyb = (json.loads(a) for a in sys.argv[1:5])
lats, latb = json.loads(sys.argv[7]), json.loads(sys.argv[8])
pyt = json.loads(sys.argv[11])
out = {"mirror": {"records": int(sys.argv[5]), "sluice": mirror, "raw_librdkafka_loop": raw,
                  "ratio_events_per_s": mirror["events_per_s"] / raw["events_per_s"],
                  "ratio_events_per_cpu_s": mirror["events_per_cpu_s"] / raw["events_per_cpu_s"]},
       "python": {"records": int(sys.argv[6]), "sluice": pys, "confluent_kafka_loop": pyb,
                  "ratio_events_per_s": pys["events_per_s"] / pyb["events_per_s"] if pyb else None,
                  "confluent_kafka_loop_fetch_queue_backoff_10ms": pyt,
                  "ratio_events_per_s_vs_that": pys["events_per_s"] / pyt["events_per_s"] if pyt else None},
       "python_latency": {"rate_per_s": int(sys.argv[9]), "sluice": lats, "confluent_kafka_loop": latb},
       "sluice_max_in_flight": int(sys.argv[10])}
print(json.dumps(out, indent=2, sort_keys=True))
PY
cat "$ROOT/bench/results/runtime_kafka.json"
