# `sluice build` to a running Function on the real node: a handler directory
# whose requirements.txt names a package (sluicetinydep, a wheel served by an
# index this test starts on 127.0.0.1: no PyPI) is built into a code image
# FROM the runtime image, imported into the node's containerd, and run as
# spec.code.image. The handler stamps every record with the installed
# package's greeting: all 100 records arrive once, each stamped, and the
# Function's status.imageDigest is the digest `sluice build` printed (the
# kubelet's imageID of the code image).
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_POD_BOOTSTRAP
e2e_work
suffix=$RANDOM
fn=code-build-$suffix
image=
e2e_cleanup() {
  k delete fn,trigger "$fn" --ignore-not-found --wait=false >/dev/null 2>&1
  [[ -z $image ]] || buildah rmi "$image" >/dev/null 2>&1
}

python3 "$SLUICE_SOURCE_DIR/tests/integration/cli/tiny_index.py" "$work/index"
port=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$work/index" >"$work/index.log" 2>&1 &
pids+=($!)
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
poll 10 curl -sf -o /dev/null "http://127.0.0.1:$port/simple/sluicetinydep/"

mkdir -p "$work/handler"
cat >"$work/handler/index.py" <<'PY'
import json

import sluicetinydep


def main_handler(event, context):
    record = json.loads(event["data"])
    record["greeting"] = sluicetinydep.GREETING
    record["from"] = sluicetinydep.__file__
    return json.dumps(record)
PY
echo "sluicetinydep==1.0" >"$work/handler/requirements.txt"
start=$SECONDS
built=$("$SLUICE_BUILD_DIR/sluice" build "$work/handler" --name "e2e-$suffix" \
  --index-url "http://127.0.0.1:$port/simple" -o json) || fail "sluice build failed"
echo "[figure] sluice build FROM the runtime image: $((SECONDS - start)) s"
image=$(jq -r .image <<<"$built")
digest=$(jq -r .digest <<<"$built")
buildah push --quiet "$image" "oci-archive:$work/code.tar:$image" || fail "saving $image"
bash "$SLUICE_SOURCE_DIR/tests/env/node-import.sh" "$work/code.tar" >/dev/null || fail "importing $image"

kafka_topic "$KAFKA_BOOTSTRAP" "$fn-in" 2
kafka_topic "$KAFKA_BOOTSTRAP" "$fn-out" 1
k apply -f - >/dev/null <<YAML || fail "applying the Function"
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $fn}
spec:
  runtime: python3.11
  handler: index.main_handler
  code: {image: "$image"}
  outputs:
  - name: out
    kafka: {bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"], topic: "$fn-out"}
  scaling: {minReplicas: 1, maxReplicas: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $fn}
spec:
  functionRef: {name: $fn}
  kafka:
    bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"]
    topics: ["$fn-in"]
    consumerGroup: $fn
    initialOffset: earliest
YAML
k wait --for=condition=Ready "fn/$fn" --timeout=180s >/dev/null ||
  fail "Function $fn not Ready: $(k get fn "$fn" -o jsonpath='{.status}')"
on_real_node "$fn"

for i in $(seq 1 100); do printf '{"id":"b-%d"}\n' "$i"; done >"$work/sent"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$fn-in" -X acks=all <"$work/sent" || fail "producing to $fn-in"
poll 60 kafka_count_is "$KAFKA_BOOTSTRAP" "$fn-out" 100
kafka_values "$KAFKA_BOOTSTRAP" "$fn-out" >"$work/received"
ids_match "$work/sent" "$work/received"
stamps=$(jq -r '"\(.greeting) \(.from)"' "$work/received" | sort -u)
[[ $stamps == "hello from sluicetinydep /code/vendor/sluicetinydep/__init__.py" ]] ||
  fail "the handler's package was not the one installed into /code/vendor: $stamps"

recorded() { [[ $(k get fn "$fn" -o jsonpath='{.status.imageDigest}') == "$digest" ]]; }
if ! (poll 30 recorded) 2>/dev/null; then
  fail "status.imageDigest is '$(k get fn "$fn" -o jsonpath='{.status.imageDigest}')', sluice build printed $digest;" \
    "the pod's imageIDs: $(k get pods -l "sluice.io/function=$fn" -o jsonpath='{..imageID}')"
fi
echo "PASS: 100 of 100 records through $image, status.imageDigest $digest"
