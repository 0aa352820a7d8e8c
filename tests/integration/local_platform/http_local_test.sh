#!/usr/bin/env bash
# HTTP under `sluice-operator --local`: the operator runs the gateway too and
# logs the URL of each Function with an http Trigger. The HTTP-only Function
# of `make run` (hello, from scripts/local_demo.py) at zero processes answers
# the first curl of its URL with its handler's result (the gateway holds the
# request while the http scaler, on the gateway's /loads, wakes the Function:
# 0 -> 1 process, the warm one adopted), and after its 10 s cooldown it is back
# at zero. A path naming no routable Function gets 404. Wall time: ~25 s.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR
source "$(dirname "$0")/local_lib.sh"

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$SLUICE_SOURCE_DIR/scripts python3 -c 'import local_demo; print(local_demo.HELLO_MANIFEST)' \
  >"$work/manifests/hello.yaml"
start_local_operator

warm_ready() { curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^sluice_local_warm_processes 1'; }
url_logged() { grep -q "local: Function default/hello answers HTTP at http://127.0.0.1:$gw_port/default/hello$" \
  "$work/operator.log"; }

poll 20 url_logged
url="http://127.0.0.1:$gw_port/default/hello"
echo "[step] the operator printed $url"
# A warm process waits, so the wake-up below is an adoption (as `make run` shows it).
poll 30 warm_ready
n=$(replicas hello)
((n == 0)) || fail "$n replica process(es) before the first request, expected 0"

started=$(date +%s%3N)
out=$(curl -s -m 30 -D "$work/headers" -w '\n%{http_code}' "$url?name=sluice")
took=$(($(date +%s%3N) - started))
code=${out##*$'\n'}
body=${out%$'\n'*}
[[ $code == 200 ]] || fail "the first request: HTTP $code ($body)"
[[ $body == $'hello, sluice\n' ]] || fail "the first request answered '$body'"
replica=$(awk 'tolower($1) == "x-sluice-replica:" { print $3 }' "$work/headers" | tr -d '\r')
n=$(replicas hello)
((n == 1)) || fail "$n replica process(es) after the first request, expected 1"
[[ -n $replica && -d /proc/$replica ]] || fail "the answer came from process '$replica', which is not running"
echo "[figure] local gateway: the first request answered from zero in $took ms (process $replica)"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw_port/default/nobody")
[[ $code == 404 ]] || fail "a Function that does not exist: HTTP $code, expected 404"

# After the cooldown: back to zero processes.
peak=1
poll 90 at_zero hello
((peak == 1)) || fail "peak replica processes $peak, expected 1"
echo "PASS: $url answered the first curl from zero (0 -> 1 process) and went back to 0"
