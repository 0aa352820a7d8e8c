# Seed scenario 1 on real pods: log cleansing, S3 -> Kafka, no code. Partners
# drop gzip'd log files into a bucket; a built-in pipeline (decompress, parse,
# mask e-mail and IPv4 addresses, project) writes one cleaned record per line
# to a topic. Replicas follow the number of objects waiting (targetObjectCount
# 2): 0 -> N -> 0. Every line arrives once, cleaned, and every processed file
# is deleted. The S3 credentials reach the pods only through a Secret.
source "$(dirname "$0")/../lib.sh"
require_env S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY KAFKA_BOOTSTRAP KAFKA_POD_BOOTSTRAP
e2e_work
fn=cleanse-$RANDOM
bucket=$(unique_name e2e-logs)
out=$(unique_name e2e-cleaned)
region=${S3_REGION:-us-east-1}
kafka_topic "$KAFKA_BOOTSTRAP" "$out" 1
s3() {
  curl -sS --fail-with-body --aws-sigv4 "aws:amz:$region:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
objects_left() { s3 "$S3_ENDPOINT/$bucket?list-type=2&prefix=incoming/" | grep -o '<Key>' | wc -l; }
no_objects_left() { [[ $(objects_left) -eq 0 ]]; }
e2e_cleanup() { k delete fn "$fn" trigger "$fn" secret "$fn-s3" --ignore-not-found --wait=false >/dev/null 2>&1; }

s3 -X PUT "$S3_ENDPOINT/$bucket" >/dev/null || fail "creating bucket $bucket"
k create secret generic "$fn-s3" --from-literal=accessKey="$S3_ACCESS_KEY" --from-literal=secretKey="$S3_SECRET_KEY" >/dev/null
k label secret "$fn-s3" sluice.io/scaler-access=true >/dev/null  # the scaler lists the bucket with it
k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $fn}
spec:
  runtime: builtin
  concurrency: 2
  pipeline:
  - name: unzip
    decompress: {format: gzip, split: lines}
  - name: fields
    parse:
      format: regex
      pattern: '^(?P<time>\S+) (?P<level>[A-Z]+) (?P<id>\S+) (?P<msg>.*)$'
  - name: hide-emails
    mask: {field: msg, pattern: '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', replacement: '<email>'}
  - name: hide-ips
    mask: {field: msg, pattern: '\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b', replacement: '<ip>'}
  - name: shape
    project: {fields: [time, level, id, msg]}
  outputs:
  - name: cleaned
    kafka: {bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"], topic: "$out"}
$(scaling_from_zero_yaml 4 4 3)
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $fn}
spec:
  functionRef: {name: $fn}
  objectStore:
    type: s3
    endpoint: "$(pod_url "$S3_ENDPOINT")"
    region: $region
    bucket: "$bucket"
    prefix: incoming/
    credentialsSecretRef: {name: $fn-s3}
    targetObjectCount: 2
    afterProcessing: {action: delete}
YAML
k wait --for=condition=Ready "fn/$fn" --timeout=120s >/dev/null || fail "Function $fn not Ready at zero: $(k get fn "$fn" -o jsonpath='{.status}')"
replicas_are "$fn" 0 || fail "$(replica_count "$fn") replicas with an empty bucket"
# The pool's pod carries the Function's Secrets and settings, so waking adopts it.
poll 120 warm_ready "$fn" 1
record_replicas "$fn" "$work/replicas"

# 12 files of 50 lines, each line with an id, an e-mail and an IPv4 address.
python3 - "$work" <<'PY'
import gzip, json, sys
work = sys.argv[1]
with open(work + "/sent", "w") as sent:
    for f in range(12):
        lines = []
        for i in range(50):
            rid = "l-%d-%d" % (f, i)
            lines.append("2026-12-05T00:%02d:%02dZ INFO %s user%d@example.com logged in from 10.%d.%d.7" % (f, i, rid, i, f, i))
            sent.write(json.dumps({"id": rid}) + "\n")
        with gzip.open("%s/part-%02d.log.gz" % (work, f), "wt") as g:
            g.write("\n".join(lines) + "\n")
PY
for f in "$work"/part-*.log.gz; do
  s3 -X PUT --data-binary "@$f" "$S3_ENDPOINT/$bucket/incoming/$(basename "$f")" >/dev/null || fail "uploading $f"
done
started=$SECONDS
poll 240 kafka_count_is "$KAFKA_BOOTSTRAP" "$out" 600
echo "[figure] log cleansing: 12 files (600 lines) from zero to 600 records in $((SECONDS - started)) s"
on_real_node "$fn"
assert_adopted "$fn"
poll 60 no_objects_left
poll 180 replicas_are "$fn" 0
echo "[figure] log cleansing: back at zero pods $((SECONDS - started)) s after the upload"
kafka_values "$KAFKA_BOOTSTRAP" "$out" >"$work/received"
ids_match "$work/sent" "$work/received"
leaks=$(jq -r '.msg' "$work/received" | grep -cE '@example\.com|10\.[0-9]+\.[0-9]+\.7' || true)
((leaks == 0)) || fail "$leaks records still carry an e-mail or IP address: $(jq -r .msg "$work/received" | head -2)"
jq -e -s 'all(.[]; .msg == "<email> logged in from <ip>")' "$work/received" >/dev/null ||
  fail "records not masked as expected: $(head -2 "$work/received")"
# The backlog asks for 2..4 replicas. The adopted replica may clean all 12 files
# (about a second of work) before the fresh pods are Ready, and then the others
# go again unused: that is the autoscaler doing its job, so the scale-up is
# judged by the pods it made, and the work by the one Ready replica it needs.
peak=$(peak_replicas "$work/replicas")
((peak >= 2 && peak <= 4)) || fail "peak replicas $peak, expected 2..4 for 12 objects at 2 per replica ($(tr '\n' ';' <"$work/replicas"))"
(($(peak_ready "$work/replicas") >= 1)) || fail "no replica was ever Ready ($(tr '\n' ';' <"$work/replicas"))"
if k get fn "$fn" -o yaml | grep -qF "$S3_SECRET_KEY" || k get configmap "$fn-sluice-config" -o yaml | grep -qF "$S3_SECRET_KEY"; then
  fail "the S3 secret key appears outside its Secret"
fi
echo "PASS: 600 of 600 lines cleaned exactly once, 12 files deleted; replicas 0 -> $peak -> 0 on $NODE_NAME"
