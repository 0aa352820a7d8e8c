# Bring your own handler image (docs/handler-images.md) on real pods: two
# Functions whose images hold no Sluice binary, built from Debian packages
# only by `images/build.sh byo`.
#  - python: Debian's Python 3.11 with python3-requests; the runtime is copied
#    in by the init container and the handler imports requests (its version
#    is in every output record).
#  - http: nodejs serving images/byo/node-handler.js beside the runtime.
# Each consumes 1,000 Kafka records: all 1,000 reach its output topic exactly
# once, and a poison record (the python handler raises on it, the node one
# answers HTTP 500) is dead-lettered after its attempts, with the error.
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_POD_BOOTSTRAP
e2e_work
for image in sluice-e2e-python-requests sluice-e2e-node-handler; do
  [[ -f $E2E_IMAGES_DIR/$image.tar ]] || fail "$E2E_IMAGES_DIR/$image.tar is missing: run 'bash images/build.sh byo' first"
done
bash "$SLUICE_SOURCE_DIR/tests/env/node-import.sh" "$E2E_IMAGES_DIR/sluice-e2e-python-requests.tar" \
  "$E2E_IMAGES_DIR/sluice-e2e-node-handler.tar" || fail "importing the handler images into the node's containerd"

suffix=$RANDOM
py=byo-py-$suffix
web=byo-web-$suffix
e2e_cleanup() { k delete fn "$py" "$web" trigger "$py" "$web" --ignore-not-found --wait=false >/dev/null 2>&1; }
for fn in "$py" "$web"; do
  for topic in in out dead; do kafka_topic "$KAFKA_BOOTSTRAP" "$fn-$topic" 3; done
done

# function_yaml NAME IMAGE_AND_HANDLER_YAML: a Function fed by its own topic,
# writing to NAME-out, dead-lettering to NAME-dead after two attempts.
function_yaml() {
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $1}
spec:
$2
  concurrency: 4
  retry: {maxAttempts: 2, initialBackoff: 100ms}
  outputs:
  - name: out
    kafka: {bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"], topic: "$1-out"}
  deadLetter:
    kafka: {bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"], topic: "$1-dead"}
  scaling: {minReplicas: 1, maxReplicas: 1}   # one replica each: the contracts, not scaling, are under test
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $1}
spec:
  functionRef: {name: $1}
  kafka:
    bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"]
    topics: ["$1-in"]
    consumerGroup: "$1"
    initialOffset: earliest
YAML
}
{
  function_yaml "$py" "  image: localhost/sluice-e2e-python-requests:$E2E_VERSION
  protocol: python
  code:
    inline: |
      import json
      import requests
      def main_handler(event, context):
          record = json.loads(event['data'])  # 'poison' is no JSON: raises, retried, dead-lettered
          record['requests'] = requests.__version__
          return {'value': json.dumps(record)}"
  echo ---
  function_yaml "$web" "  image: localhost/sluice-e2e-node-handler:$E2E_VERSION
  protocol: http"
} | k apply -f - >/dev/null || fail "applying the Functions"

for fn in "$py" "$web"; do
  k wait --for=condition=Ready "fn/$fn" --timeout=240s >/dev/null ||
    fail "Function $fn not Ready: $(k get fn "$fn" -o jsonpath='{.status}'); pods: $(k get pods -l sluice.io/function="$fn" -o wide 2>&1)"
  replicas_at_least "$fn" 1 || fail "Function $fn Ready without a Ready replica"
  on_real_node "$fn"
done

for i in $(seq 1 1000); do printf '{"id":"b-%d","n":%d}\n' "$i" "$i"; done >"$work/sent"
for fn in "$py" "$web"; do
  { head -n 500 "$work/sent"; echo poison; tail -n +501 "$work/sent"; } |
    kcat -P -b "$KAFKA_BOOTSTRAP" -t "$fn-in" -X acks=all || fail "producing to $fn-in"
done
started=$SECONDS
for fn in "$py" "$web"; do
  poll 180 kafka_count_is "$KAFKA_BOOTSTRAP" "$fn-out" 1000 ||
    fail "$fn: $(kafka_values "$KAFKA_BOOTSTRAP" "$fn-out" | grep -c .) of 1000 records in $fn-out"
  poll 60 kafka_count_is "$KAFKA_BOOTSTRAP" "$fn-dead" 1 || fail "$fn: the poison record was not dead-lettered"
done
echo "[figure] byo images: 2 x 1000 records handled in $((SECONDS - started)) s"
sleep 3 # a duplicate would arrive now
for fn in "$py" "$web"; do
  kafka_values "$KAFKA_BOOTSTRAP" "$fn-out" >"$work/$fn.received"
  ids_match "$work/sent" "$work/$fn.received"
  [[ $(kafka_values "$KAFKA_BOOTSTRAP" "$fn-dead") == poison ]] ||
    fail "$fn: the dead letter holds $(kafka_values "$KAFKA_BOOTSTRAP" "$fn-dead" | head -3 | tr '\n' ' '), not the one poison record"
  error=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$fn-dead" -o beginning -e -q -f '%h\n' 2>/dev/null)
  echo "$fn dead letter headers: $error"
done
[[ $(jq -r .requests "$work/$py.received" | sort -u | grep -c '^2\.') -eq 1 ]] ||
  fail "the python handler's records do not carry the image's requests version: $(head -1 "$work/$py.received")"
[[ $(jq -r .handledBy "$work/$web.received" | sort -u | grep -c '^node v') -eq 1 ]] ||
  fail "the node handler's records do not say so: $(head -1 "$work/$web.received")"
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$web-dead" -o beginning -e -q -f '%h\n' 2>/dev/null | grep -q 'HTTP 500: poison record refused' ||
  fail "the node Function's dead letter does not name the HTTP 500"
for fn in "$py" "$web"; do on_real_node "$fn"; done
echo "PASS: python (requests $(jq -r .requests "$work/$py.received" | head -1)) and node handler images: 1000 of 1000 records each exactly once, the poison record dead-lettered by each"
