# Handler code reaches real pods three ways: inline (from the Function's
# configuration ConfigMap), from a ConfigMap of the user's (configMapRef), and
# from a code image copied into the pod by an init container (code.image). Each
# Function reads the same topic in its own consumer group and writes to its
# own topic; each record names the file its handler was loaded from, so every
# id must arrive once in each topic, stamped with the right delivery.
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_POD_BOOTSTRAP
e2e_work
tag=$RANDOM
src=$(unique_name e2e-code-in)
kafka_topic "$KAFKA_BOOTSTRAP" "$src" 2
handler() {
  cat <<PY
import json
import os


def main_handler(event, context):
    record = json.loads(event["data"])
    record["via"] = "$1"
    record["file"] = os.path.abspath(__file__)
    return json.dumps(record)
PY
}
e2e_cleanup() {
  k delete fn,trigger "code-inline-$tag" "code-cm-$tag" "code-image-$tag" --ignore-not-found --wait=false >/dev/null 2>&1
  k delete configmap "code-cm-$tag-src" --ignore-not-found --wait=false >/dev/null 2>&1
  [[ -n ${builder:-} ]] && buildah rm "$builder" >/dev/null 2>&1
}

# The code image: the runtime image with the handler under /code (its init
# container copies /code into the pod), imported into the node's containerd.
code_image=localhost/sluice-e2e-code:$tag
builder=$(buildah from "localhost/sluice-runtime-python:$E2E_VERSION") || fail "buildah from the runtime image"
handler image >"$work/index.py"
buildah copy --chown 65532:65532 "$builder" "$work/index.py" /code/index.py >/dev/null
buildah commit -q "$builder" "$code_image" >/dev/null || fail "committing $code_image"
buildah push -q "$code_image" "docker-archive:$work/code.tar:$code_image" || fail "saving $code_image"
bash "$SLUICE_SOURCE_DIR/tests/env/node-import.sh" "$work/code.tar" || fail "importing $code_image"
buildah rmi "$code_image" >/dev/null 2>&1 || true

handler configmap >"$work/handler.py"
k create configmap "code-cm-$tag-src" --from-file=index.py="$work/handler.py" >/dev/null
function_yaml() { # NAME CODE-YAML
  local out
  out=$(unique_name "e2e-code-$1")
  kafka_topic "$KAFKA_BOOTSTRAP" "$out" 1
  echo "$out" >"$work/$1.topic"
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: code-$1-$tag}
spec:
  runtime: python3.11
  handler: index.main_handler
  code: $2
  outputs:
  - name: out
    kafka: {bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"], topic: "$out"}
  scaling: {minReplicas: 1, maxReplicas: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: code-$1-$tag}
spec:
  functionRef: {name: code-$1-$tag}
  kafka:
    bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"]
    topics: ["$src"]
    consumerGroup: code-$1-$tag
    initialOffset: earliest
---
YAML
}
inline_code=$(handler inline | jq -Rs .)
{
  function_yaml inline "{inline: $inline_code}"
  function_yaml cm "{configMapRef: {name: code-cm-$tag-src}}"
  function_yaml image "{image: \"$code_image\"}"
} >"$work/functions.yaml"
k apply -f "$work/functions.yaml" >/dev/null
for way in inline cm image; do
  k wait --for=condition=Ready "fn/code-$way-$tag" --timeout=180s >/dev/null ||
    fail "Function code-$way-$tag not Ready: $(k get fn "code-$way-$tag" -o jsonpath='{.status}')"
  on_real_node "code-$way-$tag"
done
[[ $(k get pods -l "sluice.io/function=code-image-$tag" -o jsonpath='{.items[0].spec.initContainers[0].image}') == "$code_image" ]] ||
  fail "the code-image Function's pod has no init container running $code_image"

for i in $(seq 1 200); do printf '{"id":"x-%d"}\n' "$i"; done >"$work/sent"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$src" -X acks=all <"$work/sent" || fail "producing to $src"
declare -A expected_via=([inline]=inline [cm]=configmap [image]=image)
for way in inline cm image; do
  topic=$(cat "$work/$way.topic")
  poll 120 kafka_count_is "$KAFKA_BOOTSTRAP" "$topic" 200
  sleep 1
  kafka_values "$KAFKA_BOOTSTRAP" "$topic" >"$work/$way.received"
  ids_match "$work/sent" "$work/$way.received"
  vias=$(jq -r '"\(.via) \(.file)"' "$work/$way.received" | sort -u)
  [[ $vias == "${expected_via[$way]} /code/index.py" ]] || fail "code-$way-$tag ran handler(s): $vias"
done
echo "PASS: inline, ConfigMap and code-image handlers each processed 200 of 200 records exactly once on $NODE_NAME"
