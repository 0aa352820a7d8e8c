#!/usr/bin/env bash
# Builds the Go-based real components from the Go module proxy into the cache:
#   kube  - kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (one go build, shared cache)
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
build_kube() {
  local dir
  dir=$(cache_dir kube "$KUBE_VERSION")
  cache_ready kube "$KUBE_VERSION" && return 0
  log "building Kubernetes $KUBE_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)"
  rm -rf "$dir" && mkdir -p "$dir/src" "$dir/bin"
  local upstream_mod staging_version
  upstream_mod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  staging_version="v0.${KUBE_VERSION#v1.}"
  {
    echo "module sluice.io/testenv/kube"
    echo
    grep -E '^go ' "$upstream_mod"
    grep -E '^godebug ' "$upstream_mod" || true
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    sed -nE 's#^\s*(k8s\.io/[a-z0-9-]+) => \./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$upstream_mod"
    echo ")"
  } >"$dir/src/go.mod"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  (
    cd "$dir/src"
    GOFLAGS=-mod=mod go get "k8s.io/kubernetes@$KUBE_VERSION" >/dev/null
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -tags selinux,notest -trimpath -ldflags "$ldflags" \
      -o "$dir/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl
  )
  mark_ready kube "$KUBE_VERSION"
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
((${#components[@]})) || components=(etcd kube kwok helm minio)
for c in "${components[@]}"; do
  "build_$c"
done
