# The two mirrors of bench/mirror/run.sh and what it reads off their processes. Sourced; the
# caller sets RUNTIME, MB, MM2_HOME, SCRATCH, GROUP_SYNC, MAX_IN_FLIGHT, KAFKA_BOOTSTRAP (A),
# KAFKA_BOOTSTRAP_B (B) and PIDS (every background PID is appended, the caller kills them on exit).

# sluice_config TAG TOPIC GROUP: $SCRATCH/TAG.json, one sluice-runtime replica copying TOPIC on A to
# A.TOPIC on B and translating GROUP's offsets every GROUP_SYNC seconds.
sluice_config() {
  cat >"$SCRATCH/$1.json" <<JSON
{"name": "$1", "runtime": "builtin",
 "pipeline": [{"mirror": {"rename": "prefix", "prefix": "A.", "groups": ["$3"], "groupSyncIntervalSeconds": $GROUP_SYNC}}],
 "outputs": [{"name": "b", "kafka": {"bootstrapServers": "$KAFKA_BOOTSTRAP_B", "topic": "A.$2",
              "properties": {"linger.ms": "5"}}}],
 "triggers": [{"name": "a", "kafka": {"bootstrapServers": "$KAFKA_BOOTSTRAP", "topics": ["$2"],
               "consumerGroup": "$1-mirror", "initialOffset": "earliest", "maxInFlight": $MAX_IN_FLIGHT}}]}
JSON
}

# mm2_config TAG TOPIC GROUP: $SCRATCH/TAG.properties, MirrorMaker 2 in dedicated mode with one
# flow A->B for TOPIC (to A.TOPIC, DefaultReplicationPolicy), GROUP's offsets checkpointed and
# synced to B every GROUP_SYNC seconds. Everything else at its default but what one broker per
# cluster needs (replication factor 1) and what tests/env's brokers lack (an authorizer, so no ACL
# sync), and linger.ms 5 on the producer to B, as Sluice's output.
mm2_config() {
  cat >"$SCRATCH/$1.properties" <<PROPS
clusters = A, B
A.bootstrap.servers = $KAFKA_BOOTSTRAP
B.bootstrap.servers = $KAFKA_BOOTSTRAP_B
A->B.enabled = true
B->A.enabled = false
A->B.topics = $2
A->B.groups = $3
tasks.max = 1
A->B.emit.checkpoints.enabled = true
A->B.emit.checkpoints.interval.seconds = $GROUP_SYNC
A->B.sync.group.offsets.enabled = true
A->B.sync.group.offsets.interval.seconds = $GROUP_SYNC
A->B.refresh.groups.interval.seconds = $GROUP_SYNC
A->B.sync.topic.configs.interval.seconds = 60
A->B.sync.topic.acls.enabled = false
B.producer.linger.ms = 5
replication.factor = 1
checkpoints.topic.replication.factor = 1
heartbeats.topic.replication.factor = 1
offset-syncs.topic.replication.factor = 1
offset.storage.replication.factor = 1
status.storage.replication.factor = 1
config.storage.replication.factor = 1
PROPS
}

mm2_log4j() {
  [[ -f $SCRATCH/mm2-log4j.properties ]] && return 0
  # What Kafka's config/connect-log4j.properties sets: INFO to the console.
  cat >"$SCRATCH/mm2-log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c:%L)%n
log4j.logger.org.reflections=ERROR
EOF
}

# mirror_start WHO TAG TOPIC GROUP: starts `sluice` or `mm2` on TOPIC; its PID in MIRROR_PID.
# MirrorMaker 2 runs with the JVM options bin/connect-mirror-maker.sh and bin/kafka-run-class.sh
# give it (heap 256M-2G, G1 with a 20 ms pause goal).
mirror_start() {
  local who=$1 tag=$2
  if [[ $who == sluice ]]; then
    sluice_config "$tag" "$3" "$4"
    "$RUNTIME" --control-bind-address "127.0.0.1:$(free_port)" --config "$SCRATCH/$tag.json" \
      >"$SCRATCH/$tag.log" 2>&1 &
  else
    mm2_config "$tag" "$3" "$4"
    mm2_log4j
    java -Xms256M -Xmx2G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$SCRATCH/mm2-log4j.properties" -cp "$MM2_HOME/lib/*" \
      org.apache.kafka.connect.mirror.MirrorMaker "$SCRATCH/$tag.properties" >"$SCRATCH/$tag.log" 2>&1 &
  fi
  MIRROR_PID=$!
  PIDS+=("$MIRROR_PID")
}

# mirror_stop PID: SIGTERM, SIGKILL after 60 s, and wait.
mirror_stop() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 600); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# vm_hwm PID: the process's peak resident set (VmHWM), kB.
vm_hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# process_cpu PID: utime + stime of the whole process since it started, seconds.
process_cpu() {
  local stat
  stat="$(cat "/proc/$1/stat")"
  stat="${stat##*) }"
  awk -v tck="$(getconf CLK_TCK)" '{printf "%.2f\n", ($12 + $13) / tck}' <<<"$stat"
}

# wait_translated GROUP TOPIC: GROUP's committed offsets on TOPIC on B once every partition has one,
# or what there is after 12 sync intervals; JSON with the seconds waited.
wait_translated() {
  local start=$SECONDS got
  while true; do
    got="$("$MB" committed "$KAFKA_BOOTSTRAP_B" "$1" "$2")"
    if [[ $(jq '.with_offset == .partitions' <<<"$got") == true ]] || ((SECONDS - start >= 12 * GROUP_SYNC)); then
      jq -c ". + {\"waited_s\": $((SECONDS - start))}" <<<"$got"
      return 0
    fi
    sleep 1
  done
}
