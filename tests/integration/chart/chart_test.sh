#!/usr/bin/env bash
# The Helm chart on the real apiserver of tests/env (KWOK nodes):
#  1. `helm lint --strict` is clean, and the rendered manifests are what the
#     issue asks (2 replicas + leader election, probes, hardened securityContext,
#     the same for sluice-gateway's Deployment, whose ClusterRole only reads,
#     Prometheus Operator objects only when asked or their CRDs exist, the
#     dashboard ConfigMap with grafana_dashboard: "1", the alerts = files/alerts.yaml);
#     The admission webhook's Service, ValidatingWebhookConfiguration (Fail,
#     Functions and Triggers of the watched namespaces) and RBAC are rendered;
#  2. `helm install --wait` on a cluster without the Prometheus Operator CRDs
#     (webhook.enabled=false: KWOK's operator pods would answer no review);
#     With operator.watchNamespace (a list or a comma-separated string) the
#     RBAC is a Role per namespace, nothing cluster-scoped but get/patch of the
#     webhook's own configuration by name, and the opt-in
#     NetworkPolicy admits only the gateway, the operator and Prometheus;
#  3. the real sluice-operator binary, run with a token of the chart's
#     ServiceAccount (so under exactly the chart's namespaced RBAC), reconciles a Function
#     and a Trigger and elects itself leader, with no request refused;
#  4. `helm test` (a Job, completed by KWOK's Job stage), `helm upgrade` to 3 replicas;
#  5. `helm uninstall` leaves nothing of the release but the CRDs.
source "$(dirname "$0")/../lib.sh"
require_env HELM KUBECTL KUBECONFIG SLUICE_BUILD_DIR SLUICE_SOURCE_DIR

chart=$SLUICE_SOURCE_DIR/charts/sluice
ns=$(unique_name chart)
fn_ns=$(unique_name chart-fn)
rel=sluice-$RANDOM
work=$(mktemp -d)
operator_pid=""
gateway_pid=""
export HELM_CONFIG_HOME=${HELM_CONFIG_HOME:-$work/config} HELM_CACHE_HOME=${HELM_CACHE_HOME:-$work/cache}
export HELM_DATA_HOME=${HELM_DATA_HOME:-$work/data}
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    tail -n 30 "$work/operator.log" >&2 2>/dev/null || true
    "$KUBECTL" -n "$ns" get all,jobs >&2 2>/dev/null || true
  fi
  [[ -n $gateway_pid ]] && kill "$gateway_pid" 2>/dev/null && wait "$gateway_pid" 2>/dev/null
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  "$HELM" uninstall "$rel" -n "$ns" >/dev/null 2>&1 || true
  "$KUBECTL" delete namespace "$ns" "$fn_ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
k() { "$KUBECTL" -n "$ns" "$@"; }

# 1. lint and render (for the test apiserver's version: the chart needs >= 1.30).
kube_version=${KUBE_VERSION:-v1.33.0}
tpl() { "$HELM" template "$rel" "$chart" -n "$ns" --kube-version "${kube_version#v}" "$@"; }
"$HELM" lint --strict "$chart" >"$work/lint" 2>&1 || fail "helm lint --strict: $(cat "$work/lint")"
grep -q '1 chart(s) linted, 0 chart(s) failed' "$work/lint" || fail "helm lint: $(cat "$work/lint")"
tpl >"$work/plain.yaml"
tpl --set metrics.serviceMonitor.force=true --set metrics.podMonitor.force=true \
  --set metrics.prometheusRule.force=true >"$work/forced.yaml"
tpl --api-versions monitoring.coreos.com/v1/ServiceMonitor --api-versions monitoring.coreos.com/v1/PodMonitor \
  --api-versions monitoring.coreos.com/v1/PrometheusRule >"$work/with-crds.yaml"
tpl --set 'operator.watchNamespace={fn-a,fn-b}' --set networkPolicy.enabled=true \
  --set networkPolicy.runtimePorts.data=8091 --set metrics.podMonitor.force=true >"$work/scoped.yaml"
tpl --set 'operator.watchNamespace=fn-a\,fn-b' >"$work/scoped-string.yaml"
tpl --set networkPolicy.enabled=true --set 'networkPolicy.namespaces={fn-c}' >"$work/netpol-only.yaml"
if tpl --set networkPolicy.enabled=true >"$work/bad" 2>&1; then fail "a NetworkPolicy without namespaces was rendered"; fi
grep -q "networkPolicy.enabled needs networkPolicy.namespaces or operator.watchNamespace" "$work/bad" ||
  fail "the NetworkPolicy error does not say what to set: $(cat "$work/bad")"
for bad in operator.replicas=0 operator.logLevel=loud metrics.unknownKey=1 operator.watchNamespace=Bad_NS \
  networkPolicy.runtimePorts.data=0 operator.maxScalerResponseBytes=10 operator.kubeApi.burst=0 \
  operator.kubeApi.qps=-1 webhook.failurePolicy=Maybe webhook.port=0; do
  if tpl --set "$bad" >"$work/bad" 2>&1; then fail "values.schema.json accepted $bad"; fi
done
python3 - "$work" "$chart" <<'PY' || fail "rendered manifests are not as expected"
import json, re, sys, yaml
work, chart = sys.argv[1:]
def docs(name):
    return [d for d in yaml.safe_load_all(open(f"{work}/{name}")) if d]
def kinds(ds):
    return sorted(d["kind"] for d in ds)
plain = docs("plain.yaml")
monitoring = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
assert not monitoring & set(kinds(plain)), kinds(plain)
for name in ("forced.yaml", "with-crds.yaml"):
    assert monitoring <= set(kinds(docs(name))), (name, kinds(docs(name)))
# The operator's objects, then sluice-gateway's (its own Deployment, Service, ServiceAccount and
# read-only ClusterRole, and the operator's Role to find it through its Endpoints), and the invoke
# master key Secret both mount.
assert kinds(plain) == sorted(["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Role",
                               "RoleBinding", "Service", "ServiceAccount", "Job", "Secret"] +
                              ["Deployment", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                               "Role", "RoleBinding"] +
                              ["Role", "RoleBinding"] +  # the control CA's Secret
                              # the admission webhook: its Service and configuration, its CA's
                              # Secret and the configuration's caBundle
                              ["Service", "ValidatingWebhookConfiguration", "Role", "RoleBinding",
                               "ClusterRole", "ClusterRoleBinding"]), kinds(plain)
def component(d):
    return d["metadata"]["labels"].get("app.kubernetes.io/component")
for name in ("operator", "gateway"):
    deploy = next(d for d in plain if d["kind"] == "Deployment" and component(d) == name)
    spec = deploy["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert deploy["spec"]["replicas"] == 2, name
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}, c["securityContext"]
    if name == "operator":
        for arg in ("--leader-elect", "--leader-election-namespace=$(POD_NAMESPACE)",
                    "--leader-election-identity=$(POD_NAME)"):
            assert arg in c["args"], c["args"]
        assert any(a.startswith("--gateway-service=") for a in c["args"]), c["args"]
        assert "--kube-api-qps=200" in c["args"] and "--kube-api-burst=400" in c["args"], c["args"]
    # Helm renders large numbers as floats (6.291456e+06) unless the template says int64;
    # the binaries refuse those, so every numeric flag must come out as an integer.
    assert not any(re.search(r"=[-0-9.]+e[+-]?[0-9]+$", a) for a in c["args"]), c["args"]
    if name == "gateway":
        assert "--max-body-bytes=6291456" in c["args"], c["args"]
gateway_role = next(d for d in plain if d["kind"] == "ClusterRole" and d["metadata"]["name"].endswith("-gateway"))
assert all(set(r["verbs"]) <= {"list", "watch"} for r in gateway_role["rules"]), gateway_role["rules"]
dash = next(d for d in plain if d["kind"] == "ConfigMap")
assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
assert json.loads(dash["data"]["sluice.json"]) == json.load(open(f"{chart}/files/dashboards/sluice.json"))
rule = next(d for d in docs("forced.yaml") if d["kind"] == "PrometheusRule")
assert rule["spec"]["groups"] == yaml.safe_load(open(f"{chart}/files/alerts.yaml"))["groups"]
for role in (d for d in plain if d["kind"] == "ClusterRole"):
    for r in role["rules"]:
        assert "*" not in r["verbs"] and "*" not in r["resources"], r
# watchNamespace (a list or a comma-separated string): a Role + RoleBinding per namespace for the
# operator and the gateway with the ClusterRole's rules, nothing cluster-scoped, both told the namespaces.
# The one exception: the webhook's caBundle, on a cluster-scoped object, by name.
scoped = docs("scoped.yaml")
vwc = next(d for d in scoped if d["kind"] == "ValidatingWebhookConfiguration")
cluster = [d for d in scoped if d["kind"].startswith("Cluster")]
assert kinds(cluster) == ["ClusterRole", "ClusterRoleBinding"], kinds(cluster)
webhook_role = next(d for d in cluster if d["kind"] == "ClusterRole")
assert webhook_role["rules"] == [{"apiGroups": ["admissionregistration.k8s.io"],
                                  "resources": ["validatingwebhookconfigurations"],
                                  "resourceNames": [vwc["metadata"]["name"]], "verbs": ["get", "patch"]}], webhook_role
hook = vwc["webhooks"][0]
assert hook["failurePolicy"] == "Fail" and hook["clientConfig"]["service"]["path"] == "/validate", hook
assert hook["rules"][0]["resources"] == ["functions", "triggers"], hook["rules"]
assert hook["rules"][0]["operations"] == ["CREATE", "UPDATE"], hook["rules"]
assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == ["fn-a", "fn-b"], hook["namespaceSelector"]
operator_role = next(d for d in plain if d["kind"] == "ClusterRole" and
                     not d["metadata"]["name"].endswith(("-gateway", "-webhook")))
for ns in ("fn-a", "fn-b"):
    roles = {d["metadata"]["name"]: d for d in scoped if d["kind"] == "Role" and d["metadata"]["namespace"] == ns}
    assert set(roles) == {operator_role["metadata"]["name"], gateway_role["metadata"]["name"]}, roles.keys()
    assert roles[operator_role["metadata"]["name"]]["rules"] == operator_role["rules"]
    assert roles[gateway_role["metadata"]["name"]]["rules"] == gateway_role["rules"]
    bindings = [d for d in scoped if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] == ns]
    assert len(bindings) == 2 and all(b["subjects"][0]["namespace"] != ns for b in bindings), bindings
for name in ("scoped.yaml", "scoped-string.yaml"):
    for d in docs(name):
        if d["kind"] == "Deployment":
            assert "--watch-namespace=fn-a,fn-b" in d["spec"]["template"]["spec"]["containers"][0]["args"], name
pm = next(d for d in scoped if d["kind"] == "PodMonitor")
assert pm["spec"]["namespaceSelector"] == {"matchNames": ["fn-a", "fn-b"]}, pm["spec"]["namespaceSelector"]
# The NetworkPolicy: in each function namespace, Sluice's pods take connections only from the gateway
# (data port), the operator (data, control, metrics ports) and Prometheus (metrics port).
policies = [d for d in scoped if d["kind"] == "NetworkPolicy"]
assert sorted(p["metadata"]["namespace"] for p in policies) == ["fn-a", "fn-b"], policies
release_ns = {"kubernetes.io/metadata.name": [d for d in plain if d["kind"] == "Deployment"][0]["metadata"]["namespace"]}
for p in policies:
    spec = p["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/managed-by": "sluice"}}
    assert spec["policyTypes"] == ["Ingress"]
    gateway_rule, operator_rule, prometheus_rule = spec["ingress"]
    assert gateway_rule["from"][0]["namespaceSelector"]["matchLabels"] == release_ns
    assert gateway_rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gateway"
    assert gateway_rule["ports"] == [{"protocol": "TCP", "port": 8091}]
    assert operator_rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    assert sorted(x["port"] for x in operator_rule["ports"]) == [8090, 8091], operator_rule["ports"]
    assert prometheus_rule["from"][0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert prometheus_rule["ports"] == [{"protocol": "TCP", "port": 8090}]
assert [d["metadata"]["namespace"] for d in docs("netpol-only.yaml") if d["kind"] == "NetworkPolicy"] == ["fn-c"]
assert not any(d["kind"] == "NetworkPolicy" for d in plain), "the NetworkPolicy is opt-in"
PY
echo "[step] helm lint --strict clean; manifests as specified"

# 2. install where the Prometheus Operator CRDs are absent.
"$KUBECTL" get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1 &&
  fail "this cluster has the Prometheus Operator CRDs; the test needs a cluster without them"
# The watched namespace first: the chart's Roles go into it.
"$KUBECTL" create namespace "$fn_ns" >/dev/null
"$HELM" install "$rel" "$chart" -n "$ns" --create-namespace --wait --timeout 180s \
  --set operator.watchNamespace="$fn_ns" --set webhook.enabled=false >"$work/install" 2>&1 ||
  fail "helm install: $(cat "$work/install")"
grep -q "Prometheus Operator's CRDs are absent" "$work/install" || fail "NOTES do not say the monitoring CRDs are absent"
[[ $(k get deploy -l app.kubernetes.io/instance="$rel",app.kubernetes.io/component=operator -o jsonpath='{.items[0].status.readyReplicas}') == 2 ]] ||
  fail "the operator Deployment does not have 2 ready replicas"
[[ $(k get deploy -l app.kubernetes.io/instance="$rel",app.kubernetes.io/component=gateway -o jsonpath='{.items[0].status.readyReplicas}') == 2 ]] ||
  fail "the gateway Deployment does not have 2 ready replicas"
"$KUBECTL" get crd functions.sluice.io triggers.sluice.io >/dev/null || fail "the chart did not install the CRDs"
echo "[step] helm install: 2 ready operator replicas (KWOK), CRDs installed, no monitoring objects"

# 3. the real operator under the chart's ServiceAccount and RBAC.
sa=$(k get sa -l app.kubernetes.io/instance="$rel" -o json |
  jq -r '[.items[] | select(.metadata.labels["app.kubernetes.io/component"] != "gateway")][0].metadata.name')
token=$(k create token "$sa" --duration=10m)
"$KUBECTL" config view --minify --raw --flatten >"$work/sa.kubeconfig"
KUBECONFIG=$work/sa.kubeconfig "$KUBECTL" config set-credentials chart-sa --token="$token" >/dev/null
KUBECONFIG=$work/sa.kubeconfig "$KUBECTL" config set-context --current --user=chart-sa >/dev/null
"$SLUICE_BUILD_DIR/sluice-operator" --kubeconfig "$work/sa.kubeconfig" --watch-namespace "$fn_ns" \
  --leader-elect --leader-election-namespace "$ns" --leader-election-id sluice-operator-leader \
  --gateway-service "$ns/$rel-gateway" --runtime-image sluice/runtime-python:test >"$work/operator.log" 2>&1 &
operator_pid=$!
# sluice-gateway under its own ServiceAccount: it loads its routes (list/watch only) and serves.
gateway_sa=$(k get sa -l app.kubernetes.io/instance="$rel",app.kubernetes.io/component=gateway -o jsonpath='{.items[0].metadata.name}')
cp "$work/sa.kubeconfig" "$work/gateway.kubeconfig"
KUBECONFIG=$work/gateway.kubeconfig "$KUBECTL" config set-credentials chart-sa --token="$(k create token "$gateway_sa" --duration=10m)" >/dev/null
gateway_admin=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SLUICE_BUILD_DIR/sluice-gateway" --kubeconfig "$work/gateway.kubeconfig" --watch-namespace "$fn_ns" --listen-address 127.0.0.1:0 \
  --admin-address "127.0.0.1:$gateway_admin" >"$work/gateway.log" 2>&1 &
gateway_pid=$!
"$KUBECTL" -n "$fn_ns" apply -f - >/dev/null <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Function
metadata: {name: echo}
spec:
  runtime: python3.11
  handler: index.main_handler
  code:
    inline: |
      def main_handler(event, context):
          return event
  scaling: {minReplicas: 1, maxReplicas: 1}
---
apiVersion: sluice.io/v1alpha1
kind: Trigger
metadata: {name: echo-http}
spec:
  functionRef: {name: echo}
  http: {path: /echo}
YAML
ready_one() { [[ $("$KUBECTL" -n "$fn_ns" get fn echo -o jsonpath='{.status.readyReplicas}') == 1 ]]; }
(poll 120 ready_one) || fail "under the chart's RBAC the operator never made Function echo ready: $(cat "$work/operator.log" | tail -5)"
trigger_ready() { [[ $("$KUBECTL" -n "$fn_ns" get trigger echo-http -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }
(poll 60 trigger_ready) || fail "the Trigger's Ready condition was never written"
[[ $(k get lease sluice-operator-leader -o jsonpath='{.spec.holderIdentity}') != "" ]] || fail "no leader in the Lease"
# (Read whole, not piped into `grep -q`: under pipefail kubectl's SIGPIPE would fail a check that found one.)
function_event() { [[ -n $("$KUBECTL" -n "$fn_ns" get events --field-selector involvedObject.kind=Function -o name) ]]; }
(poll 30 function_event) ||
  fail "the operator recorded no Event; events in $fn_ns: $("$KUBECTL" -n "$fn_ns" get events -o jsonpath='{range .items[*]}{.involvedObject.kind}/{.involvedObject.name} {.reason}; {end}')"
# An API refusal is logged as "HTTP 403 Forbidden: ..." (kube/api_error.cpp); a bare \b403\b also
# matched log timestamps such as 04:31:06.403 and failed CI once.
refused='forbidden|HTTP 403|PermissionDenied'
if grep -Eqi "$refused" "$work/operator.log"; then
  fail "the chart's RBAC refused a request: $(grep -Ei "$refused" "$work/operator.log" | head -3)"
fi
gateway_routes() { curl -s "http://127.0.0.1:$gateway_admin/loads" | jq -e --arg ns "$fn_ns" '.functions[] | select(.namespace == $ns and .name == "echo")' >/dev/null; }
(poll 30 gateway_routes) || fail "the gateway under its ServiceAccount does not route $fn_ns/echo: $(tail -5 "$work/gateway.log")"
if grep -Eqi "$refused" "$work/gateway.log"; then
  fail "the chart's RBAC refused a gateway request: $(grep -Ei "$refused" "$work/gateway.log" | head -3)"
fi
kill "$gateway_pid" && wait "$gateway_pid" 2>/dev/null || true
gateway_pid=""
kill "$operator_pid" && wait "$operator_pid" 2>/dev/null || true
operator_pid=""
echo "[step] the operator and the gateway under the chart's ServiceAccounts: replica pod, status, Trigger, Event, Lease, routes, nothing refused"

# 4. helm test and helm upgrade.
"$HELM" test "$rel" -n "$ns" --timeout 120s >"$work/test" 2>&1 || fail "helm test: $(cat "$work/test")"
grep -q "Phase:.*Succeeded" "$work/test" || fail "helm test did not report success: $(cat "$work/test")"
"$HELM" upgrade "$rel" "$chart" -n "$ns" --wait --timeout 180s --reuse-values --set operator.replicas=3 \
  >"$work/upgrade" 2>&1 || fail "helm upgrade: $(cat "$work/upgrade")"
[[ $(k get deploy -l app.kubernetes.io/instance="$rel",app.kubernetes.io/component=operator -o jsonpath='{.items[0].status.readyReplicas}') == 3 ]] ||
  fail "after the upgrade the Deployment does not have 3 ready replicas"
[[ $("$HELM" status "$rel" -n "$ns" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') == 2 ]] ||
  fail "the release is not at revision 2 after the upgrade"
echo "[step] helm test passed; helm upgrade to 3 replicas (revision 2)"

# 5. uninstall leaves nothing of the release but the CRDs.
"$HELM" uninstall "$rel" -n "$ns" --wait --timeout 120s >/dev/null || fail "helm uninstall failed"
leftovers() {
  {
    k get all,configmaps,secrets,serviceaccounts,roles,rolebindings,jobs -l app.kubernetes.io/instance="$rel" -o name
    "$KUBECTL" -n "$fn_ns" get roles,rolebindings -l app.kubernetes.io/instance="$rel" -o name
    "$KUBECTL" get clusterroles,clusterrolebindings -l app.kubernetes.io/instance="$rel" -o name
  } 2>/dev/null
}
nothing_left() { [[ -z $(leftovers) ]]; }
(poll 60 nothing_left) || fail "helm uninstall left: $(leftovers | tr '\n' ' ')"
# Everything else in the release namespace is Kubernetes' own or the operator's Lease (not the chart's).
others=$(k get configmaps,secrets,serviceaccounts,deployments,services,jobs,pods -o name |
  grep -v -e '^configmap/kube-root-ca.crt$' -e '^serviceaccount/default$' || true)
[[ -z $others ]] || fail "left in the release namespace after uninstall: $others"
"$KUBECTL" get crd functions.sluice.io triggers.sluice.io >/dev/null || fail "uninstall removed the CRDs"
"$KUBECTL" -n "$fn_ns" get fn echo >/dev/null || fail "uninstall removed a user's Function"
echo "PASS: helm lint/install/test/upgrade/uninstall on the real apiserver; only the CRDs (and users' objects) remain"
