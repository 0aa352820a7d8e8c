#!/usr/bin/env bash
# make lint: clang-format (check, or --fix to rewrite) and clang-tidy over project C++.
# Usage: lint.sh [--fix] BUILD_DIR
set -euo pipefail
fix=0
if [[ ${1:-} == --fix ]]; then fix=1; shift; fi
build_dir=${1:-build}
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'operator/*.cpp' 'operator/*.h' 'tests/*.cpp' 'tests/*.h')
((${#files[@]})) || { echo "lint: no C++ files"; exit 0; }

if ((fix)); then
  clang-format -i "${files[@]}"
  echo "lint: formatted ${#files[@]} files"
  exit 0
fi

echo "lint: clang-format on ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}"

[[ -f $build_dir/compile_commands.json ]] || { echo "lint: run 'make build' first ($build_dir/compile_commands.json missing)"; exit 1; }
mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep '\.cpp$')
echo "lint: clang-tidy on ${#sources[@]} files"
# GCC-only flags in compile_commands.json are unknown to clang; tell clang-tidy to ignore them. librdkafka's
# RD_KAFKA_V_* macros expand to GNU statement expressions, which GCC (our compiler) accepts.
printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -n 4 \
  clang-tidy --quiet -p "$build_dir" --extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-unused-command-line-argument \
  --extra-arg=-Wno-gnu-statement-expression
echo "lint: clean"
