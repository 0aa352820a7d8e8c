#!/usr/bin/env bash
# HTTP under `sluice-operator --local`: the operator runs the gateway too and
# logs the URL of each Function with an http Trigger. An HTTP-only Function at
# zero processes answers the first curl of its URL with its handler's result
# (the gateway holds the request, its /loads wakes the Function: 0 -> 1
# process, a warm one adopted), and after the cooldown it is back at zero.
# A path naming no routable Function gets 404. Wall time: ~15 s.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR

work=$(mktemp -d)
op_pid=
cleanup() {
  local code=$?
  [[ -n $op_pid ]] && kill -INT "$op_pid" 2>/dev/null && wait "$op_pid" 2>/dev/null
  ((code == 0)) || { echo "--- operator log (last 40 lines)"; tail -40 "$work/operator.log"; }
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/manifests"
cat >"$work/manifests/hello.yaml" <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: hello}
spec:
  runtime: python3.11
  handler: index.main_handler
  eventShape: lambda
  code:
    inline: |
      import os
      def main_handler(event, context):
          name = (event.get("queryStringParameters") or {}).get("name", "world")
          return {"statusCode": 200, "headers": {"X-Pid": str(os.getpid())},
                  "body": "hello, %s from %s %s" % (name, event["httpMethod"], event["path"])}
  scaling: {minReplicas: 0, cooldownSeconds: 2, pollingIntervalSeconds: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: hello-web}
spec:
  functionRef: {name: hello}
  http: {path: /hello}
YAML

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
gw_port=$(free_port)
"$SLUICE_BUILD_DIR/sluice-operator" --local "$work/manifests" --metrics-bind-address "127.0.0.1:$port" \
  --gateway-listen-address "127.0.0.1:$gw_port" --warm-pool 1 --drain-grace 5 >"$work/operator.log" 2>&1 &
op_pid=$!

replicas() {
  curl -sf "http://127.0.0.1:$port/metrics" |
    awk '/^sluice_local_replicas\{/ && /function="default\/hello"/ && /state="(starting|ready)"/ {n += $2} END {print n + 0}'
}
warm_ready() { curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^sluice_local_warm_processes 1'; }
url_logged() { grep -q "local: Function default/hello answers HTTP at http://127.0.0.1:$gw_port/default/hello$" \
  "$work/operator.log"; }

poll 20 url_logged
url="http://127.0.0.1:$gw_port/default/hello"
echo "[step] the operator printed $url"
# A warm process waits, so the wake-up below is an adoption (as `make run` shows it).
poll 30 warm_ready
n=$(replicas)
((n == 0)) || fail "$n replica process(es) before the first request, expected 0"

started=$(date +%s%3N)
out=$(curl -s -m 30 -D "$work/headers" -w '\n%{http_code}' "$url/greet?name=sluice")
took=$(($(date +%s%3N) - started))
code=${out##*$'\n'}
body=${out%$'\n'*}
[[ $code == 200 ]] || fail "the first request: HTTP $code ($body)"
[[ $body == "hello, sluice from GET /greet" ]] || fail "the first request answered '$body'"
pid=$(awk 'tolower($1) == "x-pid:" { print $2 }' "$work/headers" | tr -d '\r')
n=$(replicas)
((n == 1)) || fail "$n replica process(es) after the first request, expected 1"
[[ -n $pid && -d /proc/$pid ]] || fail "the answer came from process '$pid', which is not running"
echo "[figure] local gateway: the first request answered from zero in $took ms (process $pid)"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw_port/default/nobody")
[[ $code == 404 ]] || fail "a Function that does not exist: HTTP $code, expected 404"

# After the 2 s cooldown: back to zero processes.
peak=1
at_zero() {
  local n
  n=$(replicas)
  ((n > peak)) && peak=$n
  ((n == 0))
}
poll 60 at_zero
((peak == 1)) || fail "peak replica processes $peak, expected 1"
echo "PASS: $url answered the first curl from zero (0 -> 1 process) and went back to 0"
