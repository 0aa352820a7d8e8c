#!/usr/bin/env bash
# Informer benchmark: 10,000 ConfigMaps on the real kube-apiserver of tests/env.
# Writes bench/results/informer.json. Needs the test environment up (make testenv-up).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/testenv.sh"
[[ -n ${KUBECONFIG:-} ]] || { echo "informer bench: KUBECONFIG is not set (start the test environment: make testenv-up)" >&2; exit 1; }
build=${SLUICE_BENCH_BUILD_DIR:-$root/build}
driver=$build/sluice_bench_informer
[[ -x $driver ]] || { echo "informer bench: $driver not built (cmake --build $build --target sluice_bench_informer)" >&2; exit 1; }
mkdir -p "$root/bench/results"
"$driver" --kubeconfig "$KUBECONFIG" --out "$root/bench/results/informer.json" "$@"
