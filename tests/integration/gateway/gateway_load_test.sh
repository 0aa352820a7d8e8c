# Load through sluice-gateway (real apiserver + KWOK, real sluice-runtime
# stand-ins): 2,000 requests, 50 at a time, against a Function at zero with
# spec.concurrency 4 and up to 10 replicas. No replica ever has more than 4 at
# once, the autoscaler's http scaler takes the Function above one replica
# under load, and the Function shrinks (scale-down stays on throughout) and
# goes back to zero after it.
# Mid-load one replica process is SIGKILLed, at a moment arranged rather than
# slept for: once 200 requests are answered the test arms a gate, the first
# replica to take a request after that becomes the victim and holds that
# request inside its handler, and the kill comes once it does. sluice-runtime
# runs up to spec.concurrency (4) Python calls at once, so the other requests
# the gateway sent the victim meanwhile (at most 3 more: 4 is what the gateway
# lets one replica have outstanding) are in its handler too, and held there
# as well. The held requests fail, each with the gateway's documented 502
# (the replica broke the connection after the request was sent; never
# retried, as the handler may have run), and there are at most 4 of them.
# Every other request is answered 200 with its own id: the gateway
# still routes to the dead replica (its KWOK pod stays Ready), gets
# "connection refused" before anything was sent and retries elsewhere, which
# X-Sluice-Attempts shows.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR
source "$(dirname "$0")/gateway_lib.sh"
own_namespace gateway-load
trap 'stop_standins; _own_namespace_cleanup' EXIT
requests=${GATEWAY_LOAD_REQUESTS:-2000}

serve_through_gateway work
gate=$work/kill
mkdir -p "$gate"
k apply -f - >/dev/null <<YAML
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
      state = {"now": 0, "max": 0, "victim": None, "held": []}
      GATE = "$gate"
      def is_victim():
          # The first process to take a request once the test armed the gate.
          if state["victim"] is None and os.path.exists(GATE + "/armed"):
              try:
                  os.close(os.open(GATE + "/victim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                  state["victim"] = True
              except FileExistsError:
                  state["victim"] = False
          return state["victim"] is True
      def main_handler(event, context):
          rid = event["queryStringParameters"]["id"]
          with lock:
              state["now"] += 1
              state["max"] = max(state["max"], state["now"])
              if is_victim():
                  state["held"].append(rid)
                  with open(GATE + "/held.tmp", "w") as f:
                      f.write("%d %s\\n" % (os.getpid(), " ".join(state["held"])))
                  os.rename(GATE + "/held.tmp", GATE + "/held")
                  hold = True
              else:
                  hold = False
          while hold:  # until the test kills this process
              time.sleep(1)
          time.sleep(0.02)
          with lock:
              state["now"] -= 1
              peak = state["max"]
          return {"statusCode": 200, "headers": {"X-Peak": str(peak), "X-Pid": str(os.getpid())},
                  "body": event["queryStringParameters"]["id"]}
  scaling:
    minReplicas: 0
    maxReplicas: 10
    cooldownSeconds: 5
    pollingIntervalSeconds: 1
    # Scale-down stays on while the load runs: once the burst from zero is served, the curl
    # processes on two busy cores keep few requests in flight and the http scaler shrinks the
    # Function. A replica drained under load refuses what it did not start with 503 and
    # X-Sluice-Not-Handled, which the gateway sends elsewhere, so no request fails for it.
    scaleDown: {selectPolicy: Max, stabilizationWindowSeconds: 10}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: work-http}
spec:
  functionRef: {name: work}
  http: {path: /work}
YAML
(poll 30 desired_is work 0) || fail_with_logs "desiredReplicas $(desired work), expected 0 before the load"
grep -q 'GATE = "/' <<<"$(k get fn work -o jsonpath='{.spec.code.inline}')" || fail "the handler does not name the gate"

# The most replicas the autoscaler asked for, sampled while the load runs.
(while :; do desired work >>"$work/desired.samples" 2>/dev/null; echo >>"$work/desired.samples"; sleep 0.5; done) &
pids+=($!)

url="http://127.0.0.1:$gw_port/$ns/work/job"
cat >"$work/one.sh" <<SH
#!/bin/bash
# one.sh ID: prints "ok ID PEAK PID ATTEMPTS END_MS", or "bad ID HTTP CODE body ... from replica ... at END_MS".
out=\$(curl -s -m 120 -D "$work/h.\$1" -w '\n%{http_code}' "$url?id=\$1")
code=\${out##*$'\n'}
body=\${out%$'\n'*}
header() { awk -v name="\$1:" 'tolower(\$1) == name { print \$2 }' "$work/h.\$2" | tr -d '\r'; }
peak=\$(header x-peak \$1)
pid=\$(header x-pid \$1)
attempts=\$(header x-sluice-attempts \$1)
replica=\$(header x-sluice-replica \$1)
body=\${body//\$'\n'/ }
rm -f "$work/h.\$1"
if [[ \$code == 200 && \$body == "\$1" ]]; then echo "ok \$1 \$peak \$pid \$attempts \$(date +%s%3N)"; else echo "bad \$1 HTTP \$code body '\$body' from replica '\$replica' at \$(date +%s%3N)"; fi
SH
chmod +x "$work/one.sh"
started=$(date +%s%3N)
seq 1 "$requests" | xargs -P 50 -n 1 "$work/one.sh" >"$work/results" &
load=$!
pids+=($load)

# The kill: armed once 200 requests are answered; fired when the victim holds one in its handler
# (well within the handler's 30 s timeout).
answered() { (($(wc -l <"$work/results") >= $1)); }
(poll 120 answered 200) || fail_with_logs "not 200 answers in 120 s"
touch "$gate/armed"
holds_one() { [[ -s $gate/held ]]; }
(poll 30 holds_one) || fail_with_logs "no replica took a request after the gate was armed"
read -r victim _ <"$gate/held"
[[ -n $(find "$work/standins" -name '*.pid' -exec grep -lx "$victim" {} +) ]] ||
  fail "the victim $victim is not a stand-in process"
kill -KILL "$victim"
killed_at=$(date +%s%3N)
gone() { [[ ! -e /proc/$victim ]] || [[ $(awk '{print $3}' "/proc/$victim/stat" 2>/dev/null) == Z ]]; }
poll 10 gone
# Dead: what it held is final.
read -r _ held_ids <"$gate/held"
answered_before_kill=$(wc -l <"$work/results")
echo "[step] SIGKILL replica process $victim holding requests $held_ids, $answered_before_kill of $requests answered"
wait "$load"
took=$(($(date +%s%3N) - started))

ok=$(grep -c '^ok ' "$work/results" || true)
# Only requests the victim had taken failed: those it held, at most
# spec.concurrency (4) in all, each with the 502 of a connection broken after the request was sent.
failed=$(awk '$1 == "bad" { print $2 }' "$work/results" | sort -n | tr '\n' ' ' | sed 's/ $//')
failed_count=$(wc -w <<<"$failed")
for id in $held_ids; do
  [[ " $failed " == *" $id "* ]] || fail_with_logs "request $id, held in the killed handler, did not fail: failed [$failed]"
done
if ((ok != requests - failed_count || failed_count > 4)); then
  grep -v '^ok ' "$work/results" | sort | uniq -c | sort -rn | head -8 >&2
  fail_with_logs "$ok of $requests answered with their own id; failed: [$failed], at most the victim's 4 expected"
fi
bad_codes=$(awk '$1 == "bad" { print $4 }' "$work/results" | sort -u | tr '\n' ' ')
[[ $bad_codes == "502 " ]] || fail "the victim's requests ended with HTTP $bad_codes, expected 502: $(grep '^bad' "$work/results")"
grep '^bad' "$work/results" | grep -v "failed during the request" && fail "a 502 without the documented reason"
# After the kill the dead replica is still routed to; its refused connections were tried again elsewhere.
retried=$(awk -v t="$killed_at" '$1 == "ok" && $6 > t && $5 > 1' "$work/results" | wc -l)
((retried > 0)) || fail_with_logs "no request after the kill needed a second attempt: the dead replica was never tried"
echo "[step] the victim's $failed_count requests (held: $held_ids; failed: $failed): 502; the other $ok answered 200 with their own id, $retried of them retried after a refused connection"
peak=$(awk '$1 == "ok" { if ($3 > m) m = $3 } END { print m + 0 }' "$work/results")
((peak <= 4)) || fail "a replica had $peak requests at once, over spec.concurrency 4"
replicas_used=$(awk '$1 == "ok" { print $4 }' "$work/results" | sort -u | wc -l)
max_desired=$(sort -n "$work/desired.samples" | tail -1)
((max_desired > 1)) || fail_with_logs "desiredReplicas stayed at ${max_desired:-nothing} under load, expected more than 1"
echo "[step] $requests requests, 50 at a time: $ok answered in ${took} ms; peak per replica $peak; desired up to $max_desired; $replicas_used replica processes answered"

(poll 90 desired_is work 0) || fail_with_logs "desiredReplicas $(desired work) after the load, expected 0"
(poll 60 pods_are work 0) || fail_with_logs "pods after the load: $(live_count work), expected 0"
echo "[step] back to zero after the load"
echo "PASS"
