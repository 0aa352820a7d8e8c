#!/usr/bin/env bash
# `sluice-operator --local DIR`: a manifest broken while running is reported
# with file, line and field (the CRD's message), while the other Functions keep
# running; a YAML syntax error names its line too; Ctrl-C stops everything.
source "$(dirname "$0")/../lib.sh"
require_env SLUICE_SOURCE_DIR SLUICE_BUILD_DIR

work=$(mktemp -d)
op_pid=
cleanup() {
  local code=$?
  [[ -n $op_pid ]] && kill -KILL "$op_pid" 2>/dev/null || true
  ((code == 0)) || { echo "--- operator log (last 40 lines)"; tail -40 "$work/operator.log"; }
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/manifests" "$work/in-a" "$work/out-a" "$work/in-b" "$work/out-b"

manifest() { # NAME MAX_REPLICAS
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata:
  name: $1
spec:
  runtime: builtin
  pipeline:
    - decompress: {format: gzip}
  outputs:
    - dir: {path: $work/out-$1}
  scaling:
    maxReplicas: $2
    cooldownSeconds: 2
    pollingIntervalSeconds: 1
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata:
  name: $1-files
spec:
  functionRef: {name: $1}
  objectStore: {type: dir, path: $work/in-$1, targetObjectCount: 2}
YAML
}
drop() { # DIR NAME LINES
  seq 1 "$3" | sed "s/^/$2 line /" | gzip >"$1/.$2.tmp" && mv "$1/.$2.tmp" "$1/$2.gz"
}
files_in() { find "$1" -maxdepth 1 -type f ! -name '.*' | wc -l; }
has_at_least() { (($(files_in "$1") >= $2)); }

manifest a 2 >"$work/manifests/a.yaml"
manifest b 2 >"$work/manifests/b.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SLUICE_BUILD_DIR/sluice-operator" --local "$work/manifests" --metrics-bind-address "127.0.0.1:$port" \
  --gateway-listen-address 127.0.0.1:0 --warm-pool 1 --drain-grace 5 >"$work/operator.log" 2>&1 &
op_pid=$!

drop "$work/in-a" a1 10
drop "$work/in-b" b1 10
poll 60 has_at_least "$work/out-a" 10
poll 60 has_at_least "$work/out-b" 10

# b.yaml breaks twice: a schema error, then a YAML syntax error.
manifest b 0 >"$work/manifests/.b.tmp" && mv "$work/manifests/.b.tmp" "$work/manifests/b.yaml"
expected="$work/manifests/b.yaml:12: Function default/b: spec.scaling.maxReplicas: Invalid value: 0: spec.scaling.maxReplicas in body should be greater than or equal to 1"
found_error() { grep -qF "$expected" "$work/operator.log"; }
poll 20 found_error
drop "$work/in-a" a2 7
poll 60 has_at_least "$work/out-a" 17

printf 'apiVersion: sluice.io/v1alpha1\nkind: Function\nmetadata:\n  name: [b\n' >"$work/manifests/.b.tmp"
mv "$work/manifests/.b.tmp" "$work/manifests/b.yaml"
found_syntax() { grep -qE "$work/manifests/b.yaml:[0-9]+: invalid YAML: line [0-9]+" "$work/operator.log"; }
poll 20 found_syntax
drop "$work/in-a" a3 5
poll 60 has_at_least "$work/out-a" 22
# b kept its last good definition and still runs.
drop "$work/in-b" b2 4
poll 60 has_at_least "$work/out-b" 14

# Ctrl-C: every replica drains and no child is left.
children=$(ps -o pid= --ppid "$op_pid" | tr '\n' ' ')
[[ -n ${children// /} ]] || fail "no replica processes were running"
kill -INT "$op_pid"
wait "$op_pid" || fail "the operator exited with $? after SIGINT"
op_pid=
for pid in $children; do
  [[ ! -e /proc/$pid ]] || fail "process $pid outlived the operator"
done
[[ $(files_in "$work/out-a") == 22 && $(files_in "$work/out-b") == 14 ]] ||
  fail "outputs: a $(files_in "$work/out-a") (want 22), b $(files_in "$work/out-b") (want 14)"
echo "PASS: errors named file, line and field; the other Function kept running; SIGINT left no process"
