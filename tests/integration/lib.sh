# Helpers for integration tests written in bash. Sourced by *_test.sh.
# Tests read server addresses only from the environment (build/testenv.env,
# exported by `make test`) and fail, never skip, when one is missing.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# require_env VAR...: fails naming every missing variable.
require_env() {
  local missing=() v
  for v in "$@"; do [[ -n ${!v:-} ]] || missing+=("$v"); done
  ((${#missing[@]} == 0)) && return 0
  # The real node alone may be missing on purpose: up.sh says why in node.busy.
  local why=""
  [[ -z ${SLUICE_ENV_DIR:-} || ! -s $SLUICE_ENV_DIR/node.busy ]] || why="; real node not started: $(cat "$SLUICE_ENV_DIR/node.busy")"
  fail "missing environment: ${missing[*]} (run 'make testenv-up' and source build/testenv.env)$why"
}

# invoke_key_dir: a folder with a fresh invoke master key (what the chart's
# Secret <release>-invoke-key is in a pod), made once per test in $work; pass it
# as --invoke-key-dir to the operator and the gateway.
invoke_key_dir() {
  mkdir -p "$work/invoke-key"
  [[ -s $work/invoke-key/key ]] || head -c 32 /dev/urandom | base64 >"$work/invoke-key/key"
  echo "$work/invoke-key"
}
# A TCP port free on 127.0.0.1 now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# poll TIMEOUT_SECONDS CMD...: retries CMD every 0.5 s until it succeeds; fails on timeout.
poll() {
  local timeout=$1
  shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for: $*"
    sleep 0.5
  done
}

# A name unique to this run, usable as a Kubernetes name, topic, queue or bucket.
unique_name() { echo "$1-$(date +%s)-$$-$RANDOM"; }

# next_cron_minute LEAD_SECONDS: the epoch second of the next whole UTC minute
# at least LEAD_SECONDS away (time to load a Trigger before it fires).
next_cron_minute() {
  local now at
  now=$(date -u +%s)
  at=$((now / 60 * 60 + 60))
  ((now + $1 <= at)) || at=$((at + 60))
  echo "$at"
}

# rearm_late_cron TRIGGER AT: a cron Trigger created at or after its minute AT
# never fires for it (a minute that began before the Trigger existed is not
# its to fire). On a busy machine the set-up before the apply can outlast any
# fixed lead, so such a Trigger is moved to the next minute at least 20 s away.
# Prints the minute the Trigger fires at. Needs `k` (the test's kubectl).
rearm_late_cron() {
  local created at=$2
  created=$(date -u -d "$(k get trigger "$1" -o jsonpath='{.metadata.creationTimestamp}')" +%s)
  if ((created >= at)); then
    at=$(next_cron_minute 20)
    k patch trigger "$1" --type=merge -p "{\"spec\":{\"cron\":{\"schedule\":\"$(daily_cron_schedule "$at")\"}}}" >/dev/null
  fi
  echo "$at"
}

# daily_cron_schedule EPOCH: a daily cron schedule ("M H * * *", UTC) firing at that minute.
daily_cron_schedule() { echo "$(date -u -d "@$1" +%-M) $(date -u -d "@$1" +%-H) * * *"; }

# apply_crds: installs Sluice's CRDs. Tests run in parallel and the first
# `kubectl apply` of two at once can lose the create race (AlreadyExists), so
# it is retried; a real error still fails after 60 s. The wait is retried too:
# on a CRD created a moment ago `status.conditions` is still null, and
# `kubectl wait` fails at once on that ("accessor error: <nil> is of the type
# <nil>") instead of waiting (CI, 2026-12-05: the first test to start lost).
apply_crds() {
  poll 60 bash -c "\"$KUBECTL\" apply -f \"$SLUICE_SOURCE_DIR/crds/\" >/dev/null"
  poll 60 "$KUBECTL" wait --for=condition=Established crd/functions.sluice.io crd/triggers.sluice.io \
    --timeout=60s >/dev/null
}

# own_namespace PREFIX: a namespace of the test's own ($ns, reached with `k`),
# a scratch directory ($work) and a list of background processes ($pids); all
# go when the test exits.
own_namespace() {
  ns=$(unique_name "$1")
  work=$(mktemp -d)
  pids=()
  trap _own_namespace_cleanup EXIT
}
_own_namespace_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
k() { "$KUBECTL" -n "$ns" "$@"; }

# echo_function_yaml NAME [HANDLER [CODE]]: a Function whose Python handler (index.main_handler unless
# HANDLER names another) returns its event (or whose index.py is CODE), as YAML (scaling and triggers
# left to the caller, who may append fields under its spec).
echo_function_yaml() {
  local code=${3:-$'def main_handler(event, context):\n    return event'}
  cat <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: $1}
spec:
  runtime: python3.11
  handler: ${2:-index.main_handler}
  code:
    inline: |
$(sed 's/^/      /' <<<"$code")
YAML
}
