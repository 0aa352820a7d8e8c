# Sourced by the bench scripts that start processes: SCRATCH, a temporary folder, and PIDS, the
# background processes they start; on exit every one of those is stopped and the folder removed.
SCRATCH="$(mktemp -d)"
PIDS=()
bench_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$SCRATCH"
}
trap bench_cleanup EXIT
