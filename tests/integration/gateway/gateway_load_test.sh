# Load through sluice-gateway (real apiserver + KWOK, real sluice-runtime
# stand-ins): 2,000 requests, 50 at a time, against a Function at zero with
# spec.concurrency 4 and up to 4 replicas. Every request is answered 200 with
# its own request id (0 errors), no replica ever has more than 4 at once, the
# autoscaler's http scaler takes the Function above one replica under load
# and back to zero after it.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
source "$(dirname "$0")/gateway_lib.sh"
own_namespace gateway-load
trap 'stop_standins; _own_namespace_cleanup' EXIT
requests=${GATEWAY_LOAD_REQUESTS:-2000}

serve_through_gateway work
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: work}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  concurrency: 4
  code:
    inline: |
      import json, os, threading, time
      lock = threading.Lock()
      state = {"now": 0, "max": 0}
      def main_handler(event, context):
          with lock:
              state["now"] += 1
              state["max"] = max(state["max"], state["now"])
          time.sleep(0.02)
          with lock:
              state["now"] -= 1
              peak = state["max"]
          return {"statusCode": 200, "headers": {"X-Peak": str(peak), "X-Pid": str(os.getpid())},
                  "body": event["queryStringParameters"]["id"]}
  scaling:
    minReplicas: 0
    maxReplicas: 4
    cooldownSeconds: 5
    pollingIntervalSeconds: 1
    scaleDown: {stabilizationWindowSeconds: 10}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: work-http}
spec:
  functionRef: {name: work}
  http: {path: /work}
YAML
(poll 30 desired_is work 0) || fail_with_logs "desiredReplicas $(desired work), expected 0 before the load"

# The most replicas the autoscaler asked for, sampled while the load runs.
(while :; do desired work >>"$work/desired.samples" 2>/dev/null; echo >>"$work/desired.samples"; sleep 0.5; done) &
pids+=($!)

url="http://127.0.0.1:$gw_port/$ns/work/job"
cat >"$work/one.sh" <<SH
#!/bin/bash
# one.sh ID: prints "ok ID", or what went wrong.
out=\$(curl -s -m 120 -D "$work/h.\$1" -w '\n%{http_code}' "$url?id=\$1")
code=\${out##*$'\n'}
body=\${out%$'\n'*}
peak=\$(awk 'tolower(\$1) == "x-peak:" { print \$2 }' "$work/h.\$1" | tr -d '\r')
pid=\$(awk 'tolower(\$1) == "x-pid:" { print \$2 }' "$work/h.\$1" | tr -d '\r')
rm -f "$work/h.\$1"
if [[ \$code == 200 && \$body == "\$1" ]]; then echo "ok \$1 \$peak \$pid"; else echo "bad \$1 HTTP \$code body '\$body'"; fi
SH
chmod +x "$work/one.sh"
started=$(date +%s%3N)
seq 1 "$requests" | xargs -P 50 -n 1 "$work/one.sh" >"$work/results"
took=$(($(date +%s%3N) - started))

ok=$(grep -c '^ok ' "$work/results" || true)
if ((ok != requests)); then
  grep -v '^ok ' "$work/results" | sort | uniq -c | sort -rn | head -5 >&2
  fail_with_logs "$ok of $requests requests answered with their own id"
fi
peak=$(awk '$1 == "ok" { if ($3 > m) m = $3 } END { print m + 0 }' "$work/results")
((peak <= 4)) || fail "a replica had $peak requests at once, over spec.concurrency 4"
replicas_used=$(awk '$1 == "ok" { print $4 }' "$work/results" | sort -u | wc -l)
max_desired=$(sort -n "$work/desired.samples" | tail -1)
((max_desired > 1)) || fail_with_logs "desiredReplicas stayed at ${max_desired:-nothing} under load, expected more than 1"
echo "[step] $requests requests, 50 at a time: 0 errors in ${took} ms; peak per replica $peak; desired up to $max_desired; $replicas_used replica processes answered"

(poll 90 desired_is work 0) || fail_with_logs "desiredReplicas $(desired work) after the load, expected 0"
(poll 60 pods_are work 0) || fail_with_logs "pods after the load: $(live_count work), expected 0"
echo "[step] back to zero after the load"
echo "PASS"
