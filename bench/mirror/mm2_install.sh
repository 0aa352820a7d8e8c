#!/usr/bin/env bash
# Installs Kafka's own MirrorMaker 2 (org.apache.kafka:connect-mirror and its runtime
# dependencies, Kafka Connect included) from Maven Central, at the Kafka version tests/env
# runs (tests/env/versions.sh), into $SLUICE_CACHE/mm2/<scala>-<kafka>/lib. Prints that
# directory. Cached: a second run downloads nothing. The Kafka install of tests/env leaves
# Connect out (components/kafka.sh), so MirrorMaker 2 has its own directory.
set -euo pipefail
# shellcheck source=tests/env/lib.sh
source "$(dirname "$0")/../../tests/env/lib.sh"
key="$SCALA_VERSION-$KAFKA_VERSION"
dir=$(cache_dir mm2 "$key")
if ! cache_ready mm2 "$key"; then
  log "installing MirrorMaker 2 (connect-mirror $KAFKA_VERSION) from Maven Central"
  rm -rf "$dir" && mkdir -p "$dir"
  # slf4j-reload4j: Connect logs through slf4j, as the official distribution ships it.
  maven_fetch "$dir" "connect-mirror $KAFKA_VERSION" mm2 "$(
    cat <<XML
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>connect-mirror</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
XML
  )"
  ls "$dir/lib/connect-mirror-$KAFKA_VERSION.jar" >/dev/null || die "connect-mirror jar missing after Maven"
  mark_ready mm2 "$key"
fi
echo "$dir"
