#!/usr/bin/env bash
# make testenv-down: stop, in reverse order, the processes that up.sh started
# (by PID). Idempotent; leaves the cache in place.
# Usage: down.sh [component...]   (default: all)
source "$(dirname "$0")/lib.sh"
source "$ENV_SCRIPTS_DIR/components.sh"

requested=("$@")
((${#requested[@]})) || requested=("${ALL_COMPONENTS[@]}")
for ((i = ${#requested[@]} - 1; i >= 0; i--)); do
  c=${requested[i]}
  "${c}_stop" || log "stopping $c failed; continuing"
  rm -f "$SLUICE_ENV_DIR/$c.env"
done
write_env_file
log "test environment down"
