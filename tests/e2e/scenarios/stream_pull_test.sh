# Seed scenario 3 on real pods: stream pull scaling 0 -> N -> 0 on consumer
# lag. A Python handler reads click events from a 4-partition topic, spends
# 5 ms on each (an enrichment lookup), and keeps the purchases' fields
# downstream needs; idle it has no pod. 4,000 events make the lag 4,000 at
# lagThreshold 100, 20 s of work for one replica: the autoscaler raises
# replicas (at most one per partition) on the real node, the first adopted
# from the warm pool, and several are Ready and consuming at once; every
# purchase arrives in the output topic once, and when the lag is gone the
# Function returns to zero pods. (The built-in pipeline of the example is too
# fast to keep a lag: one replica drains 4,000 events in under a second.)
source "$(dirname "$0")/../lib.sh"
require_env KAFKA_BOOTSTRAP KAFKA_POD_BOOTSTRAP
e2e_work
fn=purchases-$RANDOM
clicks=$(unique_name e2e-clicks)
out=$(unique_name e2e-purchases)
kafka_topic "$KAFKA_BOOTSTRAP" "$clicks" 4
kafka_topic "$KAFKA_BOOTSTRAP" "$out" 1
e2e_cleanup() { k delete fn "$fn" trigger "$fn" --ignore-not-found --wait=false >/dev/null 2>&1; }

k apply -f - >/dev/null <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $fn}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      import json
      import time

      def main_handler(event, context):
          click = json.loads(event["data"])
          time.sleep(0.005)
          if click["type"] != "purchase" or click["amount"] <= 0:
              return None
          return json.dumps({k: click[k] for k in ("id", "user", "item", "amount")})
  outputs:
  - name: purchases
    kafka: {bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"], topic: "$out"}
$(scaling_from_zero_yaml 4 5 0)
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $fn}
spec:
  functionRef: {name: $fn}
  kafka:
    bootstrapServers: ["$KAFKA_POD_BOOTSTRAP"]
    topics: ["$clicks"]
    consumerGroup: "$fn"
    initialOffset: earliest
    lagThreshold: 100
YAML
k wait --for=condition=Ready "fn/$fn" --timeout=120s >/dev/null || fail "Function $fn not Ready at zero: $(k get fn "$fn" -o jsonpath='{.status}')"
sleep 5
replicas_are "$fn" 0 || fail "$(replica_count "$fn") replicas while the topic is empty"
[[ $(condition fn "$fn" Active) == False ]] || fail "idle Function is Active: $(k get fn "$fn" -o jsonpath='{.status.conditions}')"
# The pool's pod carries the Function's Secrets and settings, so waking adopts it.
poll 120 warm_ready "$fn" 1
record_replicas "$fn" "$work/replicas"

python3 - "$work/sent" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(4000):
        kind = "purchase" if i % 2 == 0 else "view"
        f.write(json.dumps({"id": "c-%d" % i, "type": kind, "user": "u%d" % (i % 97), "item": "i%d" % (i % 13),
                            "amount": (i % 50) + 1, "time": "2026-12-05T00:00:00Z"}) + "\n")
PY
jq -c 'select(.type == "purchase")' "$work/sent" >"$work/purchases"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$clicks" -X acks=all <"$work/sent" || fail "producing to $clicks"
started=$SECONDS
poll 180 kafka_count_is "$KAFKA_BOOTSTRAP" "$out" 2000
echo "[figure] stream pull: 4000 events from zero to 2000 purchases out in $((SECONDS - started)) s"
on_real_node "$fn"
assert_adopted "$fn"
poll 180 replicas_are "$fn" 0
echo "[figure] stream pull: back at zero pods $((SECONDS - started)) s after producing"
kafka_values "$KAFKA_BOOTSTRAP" "$out" >"$work/received"
ids_match "$work/purchases" "$work/received"
jq -s -e 'all(.[]; keys == ["amount", "id", "item", "user"])' "$work/received" >/dev/null || fail "output records are not projected: $(head -1 "$work/received")"
peak=$(peak_ready "$work/replicas")
((peak >= 2)) || fail "peak Ready replicas $peak: the lag never scaled the Function beyond one replica ($(tr '\n' ';' <"$work/replicas"))"
((peak <= 4)) || fail "peak Ready replicas $peak beyond maxReplicas 4"
[[ $(condition fn "$fn" Active) == False ]] || fail "Function still Active at zero: $(k get fn "$fn" -o jsonpath='{.status.conditions}')"
echo "PASS: 2000 of 2000 purchases out exactly once; replicas 0 -> $peak -> 0 on $NODE_NAME"
