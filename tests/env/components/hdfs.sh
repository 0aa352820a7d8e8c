# HDFS with WebHDFS: Hadoop's MiniDFSCluster (a real NameNode and a real
# DataNode in one JVM), from Maven Central jars (no tarball download), started
# by the tiny main in tests/env/hdfs/MiniHdfs.java. WebHDFS listens on a free
# 127.0.0.1 port and redirects reads/writes to the DataNode on 127.0.0.1.
# Data under $SLUICE_ENV_DIR/hdfs, fresh on every start. The root directory is
# world-writable, so tests pick any user.name and make their own directories.
# Sourced by up.sh/down.sh after lib.sh.

_hdfs_home() { cache_dir hdfs "$HADOOP_VERSION"; }
# MiniHdfs.java is ours, not a pinned release: its classes are keyed by its
# content, so an edited main is compiled again instead of an old one run.
_hdfs_classes() { echo "$(_hdfs_home)/classes-$(sha256sum "$ENV_SCRIPTS_DIR/hdfs/MiniHdfs.java" | cut -c1-16)"; }

hdfs_install() {
  _hdfs_fetch
  local classes
  classes=$(_hdfs_classes)
  [[ -f $classes/.done ]] && return 0
  rm -rf "$classes" && mkdir -p "$classes"
  javac -nowarn -d "$classes" -cp "$(_hdfs_home)/lib/*" "$ENV_SCRIPTS_DIR/hdfs/MiniHdfs.java" >"$classes/javac.log" 2>&1 || {
    cat "$classes/javac.log" >&2
    die "compiling MiniHdfs.java failed"
  }
  touch "$classes/.done"
}

# The Hadoop jars and log configuration, once per HADOOP_VERSION.
_hdfs_fetch() {
  local dir
  dir=$(_hdfs_home)
  cache_ready hdfs "$HADOOP_VERSION" && return 0
  log "installing HDFS (MiniDFSCluster) $HADOOP_VERSION from Maven Central"
  rm -rf "$dir" && mkdir -p "$dir"
  # MiniDFSCluster lives in the hadoop-hdfs test jar and calls into the
  # hadoop-common test jar, Mockito and JUnit at run time.
  maven_fetch "$dir" "Hadoop $HADOOP_VERSION" mini-hdfs "$(
    cat <<XML
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-hdfs</artifactId><version>$HADOOP_VERSION</version></dependency>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-hdfs</artifactId><version>$HADOOP_VERSION</version><type>test-jar</type></dependency>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-hdfs-client</artifactId><version>$HADOOP_VERSION</version></dependency>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-common</artifactId><version>$HADOOP_VERSION</version></dependency>
    <dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-common</artifactId><version>$HADOOP_VERSION</version><type>test-jar</type></dependency>
    <dependency><groupId>org.mockito</groupId><artifactId>mockito-core</artifactId><version>2.28.2</version></dependency>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version></dependency>
XML
  )"
  cat >"$dir/log4j.properties" <<'EOF2'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF2
  mark_ready hdfs "$HADOOP_VERSION"
}

_hdfs_ready() {
  [[ -f $SLUICE_ENV_DIR/hdfs/ready ]] &&
    curl -sf "$(sed -n 's/^webhdfs=//p' "$SLUICE_ENV_DIR/hdfs/ready")/webhdfs/v1/?op=GETFILESTATUS&user.name=sluice" \
      >/dev/null
}

hdfs_start() {
  local dir=$SLUICE_ENV_DIR/hdfs home classes
  home=$(_hdfs_home)
  classes=$(_hdfs_classes)
  [[ -f $home/.done && -f $classes/.done ]] || die "HDFS $HADOOP_VERSION is not installed ($home); run hdfs_install"
  if is_running hdfs && [[ -f $dir/ready ]]; then
    log "hdfs already running (pid $(cat "$SLUICE_ENV_DIR/hdfs.pid"))"
  else
    stop_bg hdfs
    rm -rf "$dir" && mkdir -p "$dir"
    # Hadoop 3.3 predates Java 17's closed modules: Jersey's JAXB needs java.lang opened.
    start_bg hdfs java -Xmx512m -Xms64m -XX:+UseSerialGC -Djava.awt.headless=true \
      --add-opens java.base/java.lang=ALL-UNNAMED \
      -Dlog4j.configuration="file:$home/log4j.properties" -cp "$home/lib/*:$classes" \
      MiniHdfs "$dir/data" "$(free_port)" "$dir/ready"
    wait_for hdfs 120 "$SLUICE_ENV_DIR/hdfs.log" _hdfs_ready
  fi
  {
    echo "# WebHDFS of a real single-node HDFS (MiniDFSCluster); any user.name may write under /."
    echo "export WEBHDFS_ENDPOINT=$(sed -n 's/^webhdfs=//p' "$dir/ready")"
    echo "export HDFS_RPC_URL=$(sed -n 's/^rpc=//p' "$dir/ready")"
  } >"$SLUICE_ENV_DIR/hdfs.env"
}

hdfs_stop() {
  stop_bg hdfs
}
