#!/usr/bin/env bash
# The local demo where servers run: the generator drops the gzip'd log files
# into a fresh bucket of the real MinIO (credentials handed to Sluice as a
# Secret manifest, not in the Trigger); log-cleanse writes the cleaned records
# to a topic of the real Kafka, and a second Function, log-archive (built-in
# mirror, Kafka Trigger on that topic), copies them into the output directory.
# Every generated record arrives cleaned in BOTH places (the topic read back
# with kcat, the directory checked as without Kafka), and both Functions' replica
# histories show 0 -> N -> 0 (log-cleanse on object count, log-archive on lag).
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY KAFKA_BOOTSTRAP KAFKA_TOPICS

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
topic=$(unique_name demo-cleaned)
out=$(python3 "$SLUICE_SOURCE_DIR/scripts/local_demo.py" --seconds 60 --settle-seconds 150 --build-dir "$SLUICE_BUILD_DIR" \
  --work-dir "$work/demo" --s3-endpoint "$S3_ENDPOINT" --kafka-bootstrap "$KAFKA_BOOTSTRAP" --kafka-topic "$topic" 2>&1) ||
  fail "the demo failed: $out"$'\n'"$(tail -30 "$work/demo/operator.log")"
summary=$work/demo/summary.json
echo "$out" | tail -9
j() { jq -r "$1" "$summary"; }
generated=$(j .records_generated)
((generated > 0)) || fail "no records generated"
[[ $(j .input) == s3://sluice-demo-*/incoming/ ]] || fail "the input was $(j .input), not a bucket"
grep -q "type: s3" "$work/demo/manifests/log-cleansing.yaml" || fail "the Trigger does not read S3"
! grep -q "$S3_SECRET_KEY" "$work/demo/manifests/"log-*.yaml || fail "the S3 secret key is in a Function/Trigger manifest"

# Each place the records must land: the same checks. A record written twice is
# allowed only after an overrun drain or an expired claim (at-least-once).
# $1: jq path of the place's counts ("" = the directory, ".topic" = the topic).
check_place() {
  local at=$1 what=$2
  [[ $(j "$at.records_out_unique") == "$generated" ]] ||
    fail "$what: $generated generated, $(j "$at.records_out_unique") distinct arrived"
  [[ $(j "$at.records_missing") == 0 && $(j "$at.records_not_cleaned") == 0 ]] ||
    fail "$what: $(j "$at.records_missing") missing, $(j "$at.records_not_cleaned") not cleaned"
  if [[ $(j "$at.records_out") != "$generated" ]]; then
    grep -qE "still draining after the grace|took over the abandoned claim" "$work/demo/operator.log" ||
      fail "$what: $generated generated, $(j "$at.records_out") written, and no drain overran nor claim expired: duplicates without cause"
    echo "note: $what: $(j "$at.records_duplicated") records written again after an overrun drain or expired claim (at-least-once)"
  fi
}
[[ $(j .output) == "$work/demo/cleaned" ]] || fail "the directory checked was $(j .output), not $work/demo/cleaned"
check_place "" "directory"
[[ $(j .topic.output) == "kafka://$KAFKA_BOOTSTRAP/$topic" ]] || fail "the topic checked was $(j .topic.output), not $topic"
check_place ".topic" "topic $topic"

# The archive Function really is the Kafka-triggered mirror into the directory.
grep -q "topics: \[$topic\]" "$work/demo/manifests/log-archive.yaml" || fail "log-archive is not triggered by $topic"
grep -q -- "- mirror: {}" "$work/demo/manifests/log-archive.yaml" || fail "log-archive is not the built-in mirror"

[[ $(j .scaled_0_to_n_to_0) == true ]] || fail "log-cleanse: no 0 -> N -> 0 in the replica history: $(j .history)"
(($(j .peak_replicas) >= 2)) || fail "log-cleanse: peak replicas $(j .peak_replicas), expected at least 2"
[[ $(j '.functions["log-archive"].scaled_0_to_n_to_0') == true ]] ||
  fail "log-archive: no 0 -> N -> 0 in the replica history: $(j '.functions["log-archive"].history')"
(($(j '.functions["log-archive"].peak_replicas') >= 1)) || fail "log-archive never ran"
[[ $(j '.leftover_processes | length') == 0 ]] || fail "processes left behind: $(j .leftover_processes)"
echo "PASS: $generated records in $(j .files) S3 objects arrived cleaned in Kafka ($(j .topic.records_out) written)" \
  "and in the directory ($(j .records_out) written); log-cleanse 0 -> $(j .peak_replicas) -> 0," \
  "log-archive 0 -> $(j '.functions["log-archive"].peak_replicas') -> 0"
