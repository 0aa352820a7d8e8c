#!/usr/bin/env python3
"""Lints Grafana dashboard JSON files the way grafana/dashboard-linter does
(its rules, written again here because the Go module proxy does not serve that
module): a Prometheus `datasource` variable that every panel and target uses,
a title, description and known unit on every panel, rate()/irate() over
$__rate_interval, counters only inside rate()/irate()/increase(), every
$variable defined, the dashboard not editable, and every expression valid
PromQL (checked by promtool). Usage: lint-dashboard.py [--promtool PATH] FILE...
Exit 1 and one line per problem when anything is wrong."""
import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile

UNITS = {"short", "none", "percent", "percentunit", "s", "ms", "us", "ns", "ops", "reqps", "rps", "bytes",
         "decbytes", "Bps", "binBps", "dateTimeAsIso", "bool", "locale"}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__all", "__name"}
COUNTER = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*_(?:total|bucket|count|sum))\b")
RANGE_FUNCTION = re.compile(r"\b(rate|irate)\s*\(")


def substitute(expr):
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)


def enclosing_function(expr, position):
    depth = 0
    for i in range(position - 1, -1, -1):
        c = expr[i]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth == 0:
                if c != "(":
                    continue
                match = re.search(r"([a-zA-Z_]+)\s*$", expr[:i])
                return match.group(1) if match else ""
            depth -= 1
    return ""


def range_selector_of(expr, start):
    """The [..] range of the range-vector function call opening at `start`."""
    depth = 0
    for i in range(start, len(expr)):
        if expr[i] == "(":
            depth += 1
        elif expr[i] == ")":
            depth -= 1
            if depth == 0:
                inner = expr[start:i]
                ranges = re.findall(r"\[([^\]]+)\]", inner)
                return ranges[-1] if ranges else None
    return None


def lint(path, promtool):
    problems = []
    d = json.load(open(path))
    say = lambda where, what: problems.append(f"{path}: {where}: {what}")
    if not d.get("title"):
        say("dashboard", "no title")
    if not d.get("uid"):
        say("dashboard", "no uid")
    if d.get("editable", True):
        say("dashboard", "editable should be false (provisioned dashboards are changed in the chart)")
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        say("templating", "needs a variable 'datasource' of type datasource with query 'prometheus'")
    expressions = []
    for v in variables.values():
        if v.get("type") == "query":
            if v.get("datasource", {}).get("uid") != "${datasource}":
                say(f"variable {v.get('name')}", "datasource must be ${datasource}")
    for panel in d.get("panels", []):
        if panel.get("type") == "row":
            continue
        where = f"panel {panel.get('id')} '{panel.get('title', '')}'"
        if not panel.get("title"):
            say(where, "no title")
        if not panel.get("description"):
            say(where, "no description")
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            say(where, "datasource must be ${datasource}")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if unit not in UNITS:
            say(where, f"unit {unit!r} is not a known Grafana unit")
        targets = panel.get("targets", [])
        if not targets:
            say(where, "no targets")
        for target in targets:
            twhere = f"{where} target {target.get('refId')}"
            if target.get("datasource", {}).get("uid") != "${datasource}":
                say(twhere, "datasource must be ${datasource}")
            expr = target.get("expr", "")
            if not expr.strip():
                say(twhere, "empty expression")
                continue
            for name in re.findall(r"\$\{?(\w+)\}?", expr):
                if name not in variables and name not in BUILTIN_VARIABLES:
                    say(twhere, f"uses undefined variable ${name}")
            for match in RANGE_FUNCTION.finditer(expr):
                selector = range_selector_of(expr, match.end() - 1)
                if selector != "$__rate_interval":
                    say(twhere, f"{match.group(1)}() must range over [$__rate_interval], not [{selector}]")
            for match in COUNTER.finditer(expr):
                function = enclosing_function(expr, match.start())
                if function not in ("rate", "irate", "increase"):
                    say(twhere, f"counter {match.group(1)} must be inside rate(), irate() or increase()")
            expressions.append((twhere, substitute(expr)))
    if expressions:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as rules:
            rules.write("groups:\n- name: dashboard\n  rules:\n")
            for i, (_, expr) in enumerate(expressions):
                rules.write(f"  - record: dashboard:expr{i}\n    expr: {json.dumps(expr)}\n")
        result = subprocess.run([promtool, "check", "rules", rules.name], capture_output=True, text=True)
        if result.returncode != 0:
            say("expressions", "promtool rejects an expression: " + (result.stdout + result.stderr).strip())
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--promtool", default=shutil.which("promtool"))
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    if not args.promtool:
        print("lint-dashboard: promtool not found", file=sys.stderr)
        return 2
    problems = [p for f in args.files for p in lint(f, args.promtool)]
    for p in problems:
        print(p)
    if not problems:
        print(f"lint-dashboard: {len(args.files)} dashboard(s) clean")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
