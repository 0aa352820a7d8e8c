#!/usr/bin/env bash
# Load beside the test environment, for `make test-under-load`: two CPU hogs
# (one per core of a CI machine) and an I/O hog (writes with fdatasync and
# reads past the page cache, as a neighbour's build or database would), so
# tests that only pass on an idle machine show up here rather than in CI.
#
#   load.sh start OWNER_PID SECONDS   start the hogs; each ends by itself after
#                                     SECONDS or once OWNER_PID is gone, so a
#                                     harness killed with SIGKILL leaves none
#   load.sh stop                      stop them (by PID, as down.sh does)
#
# Every hog's command line names $SLUICE_ENV_DIR/load, so the check that
# nothing of the test environment is left running (leftovers.sh) sees them too.
source "$(dirname "$0")/lib.sh"

LOAD_PROCESSES=(load-cpu-1 load-cpu-2 load-io)
LOAD_DIR=$SLUICE_ENV_DIR/load

# The hogs check their bound and owner about once a second.
_burn_cpu() {
  local owner=$1 end=$((SECONDS + $2)) i
  while ((SECONDS < end)) && kill -0 "$owner" 2>/dev/null; do
    for ((i = 0; i < 500000; i++)); do :; done
  done
}

_churn_io() {
  local owner=$1 end=$((SECONDS + $2)) file=$LOAD_DIR/io-hog.$$
  while ((SECONDS < end)) && kill -0 "$owner" 2>/dev/null; do
    dd if=/dev/zero of="$file" bs=1M count=64 conv=fdatasync status=none
    dd if="$file" of=/dev/null bs=1M iflag=direct status=none
  done
  rm -f "$file"
}

case ${1:-} in
  start)
    [[ ${2:-} =~ ^[0-9]+$ && ${3:-} =~ ^[0-9]+$ ]] || die "usage: load.sh start OWNER_PID SECONDS"
    mkdir -p "$LOAD_DIR"
    for name in "${LOAD_PROCESSES[@]}"; do
      kind=cpu
      [[ $name == load-io ]] && kind=io
      start_bg "$name" bash "$ENV_SCRIPTS_DIR/load.sh" "$kind" "$LOAD_DIR" "$2" "$3"
    done
    ;;
  stop)
    for name in "${LOAD_PROCESSES[@]}"; do stop_bg "$name"; done
    rm -rf "$LOAD_DIR"
    ;;
  cpu) _burn_cpu "$3" "$4" ;;
  io) _churn_io "$3" "$4" ;;
  *) die "usage: load.sh start OWNER_PID SECONDS | load.sh stop" ;;
esac
