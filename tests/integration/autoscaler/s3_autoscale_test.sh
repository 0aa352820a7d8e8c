# Autoscaler loop against real S3 (MinIO) and the real apiserver + KWOK: a
# Function (min 0, max 6, cooldown 5 s) with an objectStore s3 Trigger
# (prefix in/, targetObjectCount 2, credentials from a Secret). Objects
# outside the prefix do not count. 7 objects under in/ -> desiredReplicas 4
# (ceil(7/2)); 3 deleted -> the count follows down to 2; all deleted -> 0 after
# cooldown, pods gone. Prints [figure] the activation delay from the first upload.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
ns=$(unique_name autoscale-s3)
source "$(dirname "$0")/autoscale_lib.sh"
region=${S3_REGION:-us-east-1}
bucket="$ns"
s3() {
  curl -sS --fail-with-body --aws-sigv4 "aws:amz:$region:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
put_object() {
  printf 'object %s\n' "$1" >"$log_dir/body" # a file: MinIO wants a Content-Length
  s3 -T "$log_dir/body" "$S3_ENDPOINT/$bucket/$1" >/dev/null || fail "putting $1"
}
delete_object() { s3 -X DELETE "$S3_ENDPOINT/$bucket/$1" >/dev/null || fail "deleting $1"; }
extra_cleanup() {
  local k
  for k in in/a-{1..7}.csv other/x.csv; do s3 -X DELETE "$S3_ENDPOINT/$bucket/$k" >/dev/null 2>&1; done
  s3 -X DELETE "$S3_ENDPOINT/$bucket" >/dev/null 2>&1
}

s3 -X PUT "$S3_ENDPOINT/$bucket" >/dev/null || fail "creating bucket $bucket"
put_object other/x.csv # outside the Trigger's prefix
apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
k create secret generic s3-creds --from-literal=accessKey="$S3_ACCESS_KEY" \
  --from-literal=secretKey="$S3_SECRET_KEY" >/dev/null
k label secret s3-creds sluice.io/scaler-access=true >/dev/null  # the scaler lists the bucket with it
start_operator
k apply -f - >/dev/null <<YAML
$(scaled_function_yaml files)
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: files-s3}
spec:
  functionRef: {name: files}
  objectStore:
    type: s3
    endpoint: "$S3_ENDPOINT"
    region: "$region"
    bucket: "$bucket"
    prefix: in/
    targetObjectCount: 2
    credentialsSecretRef: {name: s3-creds}
YAML

(poll 60 metric_value_is files 0) ||
  fail_with_log "the autoscaler never measured the empty prefix: $(k get fn files -o jsonpath='{.status}')"
desired_is files 0 || fail_with_log "idle Function: desiredReplicas $(desired files), expected 0"
echo "[step] idle: 0 objects under in/ (1 outside), desiredReplicas 0"

uploaded_ms=$(date +%s%3N)
for i in {1..7}; do put_object "in/a-$i.csv"; done
(poll 60 desired_above_zero files) || fail_with_log "desiredReplicas never went above 0 after the uploads"
decided_ms=$(log_time_ms "desired replicas 0 -> ") || fail "no scale-up line in the operator log"
echo "[figure] s3 activation: $((decided_ms - uploaded_ms)) ms from the first upload to desiredReplicas > 0"
(poll 60 desired_is files 4) || fail_with_log "desiredReplicas $(desired files) with 7 objects; expected 4"
(poll 60 ready_are files 4) || fail "Ready pods: $(ready_count files), expected 4"
(poll 30 trigger_status_is files-s3 "7/true") ||
  fail "Trigger status with 7 objects: $(k get trigger files-s3 -o jsonpath='{.status}')"
echo "[step] 7 objects: desiredReplicas 4, 4 pods Ready"

# 3 processed (deleted): 4 left -> 2 replicas once the burst hold (60 s) is over.
for i in 1 2 3; do delete_object "in/a-$i.csv"; done
(poll 150 desired_is files 2) || fail_with_log "desiredReplicas $(desired files) with 4 objects left; expected 2"
(poll 60 pods_are files 2) || fail "pods: $(live_count files), expected 2"
echo "[step] 4 objects left: desiredReplicas 2, 2 pods"

for i in 4 5 6 7; do delete_object "in/a-$i.csv"; done
drained=$SECONDS
(poll 120 desired_is files 0) || fail_with_log "desiredReplicas $(desired files) after the last object went; expected 0"
echo "[figure] s3 drain to zero: $((SECONDS - drained)) s (cooldown 5 s)"
(poll 90 pods_are files 0) || fail "pods left after scaling to 0: $(live_count files)"
echo "PASS"
