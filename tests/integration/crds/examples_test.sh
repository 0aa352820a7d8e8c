#!/usr/bin/env bash
# Every seed scenario in examples/ is accepted as is by the real apiserver with
# Sluice's CRDs installed (server-side dry run: schema, defaults and CEL rules)
# and by `sluice-operator --local --check` (the same rules, compiled in).
source "$(dirname "$0")/../lib.sh"
require_env KUBECONFIG KUBECTL SLUICE_SOURCE_DIR SLUICE_BUILD_DIR
apply_crds

ns=$(unique_name examples)
trap '"$KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
"$KUBECTL" create namespace "$ns" >/dev/null

count=0
for dir in "$SLUICE_SOURCE_DIR"/examples/*/; do
  name=$(basename "$dir")
  out=$("$KUBECTL" -n "$ns" apply --dry-run=server -f "$dir" 2>&1) || fail "kubectl refused examples/$name: $out"
  applied=$(grep -c 'created (server dry run)' <<<"$out" || true)
  [[ $applied == 2 ]] || fail "examples/$name: expected a Function and a Trigger, kubectl said: $out"
  out=$("$SLUICE_BUILD_DIR/sluice-operator" --local "$dir" --check 2>&1) || fail "--local refused examples/$name: $out"
  [[ $out == *"2 object(s), no errors"* ]] || fail "examples/$name: --local --check said: $out"
  echo "ok   [$name] kubectl apply --dry-run=server and --local --check"
  count=$((count + 1))
done
((count == 5)) || fail "expected the 5 seed scenarios in examples/, found $count"
echo "PASS: all $count examples accepted by the apiserver and by --local"
