#!/usr/bin/env bash
# `make run RUN_SECONDS=…` run non-interactively: every generated record
# arrives cleaned (ids in == ids out; exactly once unless a drain overran its
# grace and its file was redone, which at-least-once allows), the replica
# history shows 0 -> N -> 0 with N >= 2, the HTTP Function hello answers the
# demo's curl from zero through the gateway and goes 0 -> 1 -> 0, and SIGINT
# leaves no process behind.
# Needs no test environment: the local platform runs on this machine only.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$(python3 "$SLUICE_SOURCE_DIR/scripts/local_demo.py" --seconds 60 --settle-seconds 90 --build-dir "$SLUICE_BUILD_DIR" \
  --work-dir "$work/demo" 2>&1) || fail "the demo failed: $out"$'\n'"$(tail -30 "$work/demo/operator.log")"
summary=$work/demo/summary.json
echo "$out" | tail -6
j() { jq -r "$1" "$summary"; }
generated=$(j .records_generated)
((generated > 0)) || fail "no records generated"
[[ $(j .records_out_unique) == "$generated" ]] || fail "records: $generated generated, $(j .records_out_unique) arrived"
if [[ $(j .records_out) != "$generated" ]]; then
  grep -qE "still draining after the grace|took over the abandoned claim" "$work/demo/operator.log" ||
    fail "records: $generated generated, $(j .records_out) written, and no drain overran nor claim expired: duplicates without cause"
  echo "note: $(j .records_duplicated) records redone after an overrun drain or expired claim (at-least-once)"
fi
[[ $(j .records_missing) == 0 && $(j .records_not_cleaned) == 0 ]] || fail "missing or uncleaned records: $(j .)"
[[ $(j .scaled_0_to_n_to_0) == true ]] || fail "no 0 -> N -> 0 in the replica history: $(j .history)"
(($(j .peak_replicas) >= 2)) || fail "peak replicas $(j .peak_replicas), expected at least 2"
[[ $(j .http.answered) == true && $(j .http.status) == 200 ]] || fail "hello did not answer the curl: $(j .http)"
[[ $(j .functions.hello.scaled_0_to_n_to_0) == true ]] ||
  fail "hello did not go 0 -> 1 -> 0: $(j .functions.hello.history)"
echo "[figure] local demo: hello answered the first curl from zero in $(j .http.ms) ms"
[[ $(j '.leftover_processes | length') == 0 ]] || fail "processes left behind: $(j .leftover_processes)"
echo "PASS: $generated records in $(j .files) files arrived cleaned; replicas 0 -> $(j .peak_replicas) -> 0"
