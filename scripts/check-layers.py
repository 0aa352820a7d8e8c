#!/usr/bin/env python3
"""Fails when a file under operator/ includes a folder its layer may not use.

The table below is the layering of docs/ARCHITECTURE.md: each concept folder
names the folders it may include (its own is always allowed, and so are the
generated headers under sluice/). The CMake targets of operator/CMakeLists.txt
link the same graph. Usage: check-layers.py [OPERATOR_DIR]; exit 1 with one
line per violation ("file:line: includes X (folder F may use: ...)").
"""
import os
import re
import sys

# folder -> folders it may include directly.
ALLOWED = {
    "common": [],
    "http": ["common"],
    "tls": ["common"],
    "kube": ["common"],
    "kube/memory": ["common", "kube"],
    # runtime/expression: the pipeline's own regex rule and expression compiler, so the validator
    # refuses what a replica could not load (api/v1alpha1/semantics).
    "api": ["common", "autoscaler", "runtime/expression"],
    "python_syntax": ["common"],
    "reconcile": ["common", "kube", "http"],
    "spec": ["common", "kube", "api", "clients"],
    "objectstore": ["common", "http"],
    "clients": ["common"],
    "autoscaler": ["common"],
    "scalers": ["common", "http", "kube", "objectstore", "clients", "autoscaler"],
    "metrics": ["common", "kube", "reconcile", "api", "http"],
    "platform": ["common", "http", "spec"],
    "platform/kube": ["common", "kube", "reconcile", "api", "spec", "platform", "tls"],
    "platform/local": ["common", "kube", "spec", "platform"],
    "controllers": ["common", "http", "kube", "reconcile", "api", "spec", "autoscaler", "scalers", "clients", "metrics",
                    "platform", "platform/kube"],
    "simulator": ["common", "autoscaler", "api"],
    "localmode": ["common", "kube", "kube/memory", "reconcile", "api", "spec", "controllers", "platform",
              "platform/local"],
    "gateway": ["common", "http", "kube", "api", "spec", "clients"],
    # The validating admission webhook: the API's validator served over HTTPS.
    "admission": ["common", "http", "kube", "api", "tls"],
    # The sluice CLI: manifests checked as --local checks them, the cluster through kube,
    # dead letters read and redriven through the brokers' clients.
    "cli": ["common", "http", "kube", "api", "spec", "localmode", "clients"],
    # The runtime: one layer per folder, bottom first (the folders of the operator
    # it may use are common, http, objectstore and clients).
    "runtime/core": ["common"],
    "runtime/expression": ["common"],
    "runtime/metrics": ["common", "http"],
    "runtime/config": ["common", "runtime/expression"],
    "runtime/memory": ["common", "runtime/core"],
    "runtime/shapes": ["common", "runtime/core", "runtime/config"],
    "runtime/pipeline": ["common", "runtime/core", "runtime/config", "runtime/expression", "runtime/memory"],
    "runtime/python": ["common", "runtime/core", "runtime/config", "runtime/shapes"],
    "runtime/handlers": ["common", "runtime/core", "runtime/config", "runtime/pipeline", "runtime/python"],
    "runtime/sources": ["common", "objectstore", "clients", "runtime/core", "runtime/metrics", "runtime/shapes"],
    "runtime/sinks": ["common", "http", "objectstore", "clients", "runtime/core"],
    "runtime/delivery": ["common", "runtime/core", "runtime/memory", "runtime/metrics", "runtime/sources", "runtime/sinks"],
    "runtime/control": ["common", "http", "objectstore", "clients", "runtime/core", "runtime/config",
                        "runtime/memory", "runtime/metrics", "runtime/sources", "runtime/sinks", "runtime/delivery",
                        "runtime/handlers"],
    # The binaries choose and wire everything.
    "cmd": None,
}

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', re.M)


def folder_of(path):
    """The concept folder of a path relative to operator/ (platform/kube, kube/memory, runtime/sources, ...)."""
    parts = path.split("/")
    if len(parts) > 2 and parts[0] + "/" + parts[1] in ALLOWED:
        return parts[0] + "/" + parts[1]
    return parts[0]


def check(root):
    violations = []
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith((".h", ".cpp", ".h.in")):
                continue
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            folder = folder_of(relative)
            if folder not in ALLOWED:
                violations.append(f"{relative}: folder {folder} is not in the layer table (scripts/check-layers.py)")
                continue
            allowed = ALLOWED[folder]
            if allowed is None:
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            for match in INCLUDE.finditer(text):
                include = match.group(1)
                if "/" not in include or include.startswith("sluice/"):
                    continue
                target = folder_of(include)
                if target == folder or target in allowed:
                    continue
                line = text.count("\n", 0, match.start()) + 1
                violations.append(f"{relative}:{line}: includes {include} "
                                  f"(folder {folder} may use: {', '.join(allowed) or 'nothing'})")
    return violations


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "operator")
    violations = check(os.path.normpath(root))
    for v in violations:
        print(v)
    if violations:
        print(f"{len(violations)} forbidden include(s); see docs/ARCHITECTURE.md", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
