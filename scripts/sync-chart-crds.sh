#!/usr/bin/env bash
# Copies the top-level crds/ into the Helm chart's crds/ (the chart must ship
# the very same files). `make chart-crds` runs it; the unit test
# tests/unit/chart/chart_crds_test.sh fails whenever the two differ.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=$root/charts/sluice/crds
# Real files, not a symlink: `helm package` and some checkouts do not keep links.
[[ -L $target ]] && rm "$target"
mkdir -p "$target"
find "$target" -maxdepth 1 -name '*.yaml' -delete
cp "$root"/crds/*.yaml "$target/"
echo "charts/sluice/crds/ now holds: $(cd "$root/charts/sluice/crds" && ls | tr '\n' ' ')"
