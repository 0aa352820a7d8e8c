#!/usr/bin/env bash
# make fuzz, and the fuzz phases of make test: builds the libFuzzer targets of
# tests/fuzz/ into build-fuzz/ (clang++-14, ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 60), one phase per target. A target fails its phase on
# a crash, a leak, undefined behaviour or an input slower than 10 s, and the
# input that did it is printed with the command that replays it.
#   tests/fuzz/run.sh [TARGET...]    (default: every target)
# Each run starts from the seeds in tests/fuzz/corpus/TARGET/ plus what earlier
# runs on this machine kept in build-fuzz/corpus/TARGET/ (the repository's
# seeds are never written to).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(config_parser_fuzz expression_fuzz event_shapes_fuzz manifest_fuzz control_request_fuzz)
# The same compiler cache as the main build, so a warm run compiles nothing.
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/sluice/ccache} CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT}
source scripts/phases.sh
phases_open
finish() {
  local status=$?
  phase_abort "$status"
  phases_close
  exit "$status"
}
trap finish EXIT

phase_begin "fuzz build"
[[ -f $FUZZ_BUILD_DIR/build.ninja ]] ||
  cmake -S tests/fuzz -B "$FUZZ_BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$FUZZ_BUILD_DIR" -j "${JOBS:-$(nproc)}" --target "${TARGETS[@]}"
phase_end

# fuzz_one TARGET: one bounded run; prints libFuzzer's closing figures.
fuzz_one() {
  local target=$1 name=${1%_fuzz} log status=0
  local work=$FUZZ_BUILD_DIR/corpus/$name artifacts=$FUZZ_BUILD_DIR/crashes/$name/
  mkdir -p "$work" "$artifacts"
  log=$FUZZ_BUILD_DIR/$name.log
  phase_begin fuzz "$name"
  # New inputs go to the first directory (the work corpus); the seeds are read only.
  # Under CI one fixed seed and a fixed number of inputs: each run retraces exactly the same
  # mutations from the same seeds, however fast the machine, so CI is red for an input the code
  # mishandles, not for how far one run happened to get (make fuzz explores).
  local seed=()
  [[ ${CI:-} != true ]] || seed=(-seed="${FUZZ_SEED:-20261205}" -runs="${FUZZ_CI_RUNS:-20000}")
  "$FUZZ_BUILD_DIR/$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${seed[@]}" -artifact_prefix="$artifacts" "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+.*DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" || true
  if ((status != 0)); then
    tail -n 60 "$log"
    local input
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "fuzz: $name failed (exit $status); log: $log" >&2
    [[ -z $input ]] || echo "fuzz: reproduce with: $FUZZ_BUILD_DIR/$target $input" >&2
    phase_end "FAILED (exit $status)"
    return 1
  fi
  phase_end
}

failed=0
for target in "${TARGETS[@]}"; do
  fuzz_one "$target" || failed=1
done
exit "$failed"
