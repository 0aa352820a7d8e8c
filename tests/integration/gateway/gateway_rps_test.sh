# Scaling on a requests-per-second target through sluice-gateway (real
# apiserver + KWOK, real sluice-runtime stand-ins): a Function at zero whose
# http Trigger sets targetRequestsPerSecond: 5 gets a steady 17 requests/s.
# The gateway's /loads reports the rate; the operator's http scaler reads it
# and the decision engine (KPA windows: the panic window's mean starts burst
# mode) asks for ceil(17 / 5) = 4 replicas — never more — while each request
# takes a few ms (in-flight concurrency alone would ask for 1). All requests
# are answered; after the load, back to zero once the burst hold and the
# cooldown have passed.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
source "$(dirname "$0")/gateway_lib.sh"
own_namespace gateway-rps
trap 'stop_standins; _own_namespace_cleanup' EXIT

serve_through_gateway api
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: api}
spec:
  runtime: python3.11
  handler: index.main_handler
  concurrency: 8
  code:
    inline: |
      def main_handler(event, context):
          return "ok"
  scaling:
    minReplicas: 0
    maxReplicas: 8
    cooldownSeconds: 5
    pollingIntervalSeconds: 1
    scaleDown: {stabilizationWindowSeconds: 0}
    burst: {windowSeconds: 6, stableWindowSeconds: 20}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: api-http}
spec:
  functionRef: {name: api}
  http: {path: /, targetRequestsPerSecond: 5}
YAML
url="http://127.0.0.1:$gw_port/$ns/api"
(poll 30 desired_is api 0) || fail_with_logs "desiredReplicas $(desired api), expected 0 before any request"
rate_of_api() { curl -sf "http://127.0.0.1:$gw_admin/loads" | jq -r --arg ns "$ns" '.functions[] | select(.namespace == $ns and .name == "api") | .requestsPerSecond'; }

# 17 requests/s for 40 s, each on its own thread (a slow answer never lowers the rate).
cat >"$work/load.py" <<'PY'
import sys, threading, time, urllib.request
url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
lock = threading.Lock()
outcome = {"ok": 0, "failed": 0}
def call():
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=60) as response:
            good = response.status == 200 and response.read() == b"ok"
    except Exception as error:
        print("request failed:", error, file=sys.stderr)
        good = False
    with lock:
        outcome["ok" if good else "failed"] += 1
threads, start, sent = [], time.time(), 0
while time.time() - start < seconds:
    thread = threading.Thread(target=call)
    thread.start()
    threads.append(thread)
    sent += 1
    time.sleep(max(0.0, start + sent / rate - time.time()))
for thread in threads:
    thread.join()
print(sent, outcome["ok"], outcome["failed"])
PY
python3 "$work/load.py" "$url/" 17 40 >"$work/load.out" 2>"$work/load.err" &
load=$!
: >"$work/desired"
(while kill -0 "$load" 2>/dev/null; do desired api >>"$work/desired"; echo >>"$work/desired"; sleep 0.5; done) &
sampler=$!
(poll 40 desired_is api 4) || fail_with_logs "desiredReplicas $(desired api) under 17 requests/s, expected 4 (gateway rate $(rate_of_api))"
echo "[step] 17 requests/s: desiredReplicas 4 (gateway rate $(rate_of_api)/s)"
(poll 30 pods_are api 4) || fail_with_logs "pods under load: $(live_count api), expected 4"
wait "$load" || fail "the load generator failed: $(cat "$work/load.err")"
wait "$sampler"
read -r sent ok failed <"$work/load.out"
[[ $failed == 0 && $ok == "$sent" ]] || fail "load: $ok of $sent answered, $failed failed: $(head -5 "$work/load.err")"
most=$(sort -n "$work/desired" | tail -1)
[[ $most == 4 ]] || fail "desiredReplicas reached $most during the load, expected at most ceil(17 / 5) = 4"
echo "[figure] rps target: $sent requests at 17/s, 0 errors, desiredReplicas at most $most (ceil(17/5) = 4)"

# Idle: the rate falls to 0; burst mode holds the count 60 s after its last spike, then cooldown 5 s.
(poll 150 desired_is api 0) || fail_with_logs "desiredReplicas $(desired api) after the load, expected 0"
(poll 60 pods_are api 0) || fail_with_logs "pods after the load: $(live_count api), expected 0"
echo "[step] back to zero after the load"
echo "PASS"
