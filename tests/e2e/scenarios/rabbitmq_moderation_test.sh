# Seed scenario 2 on real pods: RabbitMQ push moderation. A Python handler
# delivered inline flags posts with banned words; a RabbitMQ Trigger
# (queueLength 50) feeds it from a queue and a RabbitMQ output publishes the
# verdicts to an exchange. Idle at zero; 300 posts wake it (0 -> N on queue
# depth), every post comes out once with the right verdict, and once the queue
# is empty it returns to zero pods. The broker's credentials reach the pods
# only through a Secret.
source "$(dirname "$0")/../lib.sh"
require_env RABBITMQ_AMQP_URL RABBITMQ_HTTP_URL
e2e_work
fn=moderate-$RANDOM
posts=$(unique_name e2e-posts)
verdicts=$(unique_name e2e-verdicts)
exchange=$(unique_name e2e-moderated)
mgmt() { curl -sf -H 'content-type: application/json' "$@"; }
e2e_cleanup() {
  k delete fn "$fn" trigger "$fn" secret "$fn-rabbit" --ignore-not-found --wait=false >/dev/null 2>&1
  for q in "$posts" "$verdicts"; do mgmt -X DELETE "$RABBITMQ_HTTP_URL/api/queues/%2F/$q" >/dev/null 2>&1; done
  mgmt -X DELETE "$RABBITMQ_HTTP_URL/api/exchanges/%2F/$exchange" >/dev/null 2>&1
}
depth() { mgmt "$RABBITMQ_HTTP_URL/api/queues/%2F/$1" | jq -r '.messages // 0'; }
depth_is() { [[ $(depth "$1") == "$2" ]]; }

for q in "$posts" "$verdicts"; do
  mgmt -X PUT "$RABBITMQ_HTTP_URL/api/queues/%2F/$q" -d '{"durable":true}' >/dev/null || fail "declaring queue $q"
done
mgmt -X PUT "$RABBITMQ_HTTP_URL/api/exchanges/%2F/$exchange" -d '{"type":"direct","durable":true}' >/dev/null ||
  fail "declaring exchange $exchange"
mgmt -X POST "$RABBITMQ_HTTP_URL/api/bindings/%2F/e/$exchange/q/$verdicts" -d '{"routing_key":"posts"}' >/dev/null ||
  fail "binding $verdicts"
k create secret generic "$fn-rabbit" --from-literal=url="$(pod_url "$RABBITMQ_AMQP_URL")" \
  --from-literal=managementUrl="$(pod_url "$RABBITMQ_HTTP_URL")" >/dev/null
k label secret "$fn-rabbit" sluice.io/scaler-access=true >/dev/null  # the scaler reads the queue depth with it

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

      BANNED = {"spam", "scam", "fraud"}

      def main_handler(event, context):
          post = json.loads(event["data"]) if isinstance(event.get("data"), str) else event.get("data", {})
          words = {w.strip(".,!?").lower() for w in str(post.get("text", "")).split()}
          post["flagged"] = sorted(words & BANNED)
          post["verdict"] = "rejected" if post["flagged"] else "accepted"
          return json.dumps(post)
  outputs:
  - name: moderated
    rabbitmq:
      connectionSecretRef: {name: $fn-rabbit}
      exchange: "$exchange"
      routingKey: posts
$(scaling_from_zero_yaml 3 5 0)
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: $fn}
spec:
  functionRef: {name: $fn}
  rabbitmq:
    connectionSecretRef: {name: $fn-rabbit}
    queue: "$posts"
    prefetch: 20
    queueLength: 50
YAML
k wait --for=condition=Ready "fn/$fn" --timeout=120s >/dev/null || fail "Function $fn not Ready at zero: $(k get fn "$fn" -o jsonpath='{.status}')"
sleep 3
replicas_are "$fn" 0 || fail "$(replica_count "$fn") replicas with an empty queue"
# The pool's pod carries the Function's Secrets and settings, so waking adopts it.
poll 120 warm_ready "$fn" 1
record_replicas "$fn" "$work/replicas"

python3 - "$work/sent" <<'PY'
import json, sys
words = ["hello", "spam", "great", "scam", "news", "fraud", "today"]
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write(json.dumps({"id": "p-%d" % i, "text": "post %d says %s" % (i, words[i % len(words)])}) + "\n")
PY
while read -r line; do
  amqp-publish --url "$RABBITMQ_AMQP_URL" -r "$posts" -p -b "$line" || fail "publishing to $posts"
done <"$work/sent"
started=$SECONDS
poll 180 depth_is "$verdicts" 300
echo "[figure] moderation: 300 posts from zero to 300 verdicts in $((SECONDS - started)) s"
on_real_node "$fn"
assert_adopted "$fn"
mgmt -X POST "$RABBITMQ_HTTP_URL/api/queues/%2F/$verdicts/get" \
  -d '{"count":1000,"ackmode":"ack_requeue_false","encoding":"auto"}' | jq -c '.[].payload | fromjson' >"$work/received"
ids_match "$work/sent" "$work/received"
bad=$(jq -c 'select((.verdict == "rejected") != (.text | test("spam|scam|fraud")))' "$work/received" | head -3)
[[ -z $bad ]] || fail "wrong verdicts: $bad"
poll 180 replicas_are "$fn" 0
depth_is "$posts" 0 || fail "$(depth "$posts") posts left in $posts"
peak=$(peak_ready "$work/replicas")
((peak >= 1 && peak <= 3)) || fail "peak Ready replicas $peak, expected 1..3 ($(tr '\n' ';' <"$work/replicas"))"
# The Secret's values reach the pods only as the Secret: not in the Function, its ConfigMap or its pods' specs.
password=$(python3 -c 'import sys, urllib.parse as u; print(u.urlparse(sys.argv[1]).password)' "$RABBITMQ_AMQP_URL")
if k get fn "$fn" -o yaml | grep -qF "$password" || k get configmap "$fn-sluice-config" -o yaml | grep -qF "$password"; then
  fail "the RabbitMQ password appears outside its Secret"
fi
echo "PASS: 300 of 300 posts moderated exactly once; replicas 0 -> $peak -> 0 on $NODE_NAME"
