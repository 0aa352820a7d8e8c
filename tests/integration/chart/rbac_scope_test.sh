#!/usr/bin/env bash
# The chart's RBAC on the real apiserver. With operator.watchNamespace set to
# two namespaces, the rendered Roles/RoleBindings (applied as rendered) give
# the operator's ServiceAccount exactly its verbs in those namespaces and
# nothing anywhere else: `kubectl auth can-i get secrets -n other` is "no",
# as is every cluster-wide list; the gateway's ServiceAccount only reads.
# The real operator under that ServiceAccount with --watch-namespace a,b runs
# the Functions of both namespaces and none elsewhere, with nothing refused.
# Without watchNamespace the ClusterRole grants the same verbs everywhere.
# The NetworkPolicy renders into each watched namespace and is accepted.
source "$(dirname "$0")/../lib.sh"
require_env HELM KUBECTL KUBECONFIG SLUICE_SOURCE_DIR SLUICE_BUILD_DIR

chart=$SLUICE_SOURCE_DIR/charts/sluice
rel=rbac-$RANDOM
sys=$(unique_name rbac-sys)
a=$(unique_name rbac-a)
b=$(unique_name rbac-b)
other=$(unique_name rbac-other)
work=$(mktemp -d)
operator_pid=""
cleanup() {
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  "$KUBECTL" delete -f "$work/scoped.yaml" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  "$KUBECTL" delete -f "$work/cluster.yaml" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  "$KUBECTL" delete namespace "$sys" "$a" "$b" "$other" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export HELM_CONFIG_HOME=$work/config HELM_CACHE_HOME=$work/cache HELM_DATA_HOME=$work/data
for n in "$sys" "$a" "$b" "$other"; do "$KUBECTL" create namespace "$n" >/dev/null; done

render() { "$HELM" template "$rel" "$chart" -n "$sys" --kube-version 1.33.0 "$@"; }
# Only the RBAC objects, the ServiceAccounts and the NetworkPolicies: no workload is needed to ask can-i.
rbac_only() {
  python3 -c '
import sys, yaml
keep = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "NetworkPolicy"}
docs = [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] in keep]
print(yaml.safe_dump_all(docs))'
}
render --set "operator.watchNamespace={$a,$b}" --set networkPolicy.enabled=true | rbac_only >"$work/scoped.yaml"
# The one cluster-scoped grant: the admission webhook's own ValidatingWebhookConfiguration, by name.
cluster_scoped=$(python3 -c '
import sys, yaml
print(" ".join(sorted(d["kind"] + "/" + d["metadata"]["name"] for d in yaml.safe_load_all(open(sys.argv[1]))
                      if d and d["kind"].startswith("Cluster"))))' "$work/scoped.yaml")
[[ $cluster_scoped == "ClusterRole/$rel-sluice-webhook ClusterRoleBinding/$rel-sluice-webhook" ]] ||
  fail "watchNamespace set, yet cluster-scoped RBAC other than the webhook's was rendered: $cluster_scoped"
"$KUBECTL" apply -f "$work/scoped.yaml" >/dev/null || fail "the rendered RBAC was refused"

operator=system:serviceaccount:$sys:$rel-sluice
gateway=system:serviceaccount:$sys:$rel-sluice-gateway
failures=0
# can WHO EXPECTED VERB RESOURCE[/SUBRESOURCE] [NAMESPACE]: `kubectl auth can-i`, except for
# metrics.k8s.io, which this apiserver does not serve (no metrics-server), so kubectl cannot resolve
# it: that one is asked as the SubjectAccessReview can-i would send.
can() {
  local who=$1 want=$2 verb=$3 resource=${4%%/*} got scope=(--all-namespaces)
  local sub=""
  [[ $4 == */* ]] && sub=${4#*/}
  [[ -n ${5:-} ]] && scope=(-n "$5")
  if [[ $resource == *.metrics.k8s.io ]]; then
    got=$("$KUBECTL" create -o jsonpath='{.status.allowed}' -f - <<JSON 2>/dev/null
{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
 "spec": {"user": "$who", "groups": ["system:serviceaccounts"],
          "resourceAttributes": {"namespace": "${5:-}", "verb": "$verb", "group": "metrics.k8s.io", "resource": "${resource%%.*}"}}}
JSON
    )
    [[ $got == true ]] && got=yes || got=no
  else
    got=$("$KUBECTL" auth can-i "$verb" "$resource" ${sub:+--subresource="$sub"} "${scope[@]}" --as="$who" 2>/dev/null || true)
  fi
  if [[ $got == "$want" ]]; then
    echo "ok   ${who##*:} $verb $4 ${5:-(all namespaces)}: $got"
  else
    echo "FAIL ${who##*:} $verb $4 ${5:-(all namespaces)}: $got, expected $want"
    failures=$((failures + 1))
  fi
}
for n in "$a" "$b"; do
  for vr in "get secrets" "create secrets" "list pods" "watch pods" "create pods" "patch pods" "delete pods" \
    "list functions.sluice.io" "watch triggers.sluice.io" "patch functions.sluice.io/status" \
    "patch triggers.sluice.io/status" "update functions.sluice.io/finalizers" "create configmaps" \
    "patch configmaps" "create events" "list pods.metrics.k8s.io"; do
    can "$operator" yes $vr "$n"
  done
  for vr in "list secrets" "watch secrets" "get functions.sluice.io" "delete configmaps" "update pods"; do
    can "$operator" no $vr "$n"
  done
  can "$gateway" yes list functions.sluice.io "$n"
  can "$gateway" yes watch pods "$n"
  can "$gateway" no get secrets "$n"
  [[ $("$KUBECTL" -n "$n" get networkpolicy -o name) == "networkpolicy.networking.k8s.io/$rel-sluice-functions" ]] ||
    { echo "FAIL no NetworkPolicy in $n"; failures=$((failures + 1)); }
done
for vr in "get secrets" "create pods" "list functions.sluice.io" "create events"; do can "$operator" no $vr "$other"; done
can "$operator" no get secrets "$sys"
# ... except its control CA's Secret, by name (runtime.controlTls).
for verb in get update; do
  got=$("$KUBECTL" auth can-i "$verb" "secrets/$rel-sluice-control-ca" -n "$sys" --as="$operator" 2>/dev/null || true)
  [[ $got == yes ]] && echo "ok   operator $verb its control CA Secret: yes" ||
    { echo "FAIL operator $verb secrets/$rel-sluice-control-ca $sys: $got, expected yes"; failures=$((failures + 1)); }
done
# ... and its admission webhook's CA Secret, and its one ValidatingWebhookConfiguration (caBundle).
for verb in get update; do
  got=$("$KUBECTL" auth can-i "$verb" "secrets/$rel-sluice-webhook-ca" -n "$sys" --as="$operator" 2>/dev/null || true)
  [[ $got == yes ]] && echo "ok   operator $verb its webhook CA Secret: yes" ||
    { echo "FAIL operator $verb secrets/$rel-sluice-webhook-ca $sys: $got, expected yes"; failures=$((failures + 1)); }
done
for verb in get patch; do
  got=$("$KUBECTL" auth can-i "$verb" "validatingwebhookconfigurations/$rel-sluice.$sys.sluice.io" --as="$operator" 2>/dev/null || true)
  [[ $got == yes ]] && echo "ok   operator $verb its ValidatingWebhookConfiguration: yes" ||
    { echo "FAIL operator $verb its ValidatingWebhookConfiguration: $got, expected yes"; failures=$((failures + 1)); }
done
can "$operator" no patch validatingwebhookconfigurations.admissionregistration.k8s.io
can "$operator" no list validatingwebhookconfigurations.admissionregistration.k8s.io
can "$operator" yes update leases.coordination.k8s.io "$sys"
can "$operator" no list pods
can "$operator" no list functions.sluice.io
can "$operator" no list nodes
can "$gateway" no list pods "$other"
# The real operator under that ServiceAccount, told both namespaces (--watch-namespace a,b as the
# chart passes it): it runs the Functions of both, leaves the other namespace's alone, nothing refused.
"$KUBECTL" config view --minify --raw --flatten >"$work/sa.kubeconfig"
KUBECONFIG=$work/sa.kubeconfig "$KUBECTL" config set-credentials operator-sa \
  --token="$("$KUBECTL" -n "$sys" create token "$rel-sluice" --duration=10m)" >/dev/null
KUBECONFIG=$work/sa.kubeconfig "$KUBECTL" config set-context --current --user=operator-sa >/dev/null
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$work/sa.kubeconfig" --watch-namespace "$a,$b" \
  --runtime-image sluice/runtime-python:test >"$work/operator.log" 2>&1 &
operator_pid=$!
for n in "$a" "$b" "$other"; do
  "$KUBECTL" -n "$n" apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: echo}
spec:
  code: {inline: "def main_handler(event, context): return event"}
  scaling: {minReplicas: 1}
YAML
done
replica_in() { [[ -n $("$KUBECTL" -n "$1" get pods -l sluice.io/function=echo -o name) ]]; }
(poll 90 replica_in "$a") && (poll 90 replica_in "$b") ||
  fail "the operator did not run the Functions of both namespaces: $(tail -5 "$work/operator.log")"
kill "$operator_pid" && wait "$operator_pid" 2>/dev/null || true
[[ -z $("$KUBECTL" -n "$other" get pods -o name) ]] || fail "the operator made pods in $other, which it does not watch"
if grep -Eqi 'forbidden|HTTP 403' "$work/operator.log"; then
  fail "a request was refused: $(grep -Ei -m3 'forbidden|HTTP 403' "$work/operator.log")"
fi
echo "ok   the operator under the namespaced RBAC runs the Functions of $a and $b, none in $other, nothing refused"
"$KUBECTL" delete -f "$work/scoped.yaml" --wait=false >/dev/null

# All namespaces: ClusterRoles, the same verbs everywhere.
render | rbac_only >"$work/cluster.yaml"
"$KUBECTL" apply -f "$work/cluster.yaml" >/dev/null || fail "the all-namespaces RBAC was refused"
can "$operator" yes get secrets "$other"
can "$operator" yes list pods
can "$operator" no list secrets
can "$gateway" yes list functions.sluice.io

((failures == 0)) || fail "$failures RBAC checks failed"
echo "PASS: with watchNamespace the operator's RBAC ends at its namespaces (can-i get secrets -n other: no); ClusterRole only for all namespaces"
