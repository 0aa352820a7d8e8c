#!/usr/bin/env bash
# The chart's optional ways in to sluice-gateway, rendered by `helm template`:
#  - by default neither an Ingress nor an HTTPRoute, and no --domain;
#  - gateway.domain reaches the gateway (--domain) and the operator
#    (--gateway-domain, status.url in the host form);
#  - gateway.ingress: a networking.k8s.io/v1 Ingress for the gateway Service's
#    http port, host "*.<domain>" (its port dropped), or the hosts given, or
#    one rule for any host without a domain; the real apiserver accepts it
#    (server-side dry run);
#  - gateway.httpRoute: a gateway.networking.k8s.io/v1 HTTPRoute attached to
#    parentRefs (refused without them), hostnames "*.<domain>", backend the
#    gateway Service's port;
#  - values.schema.json refuses a domain that is no host name.
source "$(dirname "$0")/../lib.sh"
require_env HELM KUBECTL KUBECONFIG SLUICE_SOURCE_DIR

chart=$SLUICE_SOURCE_DIR/charts/sluice
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HELM_CONFIG_HOME=${HELM_CONFIG_HOME:-$work/config} HELM_CACHE_HOME=${HELM_CACHE_HOME:-$work/cache}
export HELM_DATA_HOME=${HELM_DATA_HOME:-$work/data}
kube_version=${KUBE_VERSION:-v1.33.0}
tpl() { "$HELM" template rel "$chart" -n default --kube-version "${kube_version#v}" "$@"; }

tpl >"$work/plain.yaml"
tpl --set gateway.domain=fn.example.com:8443 --set gateway.ingress.enabled=true \
  --set gateway.ingress.className=nginx --set gateway.httpRoute.enabled=true \
  --set 'gateway.httpRoute.parentRefs[0].name=public' --set 'gateway.httpRoute.parentRefs[0].namespace=gw-system' \
  >"$work/domain.yaml"
tpl --set gateway.ingress.enabled=true >"$work/any-host.yaml"
tpl --set gateway.ingress.enabled=true --set 'gateway.ingress.hosts={a.example.com,b.example.com}' \
  --set 'gateway.ingress.tls[0].secretName=ab-tls' --set 'gateway.ingress.tls[0].hosts={a.example.com}' \
  >"$work/hosts.yaml"
if tpl --set gateway.httpRoute.enabled=true >"$work/no-parents" 2>&1; then
  fail "an HTTPRoute without parentRefs rendered"
fi
grep -q "gateway.httpRoute.enabled needs gateway.httpRoute.parentRefs" "$work/no-parents" ||
  fail "without parentRefs: $(cat "$work/no-parents")"
for bad in gateway.domain=Bad_Domain gateway.domain=http://fn.example.com gateway.ingress.unknown=1; do
  if tpl --set "$bad" >"$work/bad" 2>&1; then fail "values.schema.json accepted $bad"; fi
done

python3 - "$work" <<'PY' || fail "rendered manifests are not as expected"
import sys, yaml
work = sys.argv[1]
def docs(name):
    return [d for d in yaml.safe_load_all(open(f"{work}/{name}")) if d]
def one(ds, kind):
    found = [d for d in ds if d["kind"] == kind]
    assert len(found) == 1, (kind, [d["kind"] for d in ds])
    return found[0]
def args(ds, component):
    deploy = next(d for d in ds if d["kind"] == "Deployment"
                  and d["metadata"]["labels"].get("app.kubernetes.io/component") == component)
    return deploy["spec"]["template"]["spec"]["containers"][0]["args"]

plain = docs("plain.yaml")
assert not {"Ingress", "HTTPRoute"} & {d["kind"] for d in plain}
assert not any(a.startswith("--domain") for a in args(plain, "gateway")), args(plain, "gateway")
assert not any(a.startswith("--gateway-domain") for a in args(plain, "operator")), args(plain, "operator")

domain = docs("domain.yaml")
assert "--domain=fn.example.com:8443" in args(domain, "gateway"), args(domain, "gateway")
assert "--gateway-domain=fn.example.com:8443" in args(domain, "operator"), args(domain, "operator")
service = next(d for d in domain if d["kind"] == "Service"
               and d["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway")
assert any(p["name"] == "http" for p in service["spec"]["ports"])
ingress = one(domain, "Ingress")
assert ingress["apiVersion"] == "networking.k8s.io/v1"
assert ingress["spec"]["ingressClassName"] == "nginx"
rules = ingress["spec"]["rules"]
assert [r.get("host") for r in rules] == ["*.fn.example.com"], rules
path = rules[0]["http"]["paths"][0]
assert path["path"] == "/" and path["pathType"] == "Prefix", path
assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"name": "http"}}, path
route = one(domain, "HTTPRoute")
assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gw-system"}], route["spec"]
assert route["spec"]["hostnames"] == ["*.fn.example.com"], route["spec"]
rule = route["spec"]["rules"][0]
assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}], rule
assert rule["backendRefs"] == [{"name": service["metadata"]["name"], "port": service["spec"]["ports"][0]["port"]}], rule

any_host = one(docs("any-host.yaml"), "Ingress")
assert [("host" in r) for r in any_host["spec"]["rules"]] == [False], any_host["spec"]
assert "ingressClassName" not in any_host["spec"] and "tls" not in any_host["spec"]
hosts = one(docs("hosts.yaml"), "Ingress")
assert [r["host"] for r in hosts["spec"]["rules"]] == ["a.example.com", "b.example.com"], hosts["spec"]
assert hosts["spec"]["tls"] == [{"secretName": "ab-tls", "hosts": ["a.example.com"]}], hosts["spec"]
for d in (ingress, any_host, hosts):
    print(yaml.safe_dump(d), end="---\n", file=open(f"{work}/ingresses.yaml", "a"))
PY
echo "[step] helm template: Ingress and HTTPRoute only when asked, hosts from gateway.domain, --domain on both binaries"

# The real apiserver takes the Ingresses as rendered.
out=$("$KUBECTL" apply --dry-run=server -f "$work/ingresses.yaml" 2>&1) || fail "the apiserver refused an Ingress: $out"
[[ $(grep -c 'created (server dry run)\|configured (server dry run)' <<<"$out") == 3 ]] || fail "dry run: $out"
echo "[step] the apiserver accepts the three Ingresses (server-side dry run)"
echo "PASS"
