# Helpers for integration tests written in bash. Sourced by *_test.sh.
# Tests read server addresses only from the environment (build/testenv.env,
# exported by `make test`) and fail, never skip, when one is missing.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# require_env VAR...: fails naming every missing variable.
require_env() {
  local missing=() v
  for v in "$@"; do [[ -n ${!v:-} ]] || missing+=("$v"); done
  ((${#missing[@]} == 0)) || fail "missing environment: ${missing[*]} (run 'make testenv-up' and source build/testenv.env)"
}

# poll TIMEOUT_SECONDS CMD...: retries CMD every 0.5 s until it succeeds; fails on timeout.
poll() {
  local timeout=$1
  shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for: $*"
    sleep 0.5
  done
}

# A name unique to this run, usable as a Kubernetes name, topic, queue or bucket.
unique_name() { echo "$1-$(date +%s)-$$-$RANDOM"; }
