# Autoscaler loop against a real HDFS (WebHDFS of tests/env's MiniDFSCluster)
# and the real apiserver + KWOK: a Function (min 0, max 6, cooldown 5 s) with
# an objectStore webhdfs Trigger (path /<ns>/in, user etl, targetObjectCount 2).
# Directories and in-progress uploads ('_'-prefixed) do not count. 7 files ->
# desiredReplicas 4 (ceil(7/2)) and Trigger status 7/true; all deleted -> 0
# after cooldown, pods gone. Prints [figure] the activation delay from the
# first upload.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG WEBHDFS_ENDPOINT SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
ns=$(unique_name autoscale-hdfs)
source "$(dirname "$0")/autoscale_lib.sh"
dir="/$ns/in"
hdfs_url() { echo "$WEBHDFS_ENDPOINT/webhdfs/v1$1?op=$2&user.name=etl${3:+&$3}"; }
# CREATE in two steps: the NameNode names the DataNode, which takes the bytes.
put_file() {
  local location
  location=$(curl -sS --fail-with-body -X PUT "$(hdfs_url "$1" CREATE 'overwrite=true&noredirect=true')" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Location"])') || fail "asking where to write $1"
  curl -sS --fail-with-body -X PUT -H 'Expect:' --data-binary "file $1" "$location" >/dev/null || fail "writing $1"
}
delete_path() { curl -sS --fail-with-body -X DELETE "$(hdfs_url "$1" DELETE "recursive=${2:-false}")" >/dev/null; }
extra_cleanup() { delete_path "/$ns" true 2>/dev/null; }

curl -sS --fail-with-body -X PUT "$(hdfs_url "$dir/sub" MKDIRS)" >/dev/null || fail "creating $dir"
put_file "$dir/_COPYING_upload.csv" # an upload in progress
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_operator
k apply -f - >/dev/null <<YAML
$(scaled_function_yaml files)
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: files-hdfs}
spec:
  functionRef: {name: files}
  objectStore:
    type: webhdfs
    endpoint: "$WEBHDFS_ENDPOINT"
    path: "$dir"
    user: etl
    targetObjectCount: 2
YAML

(poll 60 metric_value_is files 0) ||
  fail_with_log "the autoscaler never measured the empty directory: $(k get fn files -o jsonpath='{.status}')"
desired_is files 0 || fail_with_log "idle Function: desiredReplicas $(desired files), expected 0"
echo "[step] idle: 0 files in $dir (1 directory, 1 upload in progress), desiredReplicas 0"

uploaded_ms=$(date +%s%3N)
for i in {1..7}; do put_file "$dir/a-$i.csv"; done
(poll 60 desired_above_zero files) || fail_with_log "desiredReplicas never went above 0 after the uploads"
decided_ms=$(log_time_ms "desired replicas 0 -> ") || fail "no scale-up line in the operator log"
echo "[figure] webhdfs activation: $((decided_ms - uploaded_ms)) ms from the first upload to desiredReplicas > 0"
(poll 60 desired_is files 4) || fail_with_log "desiredReplicas $(desired files) with 7 files; expected 4"
(poll 60 trigger_status_is files-hdfs "7/true") ||
  fail "Trigger status with 7 files: $(k get trigger files-hdfs -o jsonpath='{.status}')"
echo "[step] 7 files: desiredReplicas 4, Trigger status 7/true"

for i in {1..7}; do delete_path "$dir/a-$i.csv" || fail "deleting a-$i.csv"; done
drained=$SECONDS
(poll 120 desired_is files 0) || fail_with_log "desiredReplicas $(desired files) after the last file went; expected 0"
echo "[figure] webhdfs drain to zero: $((SECONDS - drained)) s (cooldown 5 s)"
(poll 90 pods_are files 0) || fail "pods left after scaling to 0: $(live_count files)"
echo "PASS"
