# `helm uninstall` after the scenarios (the CTest fixture's cleanup): the
# release's objects go, the Functions' pods go with their Functions, and
# nothing of Sluice keeps running on the node.
source "$(dirname "$0")/../lib.sh"
e2e_work

k delete functions.sluice.io,triggers.sluice.io --all --wait=true --timeout=120s >/dev/null || fail "deleting the Functions"
no_pods() { [[ -z $(k get pods -l app.kubernetes.io/managed-by=sluice -o name) ]]; }
poll 120 no_pods
"$HELM" uninstall "$E2E_RELEASE" -n "$E2E_SYSTEM_NS" --wait --timeout 120s >"$work/helm.out" 2>&1 ||
  fail "helm uninstall: $(cat "$work/helm.out")"
no_operator() { [[ -z $(ksys get pods -l app.kubernetes.io/component=operator -o name) ]]; }
poll 120 no_operator
"$KUBECTL" delete namespace "$E2E_NS" "$E2E_SYSTEM_NS" --wait=true --timeout=120s >/dev/null ||
  fail "deleting the e2e namespaces"
echo "PASS: release uninstalled, no Sluice pod left"
