# Per-phase wall times for `make test` and `.ci/run`, so a CI log shows where
# the time went (deps, build, test environment, tests, teardown). Sourced,
# never executed.
#
# The phases of one run go to one file, $SLUICE_PHASE_LOG, a line per phase
# (tab-separated: group, item, seconds, result). Phases are recorded by
# whichever process runs them (run-tests.sh, tests/env/up.sh), so the file, not
# a shell variable, carries them across processes. Without SLUICE_PHASE_LOG
# (e.g. a bare `make testenv-up`) nothing is recorded.
#
#   phases_open         start a log unless a calling process already has one;
#                       the process that starts it prints and removes it
#   phase_begin GROUP [ITEM]
#   phase_end [RESULT]  RESULT defaults to ok; a test phase gives its counts
#                       as "N passed, M failed", and the table ends with their
#                       sum in that form (the closing line CI reads)
#   phase_abort STATUS  for EXIT traps: a phase still open when the process
#                       exits is recorded as failed with the exit status
#   phases_close        in the process that opened the log: print the table (a
#                       group of items shows their sum, the items indented
#                       below it) and remove the log

_phases_owner=0
_phase_group=""
_phase_item=""
_phase_started=0

phases_open() {
  if [[ -n ${SLUICE_PHASE_LOG:-} ]]; then
    _phases_owner=0
    return 0
  fi
  _phases_owner=1
  SLUICE_PHASE_LOG=$(mktemp "${TMPDIR:-/tmp}/sluice-phases.XXXXXX")
  # The total is the wall time since the log was opened.
  SLUICE_PHASE_OPENED=$(date +%s)
  export SLUICE_PHASE_LOG SLUICE_PHASE_OPENED
}

phase_begin() {
  _phase_group=$1
  _phase_item=${2:-}
  _phase_started=$(date +%s)
}

phase_end() {
  [[ -n $_phase_group ]] || return 0
  if [[ -n ${SLUICE_PHASE_LOG:-} ]]; then
    # With the free disk at the phase's end: a full disk takes down brokers
    # and image builds in ways their own errors do not name.
    printf '%s\t%s\t%s\t%s\t%s\n' "$_phase_group" "$_phase_item" "$(($(date +%s) - _phase_started))" "${1:-ok}" \
      "$(df -Pm . 2>/dev/null | awk 'NR == 2 { printf "%.1f", $4 / 1024 }')" >>"$SLUICE_PHASE_LOG"
  fi
  _phase_group=""
}

phase_abort() {
  phase_end "FAILED (exit $1)"
}

phases_close() {
  ((${_phases_owner:-0})) && [[ -f $SLUICE_PHASE_LOG ]] || return 0
  local total=$(($(date +%s) - SLUICE_PHASE_OPENED))
  echo
  echo "phase times (wall seconds):"
  awk -F '\t' -v total="$total" '
    # Groups in first-seen order; a group made of items gets their sum and
    # fails when any item failed.
    !($1 in seconds) { order[++n] = $1; result[$1] = "ok" }
    { seconds[$1] += $3 }
    $4 != "ok" { result[$1] = $4 }
    $4 ~ /^[0-9]+ passed, [0-9]+ failed$/ { tested = 1; passed += $4; split($4, words, " "); failed += words[3] }
    { disk[$1] = $5 }
    $2 != "" { items[$1] = items[$1] sprintf("  %-32s %7d %8s  %s\n", "  " $2, $3, $5, $4) }
    END {
      printf "  %-32s %7s %8s  %s\n", "phase", "seconds", "free GiB", "result"
      for (i = 1; i <= n; i++) {
        g = order[i]
        printf "  %-32s %7d %8s  %s\n", g, seconds[g], disk[g], result[g]
        printf "%s", items[g]
      }
      printf "  %-32s %7d\n", "total", total
      if (tested) printf "tests: %d passed, %d failed\n", passed, failed
    }' "$SLUICE_PHASE_LOG"
  rm -f "$SLUICE_PHASE_LOG"
}
