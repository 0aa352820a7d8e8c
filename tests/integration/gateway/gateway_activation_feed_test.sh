# The gateway's activation feed wakes an HTTP-only Function at zero (real
# apiserver + KWOK, real sluice-runtime stand-ins): the operator checks
# Functions at zero only every 30 s here (--at-zero-check-interval-ms), yet a
# request held at zero is answered by the handler within 10 s, because the
# gateway tells the operator's long poll of /activations the moment it queues
# it. After a gateway restart (same addresses, a new instance) the operator's
# watcher reconnects and a request at zero is again answered within 10 s.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
source "$(dirname "$0")/gateway_lib.sh"
own_namespace gateway-feed
trap 'stop_standins; _own_namespace_cleanup' EXIT

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_gateway gw
start_operator_with_gateway gw --at-zero-check-interval-ms 30000
standins echo
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: echo}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  code:
    inline: |
      def main_handler(event, context):
          return {"statusCode": 200, "body": "woken:" + event["path"]}
  scaling:
    minReplicas: 0
    maxReplicas: 1
    cooldownSeconds: 2
    pollingIntervalSeconds: 1
    scaleDown: {stabilizationWindowSeconds: 0}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: echo-http}
spec:
  functionRef: {name: echo}
  http: {path: /}
YAML
url="http://127.0.0.1:$gw_port/$ns/echo"
(poll 30 desired_is echo 0) || fail_with_logs "desiredReplicas $(desired echo), expected 0 before any request"

# first_request_from_zero LABEL: a request at zero answered by the handler within 10 s; 0 -> 1.
first_request_from_zero() {
  local started took status
  pods_are echo 0 || fail "$(live_count echo) pods before the $1 request, expected 0"
  started=$(date +%s%3N)
  status=$(curl -s -m 10 -o "$work/body" -w '%{http_code}' "$url/$1") || true
  took=$(($(date +%s%3N) - started))
  [[ $status == 200 ]] || fail_with_logs "$1 request from zero: HTTP $status after ${took} ms, expected the handler's 200 within 10 s (the at-zero poll is 30 s: the activation feed did not wake the Function)"
  [[ $(cat "$work/body") == "woken:/$1" ]] || fail "$1 request: the handler answered $(cat "$work/body")"
  [[ $(desired echo) == 1 ]] || fail "desiredReplicas $(desired echo) after the $1 request, expected 1"
  echo "[step] $1 request at zero answered by the handler in ${took} ms (the at-zero poll is 30 s)"
}
first_request_from_zero first

# Back to zero (the 1 -> 0 round runs on the 1 s polling interval), then the gateway restarts.
(poll 60 desired_is echo 0) || fail_with_logs "desiredReplicas $(desired echo) after cooldown, expected 0"
(poll 60 pods_are echo 0) || fail_with_logs "pods after cooldown: $(live_count echo), expected 0"
kill "$gw_pid"
wait "$gw_pid" 2>/dev/null || true
start_gateway_at gw "$gw_port" "$gw_admin"
# The watcher retries within its backoff (at most 5 s) and finds the new instance.
reconnected() { grep -q "activation feed .*: a new gateway instance" "$work/operator.log"; }
(poll 30 reconnected) || fail_with_logs "the operator's watcher did not reconnect to the restarted gateway"
echo "[step] the gateway restarted on the same addresses; the operator's watcher reconnected"
first_request_from_zero second
echo "PASS"
