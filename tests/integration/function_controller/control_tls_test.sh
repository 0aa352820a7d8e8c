# TLS on the replicas' control port (issue 15) on the real apiserver + KWOK.
# The operator, given --control-ca-secret (the chart's way), makes its CA in
# that Secret (ca.crt, ca.key), issues the namespace a serving certificate for sluice-replica.<ns> into the
# Secret sluice-control-token (tls.crt, tls.key) and gives warm pods the pair
# as SLUICE_CONTROL_TLS_CERT/KEY, with HTTPS probes. A real `sluice-runtime
# --warm` stands in for the warm pod with that pair, bound to the pod's
# loopback IP. Checked: the operator adopts it over HTTPS /specialize (it
# verifies the CA and the name, not the IP); plain HTTP, a client trusting
# another CA and one checking the IP get nothing from the control port; curl
# trusting the CA and resolving the certificate's name to the pod IP does;
# the data port stays plain HTTP; a restarted operator reuses the CA; a
# deleted CA Secret comes back with the same CA; replicas and warm pods whose
# control token rotated out are replaced, rolling, never below the desired count;
# a new invoke master key is followed without a restart, and pods accepting only
# the dropped one are replaced the same way.
source "$(dirname "$0")/../lib.sh"
require_env KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

own_namespace controltls
set_desired() { k patch fn echo --subresource=status --type=merge -p "{\"status\":{\"desiredReplicas\":$1}}" >/dev/null; }
pods_with() { k get pods -l "$1" -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name' | sort; }
warm_ready() {
  [[ $(k get pods -l sluice.io/role=warm -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null and .status.podIP != null and
         any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length') -ge 1 ]]
}
replicas_is() { [[ $(pods_with sluice.io/function=echo | grep -c .) -eq $1 ]]; }
start_operator() {
  "$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$KUBECONFIG" --watch-namespace "$ns" \
    --runtime-image sluice/runtime-python:test --invoke-key-dir "$(invoke_key_dir)" --control-ca-secret "$ns/sluice-control-ca" \
    >>"$work/operator.log" 2>&1 &
  pids+=($!)
}

apply_crds
"$KUBECTL" create namespace "$ns" >/dev/null
start_operator
k apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: echo}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return "adopted:" + context.function_name
  scaling:
    warmPool: {size: 1}
YAML

poll 120 warm_ready
name=sluice-replica.$ns
secret_field() { k get secret "${2:-sluice-control-token}" -o jsonpath="{.data.$1}" | base64 -d; }
mkdir -p "$work/ca"
secret_field 'ca\.crt' sluice-control-ca >"$work/ca/ca.crt"
openssl x509 -in "$work/ca/ca.crt" -noout -ext basicConstraints | grep -q "CA:TRUE" || fail "sluice-control-ca holds no CA certificate"
openssl pkey -in <(secret_field 'ca\.key' sluice-control-ca) -noout 2>/dev/null || fail "sluice-control-ca holds no CA key"
secret_field 'tls\.crt' >"$work/tls.crt"
secret_field 'tls\.key' >"$work/tls.key"
openssl verify -CAfile "$work/ca/ca.crt" "$work/tls.crt" >/dev/null || fail "tls.crt is not signed by the operator's CA"
[[ $(openssl x509 -in "$work/tls.crt" -noout -ext subjectAltName | tail -1 | tr -d ' ') == "DNS:$name" ]] ||
  fail "tls.crt names $(openssl x509 -in "$work/tls.crt" -noout -ext subjectAltName)"
days_left=$((($(date -d "$(openssl x509 -in "$work/tls.crt" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 86400))
((days_left >= 89 && days_left <= 90)) || fail "the serving certificate is valid for $days_left days, not 90"

warm=$(pods_with sluice.io/role=warm | head -1)
env_names=$(k get pod "$warm" -o json | jq -r '.spec.containers[0].env[] | select(.valueFrom.secretKeyRef.name == "sluice-control-token") | .name + "=" + .valueFrom.secretKeyRef.key' | sort | tr '\n' ' ')
[[ $env_names == "SLUICE_CONTROL_TLS_CERT=tls.crt SLUICE_CONTROL_TLS_KEY=tls.key SLUICE_INVOKE_TOKEN=invoke SLUICE_SPECIALIZE_TOKEN=token " ]] ||
  fail "warm pod $warm takes from the token Secret: $env_names"
[[ $(k get pod "$warm" -o jsonpath='{.spec.containers[0].readinessProbe.httpGet.scheme} {.spec.containers[0].livenessProbe.httpGet.scheme}') == "HTTPS HTTPS" ]] ||
  fail "warm pod $warm probes its control port without TLS"

ip=$(k get pod "$warm" -o jsonpath='{.status.podIP}')
[[ $ip == 127.* ]] || fail "pod $warm has IP $ip, not on this machine (KWOK must allocate loopback IPs)"
SLUICE_SPECIALIZE_TOKEN=$(secret_field token) SLUICE_INVOKE_TOKEN=$(secret_field invoke) \
  SLUICE_CONTROL_TLS_CERT=$(cat "$work/tls.crt") SLUICE_CONTROL_TLS_KEY=$(cat "$work/tls.key") \
  "$SLUICE_BUILD_DIR/sluice-runtime" --warm --control-bind-address "$ip:8090" --data-bind-address "$ip:8080" \
  >"$work/runtime.log" 2>&1 &
pids+=($!)
https_ok() { curl -sf --cacert "$work/ca/ca.crt" --resolve "$name:8090:$ip" "https://$name:8090/$1" -o /dev/null; }
poll 60 https_ok readyz
echo "[step] the stand-in serves HTTPS on $ip:8090 as $name"

# Plain HTTP: the TLS server reads no request from it (no HTTP status at all).
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$ip:8090/readyz" || true)
[[ $code == 000 ]] || fail "plain HTTP to the control port answered $code"
# A client trusting another CA, and one checking the address rather than the name: refused (curl 60).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/other.key" \
  -out "$work/other.crt" -subj /CN=other -days 1 2>/dev/null
rc=0
curl -s -o /dev/null --cacert "$work/other.crt" --resolve "$name:8090:$ip" "https://$name:8090/readyz" || rc=$?
[[ $rc == 60 ]] || fail "a client trusting another CA got curl exit $rc, not 60 (certificate refused)"
rc=0
curl -s -o /dev/null --cacert "$work/ca/ca.crt" "https://$ip:8090/readyz" || rc=$?
[[ $rc == 60 ]] || fail "a client checking the pod IP got curl exit $rc, not 60 (name mismatch)"
# /specialize over HTTPS without the token is still refused: TLS adds to the token, never replaces it.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/ca/ca.crt" --resolve "$name:8090:$ip" \
  -X POST "https://$name:8090/specialize" -d '{}')
[[ $code == 401 ]] || fail "/specialize over HTTPS without the token answered $code"
https_ok metrics || fail "/metrics is not served over HTTPS"

started=$(date +%s%N)
set_desired 1
poll 120 replicas_is 1
adopted_ms=$((($(date +%s%N) - started) / 1000000))
replica=$(pods_with sluice.io/function=echo)
[[ $replica == "$warm" ]] || fail "replica $replica is not the warm pod $warm: adoption over HTTPS failed ($(grep -i adopt "$work/operator.log" | tail -3))"
grep -q "specialized as function echo" "$work/runtime.log" || fail "the stand-in was not specialized: $(tail -5 "$work/runtime.log")"
# The data port is plain HTTP, as before (gateway -> replica TLS is not part of this).
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Sluice-Invoke-Token: $(secret_field invoke)" "http://$ip:8080/invoke" -d x)
[[ $code == 404 ]] || fail "/invoke on the plain data port answered $code"
echo "[figure] warm adoption over HTTPS /specialize: $replica adopted ${adopted_ms} ms after desiredReplicas was set"

# A restarted operator reuses the CA (and so the certificates replicas hold): drain over HTTPS still works.
ca_before=$(secret_field 'ca\.crt' sluice-control-ca | sha256sum)
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
start_operator
poll 60 bash -c "[[ \$(grep -c 'sluice-operator .*: using' '$work/operator.log') -ge 2 ]]"
set_desired 0
poll 120 replicas_is 0
poll 30 grep -q "draining: taking no new events" "$work/runtime.log"
[[ $(secret_field 'tls\.crt') == "$(cat "$work/tls.crt")" ]] || fail "the restarted operator reissued a valid certificate"
[[ $(secret_field 'ca\.crt' sluice-control-ca | sha256sum) == "$ca_before" ]] || fail "the restarted operator made a new CA"
echo "[step] restarted operator kept the CA and scaled the replica down (drain over HTTPS)"

# The CA Secret deleted: the operator stores the CA in use again (a new one would strand every replica).
k delete secret sluice-control-ca >/dev/null
ca_back() { [[ $(secret_field 'ca\.crt' sluice-control-ca 2>/dev/null | sha256sum) == "$ca_before" ]]; }
poll 40 ca_back
echo "[step] the deleted CA Secret came back with the same CA"

# Every pod names the control token (by id) and the certificate it starts with; once the token has
# rotated out (two rotations) or the certificate no longer verifies, the pod is replaced, rolling.
token_id() { printf %s "$(secret_field token)" | openssl dgst -sha256 -hmac "sluice token id" | awk '{print substr($NF, 1, 16)}'; }
ids_of() { k get pods -l "$1" -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.annotations["sluice.io/control-token-id"]' | sort -u; }
set_desired 2
poll 120 replicas_is 2
uids_with() { k get pods -l "$1" -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.uid' | sort; }
first_pods=$(uids_with app.kubernetes.io/managed-by=sluice) # by uid: a replacement may take a freed name
first_replicas=$(pods_with sluice.io/function=echo)
[[ $(ids_of app.kubernetes.io/managed-by=sluice) == "$(token_id)" ]] || fail "pods name token ids $(ids_of app.kubernetes.io/managed-by=sluice), not $(token_id)"
for pod in $first_replicas; do
  [[ $(k get pod "$pod" -o json | jq -r '.metadata.annotations["sluice.io/control-certificate"]') == "$(secret_field 'tls\.crt')" ]] ||
    fail "pod $pod does not name the serving certificate it starts with"
done
token_changed() { [[ $(secret_field token) != "$1" ]]; }
rotate() {
  local before
  before=$(secret_field token)
  k annotate secret sluice-control-token sluice.io/rotate=now >/dev/null
  poll 30 token_changed "$before"
}
rotate
rotate
current=$(token_id)
fewest=2
rolled() {
  local live
  live=$(pods_with sluice.io/function=echo | grep -c . || true)
  ((live < fewest)) && fewest=$live
  [[ -z $(comm -12 <(echo "$first_pods") <(uids_with app.kubernetes.io/managed-by=sluice)) && $live -eq 2 &&
    $(pods_with sluice.io/role=warm | grep -c . || true) -eq 1 &&
    $(ids_of app.kubernetes.io/managed-by=sluice) == "$current" ]]
}
poll 120 rolled
((fewest >= 2)) || fail "the rollout left $fewest replicas, below the 2 desired"
replaced=$(grep -c "replacing pod .*: its control token .* is neither the current nor the previous one" "$work/operator.log" || true)
((replaced >= 3)) || fail "the operator logged $replaced replacements for a rotated-out token, not 2 replicas + 1 warm pod"
echo "[step] two rotations later every replica and warm pod was replaced by one holding token $current, never below 2 replicas"

# A new invoke master key, without restarting the operator: the folder (a mounted Secret in a pod)
# gets key=new, previous=old; the namespace's Secret follows. Once previous is dropped, the pods
# that accept only the old key's token are replaced, rolling.
key_dir=$(invoke_key_dir)
old_key=$(cat "$key_dir/key")
invoke_of() { printf %s "sluice-invoke:$ns" | openssl dgst -sha256 -hmac "$1" | awk '{print $NF}'; }
id_of() { printf %s "$1" | openssl dgst -sha256 -hmac "sluice token id" | awk '{print substr($NF, 1, 16)}'; }
new_key=$(head -c 32 /dev/urandom | base64)
echo "$old_key" >"$key_dir/previous.new" && mv "$key_dir/previous.new" "$key_dir/previous"
echo "$new_key" >"$key_dir/key.new" && mv "$key_dir/key.new" "$key_dir/key"
invoke_is() { [[ $(secret_field invoke) == "$1" ]]; }
poll 60 invoke_is "$(invoke_of "$new_key"),$(invoke_of "$old_key")"
before_drop=$(uids_with app.kubernetes.io/managed-by=sluice)
rm "$key_dir/previous"
poll 60 invoke_is "$(invoke_of "$new_key")"
new_id=$(id_of "$(invoke_of "$new_key")")
fewest=2
all_accept_new() {
  local live
  live=$(pods_with sluice.io/function=echo | grep -c . || true)
  ((live < fewest)) && fewest=$live
  [[ $live -eq 2 && $(pods_with sluice.io/role=warm | grep -c . || true) -eq 1 &&
    -z $(k get pods -l app.kubernetes.io/managed-by=sluice -o json |
      jq -r --arg id "$new_id" '.items[] | select(.metadata.deletionTimestamp == null) |
        select((.metadata.annotations["sluice.io/invoke-token-ids"] // "") | split(",") | index($id) | not) | .metadata.name') ]]
}
poll 120 all_accept_new
((fewest >= 2)) || fail "the key change left $fewest replicas, below the 2 desired"
[[ -z $(comm -12 <(echo "$before_drop") <(uids_with app.kubernetes.io/managed-by=sluice)) ]] ||
  fail "pods that accept only the dropped key's token remain"
grep -q "invoke master keys changed" "$work/operator.log" || fail "the operator did not log the key change"
echo "[step] a new invoke master key took effect without a restart; the pods accepting only the old one were replaced, never below 2 replicas"
echo "PASS"
