#!/usr/bin/env bash
# The chart's crds/ holds exactly the top-level crds/ files, byte for byte
# (`make chart-crds` syncs them). A stale or extra file fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
[[ -L $root/charts/sluice/crds ]] && { echo "FAIL: charts/sluice/crds is a symlink; run 'make chart-crds'" >&2; exit 1; }
if ! diff -r "$root/crds" "$root/charts/sluice/crds"; then
  echo "FAIL: charts/sluice/crds differs from crds/; run 'make chart-crds'" >&2
  exit 1
fi
count=$(find "$root/crds" -name '*.yaml' | wc -l)
((count == 2)) || { echo "FAIL: expected the Function and Trigger CRDs, found $count files" >&2; exit 1; }
echo "PASS: charts/sluice/crds matches crds/ ($count files)"
