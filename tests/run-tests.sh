#!/usr/bin/env bash
# make test: start the real test environment, run every CTest test (unit and
# integration) with its addresses exported, then stop the environment again
# (unless KEEP_TESTENV=1). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}

if [[ ${KEEP_TESTENV:-0} != 1 ]]; then
  # Absolute path: the working directory is the build directory by the time this runs.
  trap 'bash "$ROOT/tests/env/down.sh" || echo "make test: stopping the test environment failed" >&2' EXIT
fi
bash tests/env/up.sh
set -a
# shellcheck disable=SC1091
source "$BUILD_DIR/testenv.env"
set +a

cd "$BUILD_DIR"
# --no-tests=error: a run that found no tests is a failure, not a pass.
ctest --output-on-failure --no-tests=error --timeout 1200 -j "${CTEST_PARALLEL:-2}" "$@"
