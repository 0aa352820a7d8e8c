# Apache Kafka in KRaft mode, from Maven Central jars (no tarball download).
# Two independent single-node clusters (combined broker+controller each):
#   kafka    -> KAFKA_BOOTSTRAP      (every Kafka test)
#               KAFKA_POD_BOOTSTRAP: the same cluster for pods on the real node
#               (components/node.sh): a listener bound on 127.0.0.1 but
#               advertised as 10.244.0.1, which the node DNATs back to 127.0.0.1
#               KAFKA_SASL_SSL_BOOTSTRAP: the same cluster behind SASL_SSL
#               (SCRAM-SHA-512 user KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD, a
#               broker certificate for 127.0.0.1 signed by the throwaway CA in
#               KAFKA_SSL_CA_FILE; all generated at start)
#   kafka-b  -> KAFKA_BOOTSTRAP_B    (a second cluster for mirror/disaster-recovery tests)
#               KAFKA_POD_BOOTSTRAP_B: the same for pods on the real node
# Both run from the same install, each with its own data dir and ports. Topics
# are NOT auto-created: tests create the topics they use (KAFKA_TOPICS is a
# wrapper around Kafka's own TopicCommand; librdkafka's admin API works too).
# Sourced by up.sh/down.sh after lib.sh.

KAFKA_INSTANCES=(kafka kafka-b)

# Keyed by both pinned versions, as Kafka names its builds (kafka_2.13-3.9.1):
# the jars differ per Scala version.
_kafka_key() { echo "$SCALA_VERSION-$KAFKA_VERSION"; }
_kafka_home() { cache_dir kafka "$(_kafka_key)"; }

kafka_install() {
  local dir
  dir=$(_kafka_home)
  cache_ready kafka "$(_kafka_key)" && return 0
  log "installing Kafka $KAFKA_VERSION (Scala $SCALA_VERSION) from Maven Central"
  rm -rf "$dir" && mkdir -p "$dir"
  # slf4j-reload4j: the broker logs through slf4j and also calls log4j 1 APIs
  # (its JMX log4j controller), exactly as the official distribution ships.
  # kafka-tools gives TopicCommand/ConsumerGroupCommand; its Kafka Connect
  # runtime dependency is not needed for those and is left out.
  maven_fetch "$dir" "Kafka $KAFKA_VERSION" kafka-server "$(
    cat <<XML
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
XML
  )"
  ls "$dir/lib"/kafka_"$SCALA_VERSION"-"$KAFKA_VERSION".jar >/dev/null || die "kafka jar missing after Maven"
  cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.org.apache.kafka.raft=INFO
EOF
  # Command-line tools only report problems.
  sed 's/^log4j.rootLogger=INFO/log4j.rootLogger=WARN/' "$dir/log4j.properties" >"$dir/log4j-tools.properties"
  mkdir -p "$dir/bin"
  # kafka-topics-like CLI: $KAFKA_TOPICS --bootstrap-server X --create --topic T ...
  cat >"$dir/bin/kafka-topics" <<EOF
#!/bin/sh
exec java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j.configuration=file:$dir/log4j-tools.properties \\
  -cp "$dir/lib/*" org.apache.kafka.tools.TopicCommand "\$@"
EOF
  cat >"$dir/bin/kafka-consumer-groups" <<EOF
#!/bin/sh
exec java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j.configuration=file:$dir/log4j-tools.properties \\
  -cp "$dir/lib/*" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "\$@"
EOF
  chmod +x "$dir/bin/"*
  mark_ready kafka "$(_kafka_key)"
}

# Writes a fresh config + data dir for one instance and formats its KRaft
# storage. Prints nothing; the port goes to $SLUICE_ENV_DIR/<name>/port.
_kafka_prepare_instance() {
  local name=$1
  local dir="$SLUICE_ENV_DIR/$name"
  local port cport sport="" pport=""
  port=$(free_port)
  cport=$(free_port)
  while [[ $cport == "$port" ]]; do cport=$(free_port); done
  rm -rf "$dir" && mkdir -p "$dir/data"
  pport=$(free_port)
  while [[ $pport == "$port" || $pport == "$cport" ]]; do pport=$(free_port); done
  # A pod cannot use 127.0.0.1 (its own loopback); the metadata it gets back
  # must name the address it reached the broker at.
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,POD://127.0.0.1:$pport"
  local advertised="PLAINTEXT://127.0.0.1:$port,POD://10.244.0.1:$pport"
  local scram=()
  if [[ $name == kafka ]]; then
    sport=$(free_port)
    while [[ $sport == "$port" || $sport == "$cport" || $sport == "$pport" ]]; do sport=$(free_port); done
    _kafka_make_tls "$dir/tls" || return 1
    listeners+=",SASL_SSL://127.0.0.1:$sport"
    advertised+=",SASL_SSL://127.0.0.1:$sport"
    # The SCRAM user is written into the cluster metadata when the storage is
    # formatted (KIP-900), so no admin call is needed after the start.
    local password
    password=$(openssl rand -hex 16)
    echo "$password" >"$dir/tls/sasl-password"
    scram=(--add-scram "SCRAM-SHA-512=[name=sluice-test,password=$password]")
  fi
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,POD:PLAINTEXT
EOF
  if [[ -n $sport ]]; then
    cat >>"$dir/server.properties" <<EOF
# SASL_SSL for the security tests: SCRAM-SHA-512 over TLS; no authorizer, so
# an authenticated user may do anything.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$dir/tls/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$(cat "$dir/tls/keystore-password")
listener.name.sasl_ssl.ssl.key.password=$(cat "$dir/tls/keystore-password")
EOF
  fi
  cat >>"$dir/server.properties" <<EOF
log.dirs=$dir/data
# One node: every replication factor is 1.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
# Tests create their topics explicitly; a typo must fail, not invent a topic.
auto.create.topics.enable=false
delete.topic.enable=true
# Consumer groups start consuming at once instead of waiting 3 s for members.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
# Tests that move gigabytes give their topics a small retention.bytes. The
# broker's defaults let such a test fill the disk long before retention acts:
# the first check 30 s after the broker starts, then one every 5 minutes, and
# a segment past retention is renamed *.deleted and removed only 60 s later.
# The 10,000 x 1 MB test (~135 MB/s here) left 9.5 GB on the broker's disk with
# a 5 s check and that delay, and a CI machine with 5.3 GiB free after the
# build ran out of disk; with these settings it peaks at 1.5 GB.
log.retention.check.interval.ms=1000
log.initial.task.delay.ms=1000
log.segment.delete.delay.ms=1000
EOF
  # A cluster id is 16 random bytes in unpadded base64url (what
  # `StorageTool random-uuid` prints), made here to save a JVM start.
  local cluster_id
  cluster_id=$(python3 -c 'import base64,uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break')
  java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j.configuration="file:$(_kafka_home)/log4j-tools.properties" -cp "$(_kafka_home)/lib/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" "${scram[@]}" \
    >"$dir/format.log" 2>&1 || {
    tail -n 20 "$dir/format.log" >&2
    log "$name: formatting the KRaft storage failed"
    return 1
  }
  echo "$port" >"$dir/port"
  [[ -z $sport ]] || echo "$sport" >"$dir/sasl-ssl-port"
  echo "$pport" >"$dir/pod-port"
}

# _kafka_make_tls DIR: a throwaway CA (ca.crt) and a broker certificate for
# 127.0.0.1 signed by it, packed into a PKCS#12 keystore (broker.p12).
_kafka_make_tls() {
  local tls=$1
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl rand -hex 16 >keystore-password
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=sluice-test-ca" \
      -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout broker.key -out broker.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
      -extfile broker.ext -out broker.crt
    openssl pkcs12 -export -in broker.crt -inkey broker.key -certfile ca.crt -name broker \
      -passout "file:keystore-password" -out broker.p12
  ) >"$tls/openssl.log" 2>&1 || {
    tail -n 20 "$tls/openssl.log" >&2
    log "generating the Kafka TLS material failed"
    return 1
  }
}

_kafka_ready() {
  local name=$1 port dir="$SLUICE_ENV_DIR/$1"
  port=$(cat "$dir/port")
  grep -q 'Kafka Server started' "$SLUICE_ENV_DIR/$name.log" &&
    kcat -b "127.0.0.1:$port" -L -m 3 >/dev/null 2>&1 || return 1
  [[ -f $dir/sasl-ssl-port ]] || return 0
  kcat -b "127.0.0.1:$(cat "$dir/sasl-ssl-port")" -L -m 3 -X security.protocol=SASL_SSL \
    -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=sluice-test -X "sasl.password=$(cat "$dir/tls/sasl-password")" \
    -X "ssl.ca.location=$dir/tls/ca.crt" >/dev/null 2>&1
}

kafka_start() {
  # Instances not yet running get fresh data (tests use unique topic names, so
  # nothing is lost) and are prepared and booted in parallel: JVM start-up
  # dominates. Running ones are kept.
  local name pids=() to_start=()
  for name in "${KAFKA_INSTANCES[@]}"; do
    # (An instance started before the SASL_SSL or pod listener existed is restarted.)
    if is_running "$name" && [[ -f $SLUICE_ENV_DIR/$name/port ]] &&
      [[ -f $SLUICE_ENV_DIR/$name/pod-port ]] && [[ $name != kafka || -f $SLUICE_ENV_DIR/$name/sasl-ssl-port ]]; then
      log "$name already running (pid $(cat "$SLUICE_ENV_DIR/$name.pid"))"
      continue
    fi
    stop_bg "$name" # a process whose state dir is gone is of no use
    to_start+=("$name")
    _kafka_prepare_instance "$name" &
    pids+=($!)
  done
  local pid
  for pid in "${pids[@]}"; do
    wait "$pid" || die "preparing Kafka storage failed"
  done
  local home
  home=$(_kafka_home)
  for name in "${to_start[@]}"; do
    local heap=512m
    [[ $name == kafka ]] || heap=384m
    start_bg "$name" java "-Xmx$heap" -Xms128m -XX:+UseSerialGC -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$home/log4j.properties" -cp "$home/lib/*" \
      kafka.Kafka "$SLUICE_ENV_DIR/$name/server.properties"
  done
  for name in "${KAFKA_INSTANCES[@]}"; do
    wait_for "$name" 120 "$SLUICE_ENV_DIR/$name.log" _kafka_ready "$name"
  done
  {
    echo "export KAFKA_BOOTSTRAP=127.0.0.1:$(cat "$SLUICE_ENV_DIR/kafka/port")"
    echo "# The same cluster for pods on the real node (a listener advertised as 10.244.0.1, see components/node.sh)."
    echo "export KAFKA_POD_BOOTSTRAP=10.244.0.1:$(cat "$SLUICE_ENV_DIR/kafka/pod-port")"
    echo "# The same cluster behind SASL_SSL (SCRAM-SHA-512; the broker certificate is for 127.0.0.1)."
    echo "export KAFKA_SASL_SSL_BOOTSTRAP=127.0.0.1:$(cat "$SLUICE_ENV_DIR/kafka/sasl-ssl-port")"
    echo "export KAFKA_SSL_CA_FILE=$SLUICE_ENV_DIR/kafka/tls/ca.crt"
    echo "export KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
    echo "export KAFKA_SASL_USERNAME=sluice-test"
    echo "export KAFKA_SASL_PASSWORD=$(cat "$SLUICE_ENV_DIR/kafka/tls/sasl-password")"
    echo "# A second, independent Kafka cluster (mirror / disaster-recovery tests)."
    echo "export KAFKA_BOOTSTRAP_B=127.0.0.1:$(cat "$SLUICE_ENV_DIR/kafka-b/port")"
    echo "export KAFKA_POD_BOOTSTRAP_B=10.244.0.1:$(cat "$SLUICE_ENV_DIR/kafka-b/pod-port")"
    echo "# auto.create.topics.enable=false: create topics first, e.g."
    echo "#   \$KAFKA_TOPICS --bootstrap-server \$KAFKA_BOOTSTRAP --create --topic T --partitions 3"
    echo "export KAFKA_TOPICS=$home/bin/kafka-topics"
    echo "export KAFKA_CONSUMER_GROUPS=$home/bin/kafka-consumer-groups"
  } >"$SLUICE_ENV_DIR/kafka.env"
}

kafka_stop() {
  local i
  for ((i = ${#KAFKA_INSTANCES[@]} - 1; i >= 0; i--)); do
    stop_bg "${KAFKA_INSTANCES[i]}"
  done
}
