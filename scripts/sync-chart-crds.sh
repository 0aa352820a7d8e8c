#!/usr/bin/env bash
# Copies the top-level crds/ into the Helm chart's crds/ (the chart must ship
# the very same files). `make chart-crds` runs it; the unit test
# tests/unit/chart/chart_crds_test.sh fails whenever the two differ.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rm -f "$root"/charts/sluice/crds/*.yaml
mkdir -p "$root/charts/sluice/crds"
cp "$root"/crds/*.yaml "$root/charts/sluice/crds/"
echo "charts/sluice/crds/ now holds: $(cd "$root/charts/sluice/crds" && ls | tr '\n' ' ')"
