#!/usr/bin/env bash
# Leader-election benchmark: takeover times of real sluice-operator processes over
# a Lease on the real kube-apiserver of tests/env (after SIGKILL and after SIGTERM).
# Writes bench/results/leader_election.json. Needs the test environment up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
[[ -n ${KUBECONFIG:-} ]] || { echo "leader election bench: KUBECONFIG is not set (start the test environment: make testenv-up)" >&2; exit 1; }
build=${SLUICE_BENCH_BUILD_DIR:-$root/build}
driver=$build/sluice_bench_leader_election
operator=$build/sluice-operator
for binary in "$driver" "$operator"; do
  [[ -x $binary ]] || { echo "leader election bench: $binary not built (cmake --build $build --target sluice_bench_leader_election sluice-operator)" >&2; exit 1; }
done
mkdir -p "$root/bench/results"
"$driver" --kubeconfig "$KUBECONFIG" --operator "$operator" --out "$root/bench/results/leader_election.json" "$@"
