#!/usr/bin/env bash
# The include graph of operator/ follows the layers of docs/ARCHITECTURE.md
# (scripts/check-layers.py), and the check does fail on a violation: a copy of
# a few files with one forbidden include must be reported with its file, line
# and include: metrics including a controller, and inside the runtime, whose
# folders are layers of their own, core including a source.
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

# expect_violation NAME EXPECTED: the check fails on $scratch/NAME and names EXPECTED.
expect_violation() {
  local out
  if out=$(python3 "$check" "$scratch/$1" 2>&1); then
    echo "FAIL: the check passed a tree where $1" >&2
    exit 1
  fi
  if ! grep -qF "$2" <<<"$out"; then
    echo "FAIL: the violation was not named as '$2'; the check said:" >&2
    echo "$out" >&2
    exit 1
  fi
}

tree="$scratch/metrics includes a controller"
mkdir -p "$tree/metrics" "$tree/controllers/function" "$tree/common"
cp "$root/operator/common/status.h" "$tree/common/"
cp "$root/operator/controllers/function/function_controller.h" "$tree/controllers/function/"
printf '#include "common/status.h"\n\n#include "controllers/function/function_controller.h"\n' >"$tree/metrics/bad.cpp"
expect_violation "metrics includes a controller" 'metrics/bad.cpp:3: includes controllers/function/function_controller.h'

tree="$scratch/runtime core includes a source"
mkdir -p "$tree/runtime/core" "$tree/runtime/sources"
cp "$root/operator/runtime/core/event.h" "$tree/runtime/core/"
cp "$root/operator/runtime/sources/source.h" "$tree/runtime/sources/"
printf '#include "runtime/core/event.h"\n#include "runtime/sources/source.h"\n' >"$tree/runtime/core/bad.cpp"
expect_violation "runtime core includes a source" \
  'runtime/core/bad.cpp:2: includes runtime/sources/source.h (folder runtime/core may use: common)'

echo "PASS: operator/ keeps its layers; forbidden includes are named (metrics -> controllers, runtime/core -> runtime/sources)"
