#!/usr/bin/env bash
# Builds KEDA's operator (cmd/operator of github.com/kedacore/keda/v2) from its Go
# module, for the side-by-side scale benchmark of issue 14 (bench/scale/keda_run.sh).
# Cached by version under $HOME/.cache/sluice/keda/<version>/: a second run only
# prints the path. The module is fetched through the Go module proxy like any Go
# dependency; `go install pkg@version` refuses modules with replace directives, so
# the source is copied out of the read-only module cache and built there.
# Usage: bench/scale/keda.sh [version]   (default KEDA_VERSION or v2.21.0: v2.21.1 needs Go >= 1.27.4, newer than the approved go1.27.3 toolchain)
set -euo pipefail
version="${1:-${KEDA_VERSION:-v2.21.0}}"
dir="$HOME/.cache/sluice/keda/$version"
bin="$dir/keda-operator"
if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
fi
mkdir -p "$dir"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
modcache="$(go env GOMODCACHE)"
src="$modcache/github.com/kedacore/keda/v2@$version"
[[ -d "$src" ]] || (cd "$dir" && go mod download -x "github.com/kedacore/keda/v2@$version" >&2)
rm -rf "$dir/src"
cp -r "$src" "$dir/src"
chmod -R u+w "$dir/src"
start=$(date +%s)
# CGO off: the operator needs no C, and a static binary keeps the RSS comparison
# free of glibc's dynamic loader.
(cd "$dir/src" && CGO_ENABLED=0 nice -n 19 go build -p 2 -trimpath \
    -o "$bin.tmp" ./cmd/operator >&2)
mv "$bin.tmp" "$bin"
echo "built in $(($(date +%s) - start)) s with $(go version)" > "$dir/BUILD_INFO"
echo "$bin"
