#!/usr/bin/env bash
# The local demo where servers run: the generator drops the gzip'd log files
# into a fresh bucket of the real MinIO (credentials handed to Sluice as a
# Secret manifest, not in the Trigger) and the cleaned records go to a topic of
# the real Kafka. Every generated record arrives cleaned in the topic (read back
# with kcat), and the replica history shows 0 -> N -> 0.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY KAFKA_BOOTSTRAP KAFKA_TOPICS

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
topic=$(unique_name demo-cleaned)
out=$(python3 "$SLUICE_SOURCE_DIR/scripts/local_demo.py" --seconds 60 --settle-seconds 90 --build-dir "$SLUICE_BUILD_DIR" \
  --work-dir "$work/demo" --s3-endpoint "$S3_ENDPOINT" --kafka-bootstrap "$KAFKA_BOOTSTRAP" --kafka-topic "$topic" 2>&1) ||
  fail "the demo failed: $out"$'\n'"$(tail -30 "$work/demo/operator.log")"
summary=$work/demo/summary.json
echo "$out" | tail -7
j() { jq -r "$1" "$summary"; }
generated=$(j .records_generated)
((generated > 0)) || fail "no records generated"
[[ $(j .input) == s3://sluice-demo-*/incoming/ ]] || fail "the input was $(j .input), not a bucket"
grep -q "type: s3" "$work/demo/manifests/log-cleansing.yaml" || fail "the Trigger does not read S3"
! grep -q "$S3_SECRET_KEY" "$work/demo/manifests/log-cleansing.yaml" || fail "the S3 secret key is in the Function/Trigger manifest"
[[ $(j .output) == "kafka://$KAFKA_BOOTSTRAP/$topic" ]] || fail "the output was $(j .output), not the topic"
[[ $(j .records_out_unique) == "$generated" ]] || fail "Kafka: $generated generated, $(j .records_out_unique) distinct in $topic"
[[ $(j .records_missing) == 0 && $(j .records_not_cleaned) == 0 ]] || fail "missing or uncleaned records: $(j .)"
if [[ $(j .records_out) != "$generated" ]]; then
  grep -qE "still draining after the grace|took over the abandoned claim" "$work/demo/operator.log" ||
    fail "records: $generated generated, $(j .records_out) in $topic, and no drain overran nor claim expired: duplicates without cause"
  echo "note: $(j .records_duplicated) records redone after an overrun drain or expired claim (at-least-once)"
fi
[[ $(j .scaled_0_to_n_to_0) == true ]] || fail "no 0 -> N -> 0 in the replica history: $(j .history)"
(($(j .peak_replicas) >= 2)) || fail "peak replicas $(j .peak_replicas), expected at least 2"
[[ $(j '.leftover_processes | length') == 0 ]] || fail "processes left behind: $(j .leftover_processes)"
echo "PASS: $generated records in $(j .files) S3 objects arrived cleaned in Kafka ($(j .records_out) written);" \
  "replicas 0 -> $(j .peak_replicas) -> 0"
