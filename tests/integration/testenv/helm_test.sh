#!/usr/bin/env bash
# helm (HELM): the fixture chart in ./chart passes `helm lint`, and
# `helm template` renders exactly one ConfigMap carrying the release name and
# the values given on the command line. A broken chart fails `helm lint`.
source "$(dirname "$0")/../lib.sh"
require_env HELM
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Keep helm's state out of $HOME even if the env file did not set these.
export HELM_CONFIG_HOME=${HELM_CONFIG_HOME:-$work/config}
export HELM_CACHE_HOME=${HELM_CACHE_HOME:-$work/cache}
export HELM_DATA_HOME=${HELM_DATA_HOME:-$work/data}

"$HELM" lint "$here/chart" >"$work/lint" 2>&1 || fail "helm lint of the fixture chart: $(cat "$work/lint")"
grep -q '1 chart(s) linted, 0 chart(s) failed' "$work/lint" || fail "unexpected helm lint output: $(cat "$work/lint")"

"$HELM" template demo "$here/chart" --set greeting=bonjour >"$work/manifest" 2>&1 ||
  fail "helm template: $(cat "$work/manifest")"
python3 - "$work/manifest" <<'PY' || fail "rendered manifest is not as expected: $(cat "$work/manifest")"
import sys
text = open(sys.argv[1]).read()
docs = [d for d in text.split("\n---") if "kind:" in d]
assert len(docs) == 1, f"expected 1 object, got {len(docs)}"
doc = docs[0]
for line in ("kind: ConfigMap", "name: demo-settings", 'greeting: "bonjour"', 'replicas: "2"',
             "app.kubernetes.io/name: sluice-testenv-fixture"):
    assert line in doc, f"missing {line!r}"
PY

# Negative control: the same chart without its required Chart.yaml version must fail lint.
cp -r "$here/chart" "$work/broken"
sed -i '/^version:/d' "$work/broken/Chart.yaml"
if "$HELM" lint "$work/broken" >"$work/lint-broken" 2>&1; then
  fail "helm lint accepted a chart without a version"
fi
echo "PASS: helm lint and helm template of the fixture chart"
