#!/usr/bin/env bash
# Fails, naming them, when processes of this test environment still run: any
# process whose command line names $SLUICE_ENV_DIR (servers, private
# apiservers, load hogs). Run after `make test` by .ci/run and by
# `make test-under-load`, which must leave nothing behind.
source "$(dirname "$0")/lib.sh"

if leftovers=$(pgrep -af "$SLUICE_ENV_DIR"); then
  echo "processes of the test environment are still running:" >&2
  echo "$leftovers" >&2
  exit 1
fi
