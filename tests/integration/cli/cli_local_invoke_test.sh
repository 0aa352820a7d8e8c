#!/usr/bin/env bash
# `sluice init` + `sluice local` + `sluice invoke --local`: the python
# template runs under sluice-operator --local (started by the CLI, handler.py
# inlined into a staged copy of the directory) and `sluice invoke` through its
# gateway gets the handler's answer: exit 0, the status, headers and body in
# text and --output json; an answer >= 400 (a path no Function has) exits 1.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR

work=$(mktemp -d)
cli_pid=
cleanup() {
  local code=$?
  [[ -n $cli_pid ]] && kill -INT "$cli_pid" 2>/dev/null && wait "$cli_pid" 2>/dev/null
  ((code == 0)) || { echo "--- sluice local log (last 40 lines)"; tail -40 "$work/local.log"; }
  rm -rf "$work"
}
trap cleanup EXIT
sluice() { "$SLUICE_BUILD_DIR/sluice" "$@"; }

sluice init "$work/greeter" >/dev/null
port=$(free_port)
gw_port=$(free_port)
# The binary itself, not the shell function: $! must be sluice, which passes SIGINT on to the operator.
"$SLUICE_BUILD_DIR/sluice" local "$work/greeter" --metrics-bind-address "127.0.0.1:$port" \
  --gateway-listen-address "127.0.0.1:$gw_port" --warm-pool 1 --drain-grace 5 >"$work/local.log" 2>&1 &
cli_pid=$!
routed() { grep -qs "Function default/greeter answers HTTP at http://127.0.0.1:$gw_port/default/greeter$" "$work/local.log"; }
poll 30 routed

rc=0
out=$(sluice invoke greeter --local "http://127.0.0.1:$gw_port" -d '{"name": "sluice"}' --timeout 60 -o json 2>&1) || rc=$?
((rc == 0)) || fail "invoke -o json: exit $rc: $out"
jq -e '.status == 200 and .method == "POST" and .bodyEncoding == "text" and .durationMs >= 0
       and (.headers["x-sluice-replica"] | startswith("process "))' <<<"$out" >/dev/null ||
  fail "invoke -o json: $out"
body=$(jq -r .body <<<"$out")
[[ $(jq -c . <<<"$body") == '{"hello":"sluice"}' ]] || fail "the handler answered: $body"
echo "[figure] sluice invoke --local: HTTP 200 from zero in $(jq .durationMs <<<"$out") ms"

echo '{"name": "stdin"}' >"$work/payload.json"
text=$(sluice invoke greeter --local "http://127.0.0.1:$gw_port" -f - <"$work/payload.json")
[[ $text == "HTTP 200 in "*" ms"$'\n'*"x-sluice-replica: process "* ]] || fail "invoke text: $text"
[[ $(jq -c . <<<"${text##*$'\n\n'}") == '{"hello":"stdin"}' ]] || fail "invoke text body: $text"

rc=0
sluice invoke nobody --local "http://127.0.0.1:$gw_port" >"$work/out" 2>&1 || rc=$?
((rc == 1)) || fail "a Function that does not exist: exit $rc, expected 1"
[[ $(head -1 "$work/out") == "HTTP 404 in "* ]] || fail "a Function that does not exist: $(cat "$work/out")"
echo "PASS: sluice local ran the init'd directory and sluice invoke --local got its handler's answer"
