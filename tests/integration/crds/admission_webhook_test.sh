# The operator's validating admission webhook (issue 16) on the real
# apiserver, the operator a local process serving it on 127.0.0.1 and a
# ValidatingWebhookConfiguration (scoped to this test's namespace) pointing at
# it by url. Checked: before the webhook, the apiserver itself takes a regex
# that does not compile, a cron hour of 24 and inline Python with a
# SyntaxError (the CRD schema cannot see them); the operator makes its CA in the Secret it is given and sets the
# configuration's caBundle to it; then `kubectl apply` refuses each with
# exactly the messages `sluice check` prints, and a good Function and Trigger
# apply; a restarted operator keeps the CA (same caBundle). Figure: the
# webhook's own answer time for one review, over 20 calls.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace webhook
vwc=$ns.sluice.io
cleanup() {
  "$KUBECTL" delete validatingwebhookconfiguration "$vwc" --ignore-not-found >/dev/null 2>&1 || true
  _own_namespace_cleanup
}
trap cleanup EXIT
port=$(free_port)
start_operator() {
  "$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
    --runtime-image sluice/runtime-python:test --webhook-bind-address "127.0.0.1:$port" \
    --webhook-ca-secret "$ns/sluice-webhook-ca" --webhook-dns-name localhost --webhook-configuration "$vwc" \
    >>"$work/operator.log" 2>&1 &
  operator=$!
  pids+=("$operator")
}

mkdir -p "$work/bad" "$work/good"
cat >"$work/bad/regex.yaml" <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: bad-regex, namespace: $ns}
spec:
  runtime: builtin
  pipeline:
  - parse: {format: regex, pattern: '^(?P<level>[A-Z]+ (?P<msg>.*)$'}
YAML
cat >"$work/bad/cron.yaml" <<YAML
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: bad-cron, namespace: $ns}
spec:
  functionRef: {name: good}
  cron: {schedule: "0 24 * * *", timezone: UTC}
YAML
cat >"$work/bad/python.yaml" <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: bad-python, namespace: $ns}
spec:
  code:
    inline: |
      def main_handler(event, context):
          return event +
YAML
cat >"$work/good/good.yaml" <<YAML
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: good, namespace: $ns}
spec:
  runtime: builtin
  pipeline:
  - parse: {format: regex, pattern: '^(?P<level>[A-Z]+) (?P<msg>.*)$'}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: nightly, namespace: $ns}
spec:
  functionRef: {name: good}
  cron: {schedule: "0 23 * * *", timezone: Europe/Paris}
YAML

# What `sluice check` says of each bad file: its message after "Kind ns/name: ".
"$SLUICE_BUILD_DIR/sluice" check "$work/good" >"$work/check-good.out" 2>&1 || fail "sluice check refuses the good objects: $(cat "$work/check-good.out")"
check_message() {
  local out
  out=$("$SLUICE_BUILD_DIR/sluice" check "$work/bad/$1" 2>&1) && fail "sluice check takes $1"
  [[ $(grep -c ": $2 $ns/" <<<"$out") == 1 ]] || fail "sluice check of $1 gave not one error: $out"
  grep ": $2 $ns/" <<<"$out" | sed "s|^[^ ]*: $2 $ns/[a-z-]*: ||"
}
regex_message=$(check_message regex.yaml Function)
cron_message=$(check_message cron.yaml Trigger)
python_message=$(check_message python.yaml Function)
[[ $python_message == 'spec.code.inline: Invalid value: SyntaxError: invalid syntax (index.py, line 2)' ]] ||
  fail "sluice check: $python_message"
[[ $regex_message == 'spec.pipeline[0].parse.pattern: Invalid value: '* ]] || fail "sluice check: $regex_message"
[[ $cron_message == 'spec.cron.schedule: Invalid value: "0 24 * * *": cron schedule "0 24 * * *": hour: 24 is outside 0..23' ]] ||
  fail "sluice check: $cron_message"

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
# Without the webhook the apiserver takes both: only the webhook can refuse them.
for f in regex cron python; do
  "$KUBECTL" apply --dry-run=server -f "$work/bad/$f.yaml" >"$work/dry-$f.out" 2>&1 ||
    fail "the apiserver alone refuses $f.yaml: $(cat "$work/dry-$f.out")"
done

"$KUBECTL" apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: $vwc}
webhooks:
- name: validate.sluice.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 10
  clientConfig: {url: "https://localhost:$port/validate"}
  rules:
  - {apiGroups: [sluice.io], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: [functions, triggers]}
  namespaceSelector:
    matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [$ns]}]
YAML
start_operator

ca_bundle() { "$KUBECTL" get validatingwebhookconfiguration "$vwc" -o jsonpath='{.webhooks[0].clientConfig.caBundle}'; }
poll 60 bash -c "[[ -n \$(\"$KUBECTL\" get validatingwebhookconfiguration \"$vwc\" -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]]"
ca_bundle | base64 -d >"$work/bundle.pem"
k get secret sluice-webhook-ca -o jsonpath='{.data.ca\.crt}' | base64 -d >"$work/ca.crt"
[[ $(openssl x509 -in "$work/bundle.pem" -noout -fingerprint -sha256) == $(openssl x509 -in "$work/ca.crt" -noout -fingerprint -sha256) ]] ||
  fail "the caBundle is not the CA of Secret sluice-webhook-ca"
[[ $(grep -c 'BEGIN CERTIFICATE' "$work/bundle.pem") == 1 ]] || fail "the caBundle holds $(grep -c 'BEGIN CERTIFICATE' "$work/bundle.pem") certificates, expected the one CA"

# The refusals, word for word what sluice check said.
refused_with() {
  if "$KUBECTL" apply -f "$work/bad/$1.yaml" >"$work/apply-$1.out" 2>&1; then fail "kubectl apply took $1.yaml"; fi
  grep -qF "admission webhook \"validate.sluice.io\" denied the request: $2" "$work/apply-$1.out" ||
    fail "$1.yaml refused otherwise: $(cat "$work/apply-$1.out") (expected: $2)"
}
refused_with regex "$regex_message"
refused_with cron "$cron_message"
refused_with python "$python_message"
"$KUBECTL" apply -f "$work/good/good.yaml" >"$work/apply-good.out" 2>&1 || fail "the good objects were refused: $(cat "$work/apply-good.out")"
[[ $(k get functions,triggers -o name | sort | tr '\n' ' ') == "function.sluice.io/good trigger.sluice.io/nightly " ]] ||
  fail "stored: $(k get functions,triggers -o name)"
# An update that breaks the spec is refused too.
if k patch trigger nightly --type=merge -p '{"spec":{"cron":{"timezone":"Mars/Olympus"}}}' >"$work/patch.out" 2>&1; then
  fail "a patch to an unknown time zone was taken"
fi
grep -qF 'spec.cron.timezone: Invalid value: "Mars/Olympus": unknown time zone "Mars/Olympus"' "$work/patch.out" ||
  fail "the patch was refused otherwise: $(cat "$work/patch.out")"

# A restarted operator serves a certificate of the same CA: the caBundle stays.
before=$(ca_bundle)
kill "$operator"
wait "$operator" 2>/dev/null || true
start_operator
served_by_ca() {
  curl -s --cacert "$work/ca.crt" --resolve "localhost:$port:127.0.0.1" -X POST -d '{}' "https://localhost:$port/validate" |
    grep -q 'AdmissionReview: apiVersion'
}
poll 30 served_by_ca
[[ $(ca_bundle) == "$before" ]] || fail "the caBundle changed across a restart"

# The webhook's own answer time for one review (what each apply waits for, beside the network).
review=$(jq -n --rawfile f "$work/good/good.yaml" --arg ns "$ns" '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
  request: {uid: "u1", operation: "CREATE", object: {apiVersion: "sluice.io/v1alpha1", kind: "Function",
  metadata: {name: "good", namespace: $ns}, spec: {runtime: "builtin", pipeline: [{parse: {format: "regex", pattern: "^(?P<l>[A-Z]+)"}}]}}}}')
times=()
for _ in $(seq 20); do
  out=$(curl -s --cacert "$work/ca.crt" --resolve "localhost:$port:127.0.0.1" -X POST -H 'Content-Type: application/json' \
    -d "$review" -w '\n%{time_total}' "https://localhost:$port/validate")
  [[ $(head -1 <<<"$out" | jq -r .response.allowed) == true ]] || fail "the webhook answered: $out"
  times+=("$(tail -1 <<<"$out")")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 10p)
echo "[figure] admission review over HTTPS (new TLS connection each): median $(awk -v t="$median" 'BEGIN{printf "%.1f", t*1000}') ms of 20"
echo "PASS: the webhook refuses what sluice check refuses, with its messages; good objects apply; caBundle kept across a restart"
