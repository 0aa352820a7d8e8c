#!/usr/bin/env bash
# make test: install what is missing and build (make deps, make build), start
# the real test environment, run the unit tests, the integration tests and the
# e2e tests (CTest labels; e2e after `make images`) with the environment's
# addresses exported, then stop the environment again (unless KEEP_TESTENV=1);
# the fuzz targets run briefly after the build.
# Ends with a table of how long each phase took, also when one failed. Extra
# arguments go to ctest (every run); when they select no integration or e2e test
# the environment is not started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
# The make that runs this (the Makefile passes $(MAKE)); variables given on its
# command line reach deps and build through MAKEFLAGS.
MAKE=${MAKE:-make}
source scripts/phases.sh
phases_open

env_started=0
finish() {
  local status=$?
  phase_abort "$status"
  if ((env_started)) && [[ ${KEEP_TESTENV:-0} != 1 ]]; then
    phase_begin teardown
    # Absolute path: the working directory is the build directory by now.
    if bash "$ROOT/tests/env/down.sh"; then
      phase_end
    else
      phase_end FAILED
      echo "make test: stopping the test environment failed" >&2
      status=1
    fi
  fi
  phases_close
  exit "$status"
}
trap finish EXIT

phase_begin deps
"$MAKE" --no-print-directory deps
phase_end
phase_begin configure+build
"$MAKE" --no-print-directory build
phase_end
# The fuzz targets, FUZZ_CI_SECONDS (20) each, with their own build and phases
# (tests/fuzz/run.sh): for the whole suite, not a selection of tests; before the
# test environment starts, which would only idle meanwhile. A crash does not
# stop the tests, so one log shows both.
fuzz_failed=0
if (($# == 0)); then
  FUZZ_SECONDS=${FUZZ_CI_SECONDS:-20} bash tests/fuzz/run.sh || fuzz_failed=1
fi

cd "$BUILD_DIR"
selected() { ctest -N "$@" | sed -n 's/^Total Tests: //p'; }
all_tests=$(selected "$@")
unit_tests=$(selected -L '^unit$' "$@")
integration_tests=$(selected -L '^integration$' "$@")
e2e_tests=$(selected -L '^e2e$' "$@")
# A selection that matches nothing is a failure, not a pass; so is a test that
# neither run would pick up.
((all_tests > 0)) || {
  echo "make test: no test matches: $*" >&2
  exit 1
}
((unit_tests + integration_tests + e2e_tests == all_tests)) || {
  echo "make test: $((all_tests - unit_tests - integration_tests - e2e_tests)) test(s) have no label unit, integration or e2e" >&2
  exit 1
}

# The e2e tier runs the images `make images` builds (from the binaries just built).
if ((e2e_tests > 0)); then
  phase_begin images
  BUILD_DIR=$PWD bash "$ROOT/images/build.sh"
  # The handler images of e2e/scenarios/byo_image_test (Debian packages only, no Sluice binary).
  BUILD_DIR=$PWD bash "$ROOT/images/build.sh" byo
  phase_end
fi
if ((integration_tests + e2e_tests > 0)); then
  # up.sh records its install and start phases itself, per component.
  env_started=1
  # TESTENV_COMPONENTS (e.g. "kafka rabbitmq") starts only those, for a
  # selection that needs no more (default: every component).
  # shellcheck disable=SC2086 # a list of names on purpose
  bash "$ROOT/tests/env/up.sh" ${TESTENV_COMPONENTS:-}
  set -a
  # shellcheck disable=SC1091
  source testenv.env
  set +a
fi

# run_label LABEL PHASE ARGS...: one ctest run, recorded with its counts. A
# failure does not stop the next run, so one CI log shows every failing test.
failed=0
run_label() {
  local label=$1 phase=$2 status=0 out counts bad all
  shift 2
  out=$(mktemp)
  phase_begin "$phase"
  ctest --output-on-failure --timeout 1200 -j "${CTEST_PARALLEL:-2}" -L "^$label\$" "$@" | tee "$out" || status=$?
  # ctest's closing line: "99% tests passed, 1 tests failed out of 120".
  counts=$(sed -nE 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+)$/\1 \2/p' "$out")
  rm -f "$out"
  if [[ -n $counts ]]; then
    read -r bad all <<<"$counts"
    phase_end "$((all - bad)) passed, $bad failed"
  else
    phase_end "FAILED (exit $status)"
  fi
  ((status == 0)) || failed=1
}
((unit_tests == 0)) || run_label unit "unit tests" "$@"
((integration_tests == 0)) || run_label integration "integration tests" "$@"
((e2e_tests == 0)) || run_label e2e "e2e tests" "$@"
((fuzz_failed == 0)) || failed=1
exit "$failed"
