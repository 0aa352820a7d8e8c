# The chart's validating admission webhook on the real node (issue 16): the
# apiserver reaches the operator pods through the webhook Service (endpoint
# routing: tests/env's apiserver runs with --enable-aggregator-routing) over
# TLS with the CA the operator keeps in <release>-webhook-ca and set as the
# ValidatingWebhookConfiguration's caBundle. A Function whose mask regex does
# not compile and a cron Trigger with an unknown time zone are refused by
# `kubectl apply` with the message `sluice check` gives; a good Function applies.
# Figures: the apiserver's own measure of its calls to the webhook, and the
# wall time of one `kubectl apply --dry-run=server` through it, median of 5.
source "$(dirname "$0")/../lib.sh"
e2e_work
good=admitted-$RANDOM
e2e_cleanup() { k delete fn "$good" --ignore-not-found --wait=false >/dev/null 2>&1; }
vwc=$E2E_RELEASE.$E2E_SYSTEM_NS.sluice.io

# The chart's configuration, its caBundle set by the operator to its CA.
[[ $("$KUBECTL" get validatingwebhookconfiguration "$vwc" -o jsonpath='{.webhooks[0].failurePolicy}') == Fail ]] ||
  fail "ValidatingWebhookConfiguration $vwc is missing or not failurePolicy Fail"
bundle_set() { [[ -n $("$KUBECTL" get validatingwebhookconfiguration "$vwc" -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]]; }
poll 60 bundle_set
"$KUBECTL" get validatingwebhookconfiguration "$vwc" -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | base64 -d >"$work/bundle.pem"
ksys get secret "$E2E_RELEASE-webhook-ca" -o jsonpath='{.data.ca\.crt}' | base64 -d >"$work/ca.crt"
[[ $(openssl x509 -in "$work/bundle.pem" -noout -fingerprint -sha256) == $(openssl x509 -in "$work/ca.crt" -noout -fingerprint -sha256) ]] ||
  fail "the caBundle is not the CA in Secret $E2E_RELEASE-webhook-ca"

mkdir -p "$work/bad"
cat >"$work/bad/mask.yaml" <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: bad-mask, namespace: $E2E_NS}
spec:
  runtime: builtin
  pipeline:
  - mask: {field: msg, pattern: '[0-9'}
YAML
cat >"$work/bad/zone.yaml" <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: bad-zone, namespace: $E2E_NS}
spec:
  functionRef: {name: $good}
  cron: {schedule: "@daily", timezone: Europe/Atlantis}
YAML
refused_like_check() {
  local expected
  # sluice check exits 2 on these (pipefail): its output is what counts.
  expected=$({ "$SLUICE_BUILD_DIR/sluice" check "$work/bad/$1.yaml" 2>&1 || true; } | grep ": $2 $E2E_NS/" |
    sed "s|^[^ ]*: $2 $E2E_NS/[a-z-]*: ||")
  [[ -n $expected ]] || fail "sluice check found nothing wrong in $1.yaml"
  if k apply -f "$work/bad/$1.yaml" >"$work/$1.out" 2>&1; then fail "kubectl apply took $1.yaml"; fi
  grep -qF "admission webhook \"validate.sluice.io\" denied the request: $expected" "$work/$1.out" ||
    fail "$1.yaml refused otherwise: $(cat "$work/$1.out") (sluice check: $expected)"
  echo "[step] $1.yaml refused: $expected"
}
refused_like_check mask Function
refused_like_check zone Trigger
[[ -z $(k get fn bad-mask --ignore-not-found -o name) && -z $(k get trigger bad-zone --ignore-not-found -o name) ]] ||
  fail "a refused object was stored"

{
  echo_function_yaml "$good"
  echo "  scaling: {minReplicas: 0, maxReplicas: 1}"
} >"$work/good.yaml"
k apply -f "$work/good.yaml" >"$work/good.out" 2>&1 || fail "the good Function was refused: $(cat "$work/good.out")"
# The apiserver's own count of its calls to the webhook (allowed CREATEs): sum and count.
webhook_calls() {
  "$KUBECTL" get --raw /metrics | awk '/^apiserver_admission_webhook_admission_duration_seconds_(sum|count)\{/ &&
    /name="validate.sluice.io"/ && /operation="CREATE"/ && /rejected="false"/ { v[$0 ~ /_sum/ ? "s" : "c"] += $2 }
    END { printf "%.6f %d\n", v["s"], v["c"] }'
}
read -r sum_before count_before < <(webhook_calls)
times=()
for i in 1 2 3 4 5; do
  # A new name each time: an apply that changes nothing sends nothing to admit.
  sed "s/name: $good/name: $good-dry-$i/" "$work/good.yaml" >"$work/dry.yaml"
  started=$(date +%s%N)
  k apply --dry-run=server -f "$work/dry.yaml" >/dev/null || fail "a dry-run apply of the good Function failed"
  times+=($((($(date +%s%N) - started) / 1000000)))
done
read -r sum_after count_after < <(webhook_calls)
((count_after - count_before >= 5)) || fail "the apiserver counted $((count_after - count_before)) webhook calls for 5 dry-run applies"
echo "[figure] the apiserver's call to the webhook (TLS to a pod, review, answer): mean $(awk -v s="$sum_after" -v b="$sum_before" \
  -v n=$((count_after - count_before)) 'BEGIN{printf "%.1f", (s - b) * 1000 / n}') ms over $((count_after - count_before)) calls"
echo "[figure] kubectl apply --dry-run=server through the webhook: median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p) ms of 5"
echo "PASS: the webhook refuses a bad regex and time zone as sluice check does; a good Function applies"
