# Shared helpers for the tests/env scripts. Sourced, never executed.
# Everything is installed under SLUICE_CACHE (keyed by version) and every
# process started records its PID under SLUICE_ENV_DIR so `down` stops only
# what `up` started.
set -euo pipefail

ENV_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_ROOT=$(cd "$ENV_SCRIPTS_DIR/../.." && pwd)
# shellcheck source=versions.sh
source "$ENV_SCRIPTS_DIR/versions.sh"

SLUICE_CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}
SLUICE_ENV_DIR=${SLUICE_ENV_DIR:-$PROJECT_ROOT/build/testenv}
# Go's module and build caches live in the Sluice cache too, so one directory
# holds everything a run downloads or builds (and an empty SLUICE_CACHE is a
# truly cold start).
export GOMODCACHE=${SLUICE_GOMODCACHE:-$SLUICE_CACHE/go/mod}
export GOCACHE=${SLUICE_GOCACHE:-$SLUICE_CACHE/go/build}
export GOPATH=$SLUICE_CACHE/go/path
export GOFLAGS=-buildvcs=false
export GOTOOLCHAIN=local
mkdir -p "$SLUICE_CACHE" "$SLUICE_ENV_DIR"

log() { printf '[testenv %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Prints a TCP port that nothing listens on right now.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# wait_for NAME TIMEOUT_SECONDS LOGFILE CMD...: polls CMD until it succeeds.
# On timeout (or if the component's process died) prints the log tail and fails.
wait_for() {
  local name=$1 timeout=$2 logfile=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  local pidfile="$SLUICE_ENV_DIR/$name.pid"
  until "$@" >/dev/null 2>&1; do
    if [[ -f $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "$name exited while starting; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      die "$name failed to start"
    fi
    if ((SECONDS >= deadline)); then
      log "$name not ready after ${timeout}s; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      die "$name did not become ready"
    fi
    sleep 0.5
  done
  log "$name is ready"
}

# start_bg NAME CMD...: runs CMD in the background with its own log file and pid file.
start_bg() {
  local name=$1
  shift
  local logfile="$SLUICE_ENV_DIR/$name.log"
  if is_running "$name"; then
    log "$name already running (pid $(cat "$SLUICE_ENV_DIR/$name.pid"))"
    return 0
  fi
  log "starting $name"
  setsid "$@" >"$logfile" 2>&1 </dev/null &
  echo $! >"$SLUICE_ENV_DIR/$name.pid"
}

is_running() {
  local pidfile="$SLUICE_ENV_DIR/$1.pid"
  [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# stop_bg NAME: TERM, then KILL after a grace period, the process group we started.
stop_bg() {
  local name=$1 pidfile="$SLUICE_ENV_DIR/$1.pid"
  [[ -f $pidfile ]] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  else
    # Gone before anyone stopped it: every test after its death failed for
    # it, so its own last words go in the log that CI keeps.
    log "$name (pid $pid) had exited before it was stopped; the end of its log:"
    [[ -f $SLUICE_ENV_DIR/$name.log ]] && tail -n 12 "$SLUICE_ENV_DIR/$name.log" | cut -c1-300 >&2
  fi
  rm -f "$pidfile"
}

# Builds or reuses a cache directory: cached NAME VERSION -> prints the path.
# A directory counts as built only once its `.done` marker exists, so an
# interrupted build is redone rather than half-used.
cache_dir() { echo "$SLUICE_CACHE/$1/$2"; }
cache_ready() { [[ -f "$(cache_dir "$1" "$2")/.done" ]]; }
mark_ready() { touch "$(cache_dir "$1" "$2")/.done"; }

# maven_fetch DIR WHAT ARTIFACT DEPENDENCIES: copies the runtime jars of the
# <dependency> elements in DEPENDENCIES, and all they need, from Maven Central
# into DIR/lib, through a throwaway pom (DIR/pom.xml, project io.sluice.testenv:ARTIFACT).
# Callers key DIR by version (cache_dir). Maven's own repository lives in the
# cache too, so a cold CI machine needs nothing from ~/.m2 and a warm one
# downloads nothing. WHAT names the download in the error ("Kafka 3.9.1").
maven_fetch() {
  local dir=$1 what=$2 artifact=$3 dependencies=$4
  cat >"$dir/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.sluice.testenv</groupId>
  <artifactId>$artifact</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$dependencies
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
POM
  mvn -B -q -f "$dir/pom.xml" -Dmaven.repo.local="$SLUICE_CACHE/maven-repo" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/lib" \
    </dev/null >"$dir/maven.log" 2>&1 || {
    tail -n 40 "$dir/maven.log" >&2
    die "Maven could not fetch $what"
  }
}
