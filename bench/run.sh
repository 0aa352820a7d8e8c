#!/usr/bin/env bash
# make bench: runs every bench/<name>/run.sh in turn. Each writes its results
# to bench/results/ and prints ratios against a baseline measured in the same run.
# SLUICE_BENCH_BUILD_DIR (set by make bench) holds the Release binaries.
set -euo pipefail
cd "$(dirname "$0")"
shopt -s nullglob
ran=0
for script in */run.sh; do
  echo "== bench: ${script%/run.sh}"
  bash "$script"
  ran=$((ran + 1))
done
((ran)) || echo "bench: no benchmarks yet"
