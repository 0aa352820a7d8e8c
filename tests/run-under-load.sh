#!/usr/bin/env bash
# make test-under-load: the whole `make test` (its CTEST_ARGS included) with two
# CPU hogs and an I/O hog beside it (tests/env/load.sh), as on a CI machine
# shared with other work. The hogs stop when the suite ends, passes or fails
# or is interrupted, by themselves after LOAD_SECONDS (default 3 h, longer than
# a cold suite under load), or once this script is gone; afterwards nothing of
# them or of the test environment may still run.
set -euo pipefail
cd "$(dirname "$0")/.."

finish() {
  local status=$?
  bash tests/env/load.sh stop
  bash tests/env/leftovers.sh || status=1
  exit "$status"
}
trap finish EXIT
bash tests/env/load.sh start $$ "${LOAD_SECONDS:-10800}"
"${MAKE:-make}" --no-print-directory test
