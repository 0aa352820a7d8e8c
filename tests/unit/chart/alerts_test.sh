#!/usr/bin/env bash
# The chart's alerting rules (charts/sluice/files/alerts.yaml): promtool checks
# them and runs alerts_test.yaml, where every alert fires in one case with its
# exact labels and annotations and stays quiet in another. Every alert of the
# rule file must have a firing case, and a broken rule must fail the cases.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rules=$here/../../../charts/sluice/files/alerts.yaml
promtool=${PROMTOOL:-$(command -v promtool || true)}
[[ -x $promtool ]] || { echo "FAIL: promtool not found (Debian package prometheus; make deps)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$promtool" check rules "$rules"
"$promtool" test rules "$here/alerts_test.yaml"

python3 - "$rules" "$here/alerts_test.yaml" <<'PY'
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
firing = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
quiet = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", []) if not t.get("exp_alerts")}
expected = {"SluiceScalerFailing", "SluiceFunctionAtMaxReplicasBacklogGrowing", "SluiceDeadLettersGrowing",
            "SluiceNoLeader", "SluiceReconcileErrors", "SluiceMirrorLagging"}
assert alerts == expected, f"alerts in the rule file: {sorted(alerts)}"
assert alerts <= firing, f"alerts without a firing test case: {sorted(alerts - firing)}"
assert alerts <= quiet, f"alerts without a quiet test case: {sorted(alerts - quiet)}"
PY

# Negative control: a dead-letter rule that never fires must fail its case.
mkdir -p "$work/charts/sluice/files" "$work/tests/unit/chart"
sed 's/rate(sluice_runtime_events_dead_lettered_total\[5m\])) > 0/rate(sluice_runtime_events_dead_lettered_total[5m])) > 1000/' \
  "$rules" >"$work/charts/sluice/files/alerts.yaml"
cmp -s "$rules" "$work/charts/sluice/files/alerts.yaml" && { echo "FAIL: negative control did not change the rule" >&2; exit 1; }
cp "$here/alerts_test.yaml" "$work/tests/unit/chart/"
if "$promtool" test rules "$work/tests/unit/chart/alerts_test.yaml" >"$work/out" 2>&1; then
  echo "FAIL: promtool accepted a dead-letter rule that cannot fire" >&2
  exit 1
fi
echo "PASS: 6 alerts, each firing and quiet in its promtool test cases"
