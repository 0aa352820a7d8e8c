# sluice-gateway's refusals on the real apiserver, with no operator (so the
# Function stays at zero and every request waits in its queue): a queue of 2
# takes two requests, refuses the third at once with 503 + Retry-After, and
# the two waiting end with 504 at the 2 s request timeout; a 10 MiB body is
# refused with 413 before it is read, and the gateway's memory stays bounded;
# a Function without an http Trigger, or an unknown one, is 404.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
source "$(dirname "$0")/gateway_lib.sh"
own_namespace gateway-limits

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: held}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return "never reached"
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: held-http}
spec:
  functionRef: {name: held}
  http: {path: /held}
---
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: no-http}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return "x"
YAML
start_gateway gw --queue-limit 2 --request-timeout-seconds 2
base="http://127.0.0.1:$gw_port/$ns"
routable() { curl -s "http://127.0.0.1:$gw_admin/loads" | jq -e --arg ns "$ns" '.functions[] | select(.namespace == $ns and .name == "held")' >/dev/null; }
poll 30 routable

# Two wait in the queue (seen in /loads), the third is refused at once.
for i in 1 2; do
  curl -s -m 20 -o "$work/held$i.body" -D "$work/held$i.headers" -w '%{http_code}' "$base/held/x" >"$work/held$i.code" &
  waiting+=($!)
done
pending_is_2() { [[ $(curl -s "http://127.0.0.1:$gw_admin/loads" | jq --arg ns "$ns" '.functions[] | select(.namespace == $ns and .name == "held") | .pending') == 2 ]]; }
poll 10 pending_is_2
code=$(curl -s -m 5 -o "$work/full.body" -D "$work/full.headers" -w '%{http_code}' "$base/held/x")
[[ $code == 503 ]] || fail_with_logs "a third request with the queue full: HTTP $code, expected 503"
grep -qi '^Retry-After: 1' "$work/full.headers" || fail "503 without Retry-After: $(cat "$work/full.headers")"
echo "[step] queue full: 503 with Retry-After: 1"

started=$(date +%s%3N)
wait "${waiting[@]}"
took=$(($(date +%s%3N) - started))
for i in 1 2; do
  [[ $(cat "$work/held$i.code") == 504 ]] || fail_with_logs "queued request $i: HTTP $(cat "$work/held$i.code"), expected 504"
  grep -q "did not answer in time" "$work/held$i.body" || fail "504 body: $(cat "$work/held$i.body")"
done
((took < 4000)) || fail "the queued requests ended after ${took} ms, not at the 2 s timeout"
metric() { curl -s "http://127.0.0.1:$gw_admin/metrics" | awk -v s="$1" 'index($0, s) == 1 { print $NF }'; }
[[ $(metric "sluice_gateway_requests_total{code=\"504\",function=\"held\",namespace=\"$ns\"}") == 2 ]] ||
  fail "metrics: $(curl -s "http://127.0.0.1:$gw_admin/metrics" | grep requests_total)"
echo "[step] queued requests timed out: 504 after the 2 s request timeout"

# 10 MiB: refused with 413 (the default limit is 6 MiB), without the gateway holding it.
head -c $((10 * 1024 * 1024)) /dev/zero >"$work/big"
gateway_pid=${pids[0]}
rss_before=$(awk '/VmRSS/ { print $2 }' "/proc/$gateway_pid/status")
code=$(curl -s -m 30 -o "$work/big.body" -w '%{http_code}' --data-binary "@$work/big" "$base/held/upload")
[[ $code == 413 ]] || fail_with_logs "10 MiB body: HTTP $code, expected 413"
for i in 1 2 3 4 5; do curl -s -m 30 -o /dev/null --data-binary "@$work/big" "$base/held/upload"; done
rss_after=$(awk '/VmRSS/ { print $2 }' "/proc/$gateway_pid/status")
((rss_after - rss_before < 8 * 1024)) || fail "gateway RSS grew from ${rss_before} kB to ${rss_after} kB over six 10 MiB bodies"
echo "[step] 10 MiB body: 413; gateway RSS ${rss_before} -> ${rss_after} kB"

code=$(curl -s -o "$work/nohttp.body" -w '%{http_code}' "$base/no-http/")
[[ $code == 404 ]] || fail "a Function without an http Trigger: HTTP $code, expected 404"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/missing/")
[[ $code == 404 ]] || fail "an unknown Function: HTTP $code, expected 404"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw_port/")
[[ $code == 404 ]] || fail "no Function in the path: HTTP $code, expected 404"
echo "[step] 404 for Functions that are not routable"
echo "PASS"
