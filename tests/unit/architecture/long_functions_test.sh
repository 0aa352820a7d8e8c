#!/usr/bin/env bash
# No source function under operator/ grows past 80 lines: the ones still over
# are listed in scripts/long-functions.allow, which only shrinks. The check
# does fail on a new long function (a planted 90-line one is named) and on a
# listed one that got short (so the list cannot go stale).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
check=$root/scripts/long-functions.py

if ! out=$(python3 "$check" --allow "$root/scripts/long-functions.allow" "$root/operator" 2>&1); then
  echo "FAIL: function lengths in operator/:" >&2
  echo "$out" >&2
  exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/tree/scalers"
{
  echo 'namespace sluice::scalers {'
  echo 'struct Reading { int value; };'
  echo 'int Reading_sum(const int* values) {  // "{" in a comment and "}" in a string do not count'
  echo '  int total = 0;'
  for i in $(seq 1 87); do echo "  total += values[$i];"; done
  echo '  return total;'
  echo '}'
  echo 'int shortOne() { return 1; }'
  # A digit separator is not a character literal: the braces after it still count.
  echo "int separated() { int timeout{10'000}; return timeout; }"
  echo 'int shortTwo() { return 2; }'
  echo '}  // namespace sluice::scalers'
} >"$scratch/tree/scalers/long.cpp"
echo 'scalers/long.cpp gone' >"$scratch/allow"
if out=$(python3 "$check" --allow "$scratch/allow" "$scratch/tree" 2>&1); then
  echo "FAIL: the check passed a 90-line function" >&2
  exit 1
fi
for expected in 'scalers/long.cpp:3: Reading_sum: 91 lines' 'FAIL: scalers/long.cpp Reading_sum is over 80 lines' \
  'FAIL: scalers/long.cpp gone is no longer over 80 lines'; do
  if ! grep -qF "$expected" <<<"$out"; then
    echo "FAIL: expected '$expected'; the check said:" >&2
    echo "$out" >&2
    exit 1
  fi
done
if grep -q 'separated\|shortTwo' <<<"$out"; then
  echo "FAIL: a digit separator (10'000) was read as a character literal: $out" >&2
  exit 1
fi
echo "PASS: $(grep -vc '^#' "$root/scripts/long-functions.allow") listed functions over 80 lines, no new one; a new one is named"
