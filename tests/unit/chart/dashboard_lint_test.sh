#!/usr/bin/env bash
# The chart's Grafana dashboard passes scripts/lint-dashboard.py (the
# dashboard-linter's rules plus promtool parsing every expression), and each
# kind of mistake the linter exists for is caught in a broken copy.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
dashboard=$root/charts/sluice/files/dashboards/sluice.json
lint=$root/scripts/lint-dashboard.py
promtool=${PROMTOOL:-$(command -v promtool || true)}
[[ -x $promtool ]] || { echo "FAIL: promtool not found (Debian package prometheus; make deps)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$lint" --promtool "$promtool" "$dashboard"

# Each mutation must be reported with its own message.
python3 - "$dashboard" "$work" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
panels = [p for p in d["panels"] if p["type"] != "row"]
def write(name, mutate):
    copy = json.loads(json.dumps(d))
    mutate(copy)
    json.dump(copy, open(f"{sys.argv[2]}/{name}.json", "w"))
def first_panel(c):
    return [p for p in c["panels"] if p["type"] != "row"][0]
write("rate-interval", lambda c: first_panel(c)["targets"].append(
    {"refId": "Z", "datasource": first_panel(c)["datasource"], "expr": "rate(sluice_runtime_events_received_total[5m])"}))
write("bare-counter", lambda c: first_panel(c)["targets"].append(
    {"refId": "Z", "datasource": first_panel(c)["datasource"], "expr": "sum(sluice_runtime_events_received_total)"}))
write("bad-promql", lambda c: first_panel(c)["targets"].append(
    {"refId": "Z", "datasource": first_panel(c)["datasource"], "expr": "sum by (function (up)"}))
write("no-description", lambda c: first_panel(c).pop("description"))
write("fixed-datasource", lambda c: first_panel(c).update(datasource={"type": "prometheus", "uid": "abc"}))
write("undefined-variable", lambda c: first_panel(c)["targets"].append(
    {"refId": "Z", "datasource": first_panel(c)["datasource"], "expr": "up{job=~\"$job\"}"}))
PY
declare -A expected=(
  [rate-interval]="must range over [\$__rate_interval]"
  [bare-counter]="must be inside rate()"
  [bad-promql]="promtool rejects an expression"
  [no-description]="no description"
  [fixed-datasource]="datasource must be \${datasource}"
  [undefined-variable]="uses undefined variable \$job"
)
for name in "${!expected[@]}"; do
  if python3 "$lint" --promtool "$promtool" "$work/$name.json" >"$work/$name.out" 2>&1; then
    echo "FAIL: the linter accepted the '$name' mutation" >&2
    exit 1
  fi
  grep -qF -- "${expected[$name]}" "$work/$name.out" ||
    { echo "FAIL: '$name': expected '${expected[$name]}' in: $(cat "$work/$name.out")" >&2; exit 1; }
done
echo "PASS: dashboard lint-clean; ${#expected[@]} kinds of mistake caught"
