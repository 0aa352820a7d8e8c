#!/usr/bin/env bash
# A local replica killed with SIGKILL in the middle of a file loses no record:
# the platform replaces it (with backoff), the file's claim is taken over and
# the file is processed again (at least once: duplicates allowed, losses not).
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Default exit code 1 also covers lost records; keep going to report them.
python3 "$SLUICE_SOURCE_DIR/scripts/local_demo.py" --seconds 50 --settle-seconds 90 --build-dir "$SLUICE_BUILD_DIR" \
  --work-dir "$work/demo" --kill-replica-at 4 --seed 11 >"$work/out" 2>&1 || true
summary=$work/demo/summary.json
[[ -f $summary ]] || fail "no summary: $(cat "$work/out")"
j() { jq -r "$1" "$summary"; }
# The demo kills the replica that waits at its gate, half-way through the gate file (never a guess).
[[ $(j .killed_replica) != null ]] || fail "no replica was killed mid-file: $(j .scale_events)"
# The victim may have been draining already (a scale-down picked it): then the
# operator records it as a drained exit, which is just as noticed.
killed=$(j .killed_replica)
grep -Eq "replica $killed of [^ ]+ (exited on its own|drained and exited)" "$work/demo/operator.log" ||
  fail "the operator did not notice the killed replica $killed: $(grep -E "replica|runtime" "$work/demo/operator.log" | tail -20)"
generated=$(j .records_generated)
[[ $(j .records_missing) == 0 && $(j .records_out_unique) == "$generated" ]] ||
  fail "records lost after SIGKILL: $(j .records_missing) of $generated missing"
[[ $(j .gate_line_delivered) == true ]] || fail "the gate file's middle line never reached the gate after the kill"
[[ $(j '.leftover_processes | length') == 0 ]] || fail "processes left behind: $(j .leftover_processes)"
echo "PASS: replica $(j .killed_replica) killed mid-file; all $generated records arrived ($(j .records_duplicated) redelivered)"
