#!/usr/bin/env bash
# Builds the Go-based real components from the Go module proxy into the cache:
#   kube    - kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (one go build, shared cache)
#   kubelet - the real node's kubelet (same version and flags as kube)
#   pause   - the pod sandbox binary, compiled from the k8s.io/kubernetes module's C source
#   etcd  - etcd server
#   kwok  - fake-node controller
#   helm  - helm CLI
#   minio - S3-compatible server
# Usage: build-go-tools.sh [component...]   (default: all). Idempotent: a built
# version (its `.done` marker) is reused.
source "$(dirname "$0")/lib.sh"

# Kubernetes publishes its staging repos as separate modules at v0.Y.Z, but its
# own go.mod points them at ./staging. A wrapper module requires
# k8s.io/kubernetes and maps every staging path to the published module.
# kube_wrapper_module DIR NAME: writes that go.mod into DIR (module sluice.io/testenv/NAME).
kube_wrapper_module() {
  local dir=$1 name=$2 upstream_mod staging_version
  upstream_mod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  staging_version="v0.${KUBE_VERSION#v1.}"
  {
    echo "module sluice.io/testenv/$name"
    echo
    grep -E '^go ' "$upstream_mod"
    grep -E '^godebug ' "$upstream_mod" || true
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    sed -nE 's#^\s*(k8s\.io/[a-z0-9-]+) => \./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$upstream_mod"
    echo ")"
  } >"$dir/go.mod"
}

# kube_go_build SRC_DIR OUT_DIR PACKAGE...: one go build of Kubernetes commands
# with the flags and version stamps of a release build. The same flags for
# every caller, so the kubelet build reuses the compiled control-plane packages
# in GOCACHE.
kube_go_build() {
  local src=$1 out=$2
  shift 2
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  (
    cd "$src"
    GOFLAGS=-mod=mod go get "k8s.io/kubernetes@$KUBE_VERSION" >/dev/null
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -tags selinux,notest -trimpath -ldflags "$ldflags" \
      -o "$out/" "$@"
  )
}

build_kube() {
  local dir
  dir=$(cache_dir kube "$KUBE_VERSION")
  cache_ready kube "$KUBE_VERSION" && return 0
  log "building Kubernetes $KUBE_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)"
  rm -rf "$dir" && mkdir -p "$dir/src" "$dir/bin"
  kube_wrapper_module "$dir/src" kube
  kube_go_build "$dir/src" "$dir/bin" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
  mark_ready kube "$KUBE_VERSION"
}

# The kubelet of the real node (components/node.sh). A cache entry of its own,
# so adding it did not rebuild the control plane; the module download and most
# compiled packages are shared with build_kube through GOMODCACHE/GOCACHE.
build_kubelet() {
  local dir
  dir=$(cache_dir kubelet "$KUBE_VERSION")
  cache_ready kubelet "$KUBE_VERSION" && return 0
  log "building kubelet $KUBE_VERSION"
  rm -rf "$dir" && mkdir -p "$dir/src" "$dir/bin"
  kube_wrapper_module "$dir/src" kubelet
  kube_go_build "$dir/src" "$dir/bin" k8s.io/kubernetes/cmd/kubelet
  mark_ready kubelet "$KUBE_VERSION"
}

# The pod sandbox's pause process, from the C source that ships in the
# k8s.io/kubernetes module (no registry to pull registry.k8s.io/pause from),
# built as upstream's build/pause/Makefile does. Its tag is that Makefile's TAG.
build_pause() {
  local dir
  dir=$(cache_dir pause "$KUBE_VERSION")
  cache_ready pause "$KUBE_VERSION" && return 0
  log "building pause from k8s.io/kubernetes $KUBE_VERSION"
  rm -rf "$dir" && mkdir -p "$dir/bin"
  local src tag
  src=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/build/pause
  tag=$(sed -nE 's/^TAG \?= *([0-9.]+).*/\1/p' "$src/Makefile")
  [[ -n $tag ]] || die "no TAG in $src/Makefile"
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-sluice" -o "$dir/bin/pause" "$src/linux/pause.c"
  echo "$tag" >"$dir/tag"
  mark_ready pause "$KUBE_VERSION"
}

# etcd's server module carries replace directives, so `go install` refuses it;
# a wrapper module that requires it builds fine.
build_etcd() {
  local dir
  dir=$(cache_dir etcd "$ETCD_VERSION")
  cache_ready etcd "$ETCD_VERSION" && return 0
  log "building etcd $ETCD_VERSION"
  rm -rf "$dir" && mkdir -p "$dir/src" "$dir/bin"
  (
    cd "$dir/src"
    printf 'module sluice.io/testenv/etcd\n\ngo 1.23\n' >go.mod
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3
  )
  mark_ready etcd "$ETCD_VERSION"
}

# go install MODULE@VERSION into the cache (for modules without replace directives).
go_install() {
  local name=$1 version=$2 pkg=$3
  local dir
  dir=$(cache_dir "$name" "$version")
  cache_ready "$name" "$version" && return 0
  log "building $name $version"
  rm -rf "$dir" && mkdir -p "$dir/bin"
  CGO_ENABLED=0 GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w" "$pkg@$version"
  mark_ready "$name" "$version"
}

build_kwok() { go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok; }
build_helm() { go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm; }
build_minio() { go_install minio "$MINIO_VERSION" github.com/minio/minio; }

# Kubernetes 1.33 needs Go >= 1.24; Debian 12's golang-go (1.19) is too old.
go_version=$(go env GOVERSION 2>/dev/null || echo none)
if [[ ! $go_version =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < 24)); then
  die "Go >= 1.24 is needed to build the test environment, found '$go_version' ($(command -v go || echo 'no go on PATH'))"
fi

components=("$@")
((${#components[@]})) || components=(etcd kube kubelet pause kwok helm minio)
for c in "${components[@]}"; do
  "build_$c"
done
