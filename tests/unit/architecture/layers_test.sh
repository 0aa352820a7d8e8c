#!/usr/bin/env bash
# The include graph of operator/ follows the layers of docs/ARCHITECTURE.md
# (scripts/check-layers.py), and the check does fail on a violation: a copy of
# a few files with one forbidden include (metrics including a controller) must
# be reported with its file, line and include.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
check=$root/scripts/check-layers.py

if ! out=$(python3 "$check" "$root/operator" 2>&1); then
  echo "FAIL: forbidden includes in operator/:" >&2
  echo "$out" >&2
  exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/metrics" "$scratch/controllers/function" "$scratch/common"
cp "$root/operator/common/status.h" "$scratch/common/"
cp "$root/operator/controllers/function/function_controller.h" "$scratch/controllers/function/"
printf '#include "common/status.h"\n\n#include "controllers/function/function_controller.h"\n' >"$scratch/metrics/bad.cpp"
if out=$(python3 "$check" "$scratch" 2>&1); then
  echo "FAIL: the check passed a tree where metrics includes a controller" >&2
  exit 1
fi
expected='metrics/bad.cpp:3: includes controllers/function/function_controller.h'
if ! grep -qF "$expected" <<<"$out"; then
  echo "FAIL: the violation was not named as '$expected'; the check said:" >&2
  echo "$out" >&2
  exit 1
fi
echo "PASS: operator/ keeps its layers; a forbidden include is named ($expected)"
