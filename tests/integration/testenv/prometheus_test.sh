#!/usr/bin/env bash
# Prometheus (PROMETHEUS_URL, PROMETHEUS_TARGETS_DIR): a scrape target added by
# dropping a file_sd file is scraped and answers up == 1 through the HTTP API,
# while a target on a closed port answers up == 0 (so "1" is a real answer).
source "$(dirname "$0")/../lib.sh"
require_env PROMETHEUS_URL PROMETHEUS_TARGETS_DIR
[[ -d $PROMETHEUS_TARGETS_DIR ]] || fail "PROMETHEUS_TARGETS_DIR=$PROMETHEUS_TARGETS_DIR is not a directory"

job=$(unique_name sluice-testenv-job)
dead_job=$job-dead
target_file=$PROMETHEUS_TARGETS_DIR/$job.json
trap 'rm -f "$target_file"' EXIT

live=${PROMETHEUS_URL#http://}
live=${live%%/*}
# A port nothing listens on: bind an ephemeral port, then release it.
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Prometheus serves its own /metrics: a real target that is certainly up.
# Written under another name and renamed, so Prometheus never reads half a file.
cat >"$target_file.tmp" <<EOF2
[
  {"targets": ["$live"], "labels": {"job": "$job"}},
  {"targets": ["127.0.0.1:$dead_port"], "labels": {"job": "$dead_job"}}
]
EOF2
mv "$target_file.tmp" "$target_file"

# Prints the value of up{job=...}, or "none" while there is no sample yet.
up_of() {
  curl -sf --get "$PROMETHEUS_URL/api/v1/query" --data-urlencode "query=up{job=\"$1\"}" |
    python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
res = r["data"]["result"]
print(res[0]["value"][1] if len(res) == 1 else ("none" if not res else "many:%d" % len(res)))
' 2>/dev/null || echo none
}
up_is() { [[ $(up_of "$1") == "$2" ]]; }

(poll 60 up_is "$job" 1) || fail "up{job=\"$job\"}: expected 1, got $(up_of "$job")"
(poll 60 up_is "$dead_job" 0) || fail "up{job=\"$dead_job\"}: expected 0, got $(up_of "$dead_job")"
echo "PASS: target added through $PROMETHEUS_TARGETS_DIR is up (1); a closed port is down (0)"
