#!/usr/bin/env bash
# make testenv-up: install (cached) and start every real component on 127.0.0.1,
# then write build/testenv.env. Idempotent: running components are kept.
#
# Each component lives in tests/env/components/<name>.sh and defines:
#   <name>_install   build or download into $SLUICE_CACHE (reused when present)
#   <name>_start     start on free ports unless running; write $SLUICE_ENV_DIR/<name>.env
#                    (shell export lines) once it is ready
#   <name>_stop      stop what <name>_start started (by PID)
# Usage: up.sh [component...]   (default: all, in dependency order)
source "$(dirname "$0")/lib.sh"
source "$ENV_SCRIPTS_DIR/components.sh"
# Per-component times for the phase table of `make test` (recorded only under it).
source "$PROJECT_ROOT/scripts/phases.sh"
trap 'phase_abort $?' EXIT

requested=("$@")
((${#requested[@]})) || requested=("${ALL_COMPONENTS[@]}")

started=$SECONDS
# Build everything first (long, CPU-bound), then start (fast), so a failing
# start is reported quickly on a warm cache.
for c in "${requested[@]}"; do
  t=$SECONDS
  phase_begin "test environment install" "$c"
  "${c}_install"
  phase_end
  log "$c installed ($((SECONDS - t)) s)"
done
for c in "${requested[@]}"; do
  phase_begin "test environment start" "$c"
  "${c}_start"
  phase_end
done

write_env_file
log "test environment up in $((SECONDS - started)) s; source $ENV_FILE"
