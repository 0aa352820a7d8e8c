# Seed scenario 5 on real pods: the built-in mirror copies a topic of Kafka
# cluster A to cluster B. One persistent replica (minReplicas 1) runs on the
# real node; 1,000 records produced to A arrive in B, each exactly once, and
# the Function and Trigger report Ready.
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_BOOTSTRAP_B KAFKA_POD_BOOTSTRAP KAFKA_POD_BOOTSTRAP_B
e2e_work
fn=mirror-$RANDOM
src=$(unique_name e2e-orders-a)
dst=$(unique_name e2e-orders-b)
kafka_topic "$KAFKA_BOOTSTRAP" "$src" 3
kafka_topic "$KAFKA_BOOTSTRAP_B" "$dst" 3
e2e_cleanup() { k delete fn "$fn" trigger "$fn" --ignore-not-found --wait=false >/dev/null 2>&1; }

k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $fn}
spec:
  runtime: builtin
  pipeline:
  - mirror: {}
  outputs:
  - name: cluster-b
    kafka: {bootstrapServers: ["$KAFKA_POD_BOOTSTRAP_B"], topic: "$dst"}
  scaling: {minReplicas: 1, maxReplicas: 3}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $fn}
spec:
  functionRef: {name: $fn}
  kafka:
    bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"]
    topics: ["$src"]
    consumerGroup: "$fn"
    initialOffset: earliest
    lagThreshold: 500
YAML
k wait --for=condition=Ready "fn/$fn" --timeout=180s >/dev/null || fail "Function $fn not Ready: $(k get fn "$fn" -o jsonpath='{.status}')"
replicas_at_least "$fn" 1 || fail "Function Ready without a Ready replica"
on_real_node "$fn"

for i in $(seq 1 1000); do printf '{"id":"o-%d","amount":%d}\n' "$i" "$i"; done >"$work/sent"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$src" -X acks=all <"$work/sent" || fail "producing to $src"
started=$SECONDS
poll 120 kafka_count_is "$KAFKA_BOOTSTRAP_B" "$dst" 1000
echo "[figure] mirror: 1000 records A -> B in $((SECONDS - started)) s"
sleep 3 # a duplicate would arrive now
kafka_values "$KAFKA_BOOTSTRAP_B" "$dst" >"$work/received"
ids_match "$work/sent" "$work/received"
cmp -s <(sort "$work/sent") <(sort "$work/received") || fail "mirrored values differ from the ones produced"
k wait --for=condition=Ready "trigger/$fn" --timeout=60s >/dev/null || fail "Trigger $fn not Ready: $(k get trigger "$fn" -o jsonpath='{.status}')"
on_real_node "$fn"
echo "PASS: 1000 of 1000 records mirrored exactly once by $(replica_count "$fn") replica(s) on $NODE_NAME"
