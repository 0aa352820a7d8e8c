#!/usr/bin/env bash
# make images: the sluice-operator, sluice-gateway and sluice-runtime-python
# images, built on this machine with no container registry and no Docker engine.
#
#   images/build.sh          every image -> $BUILD_DIR/images/<name>.tar (docker-archive)
#   images/build.sh base     only docker.io/library/debian:bookworm-slim (a minbase
#                            rootfs), so the multi-stage images/*.Dockerfile build
#                            offline with `buildah bud`
#   images/build.sh byo      the two handler images of the bring-your-own-image
#                            e2e scenario (docs/handler-images.md), no Sluice
#                            binary in them: sluice-e2e-python-requests (Debian's
#                            python3 3.11 and python3-requests) and
#                            sluice-e2e-node-handler (nodejs and images/byo/node-handler.js)
#
# How an image is made:
#  1. a root filesystem of Debian bookworm packages (mmdebstrap; only the
#     runtime libraries the binaries load, no compiler, no apt), cached as a tar
#     under $HOME/.cache/sluice/images keyed by a hash of its inputs;
#  2. buildah: `from scratch`, unpack that rootfs, add the binaries built on the
#     host (stripped) and librdkafka 2.12.1 (our own build, see
#     scripts/librdkafka.sh) into /usr/local, user 65532, labels; commit as
#     localhost/<name>:<version> and write a docker-archive (the node's
#     containerd takes it with `ctr -n k8s.io images import`).
# Compiling the binaries inside the image instead (the Dockerfiles' way) took
# ~33 min on 2 cores, which CI cannot afford; CI images carry host binaries,
# built from the same source by the same compiler against the same Debian
# release as the image's libraries.
#
# The final archive is cached too, keyed by the rootfs key, the binaries'
# sha256, this script and the git revision: a rerun with nothing changed takes
# seconds. Needs root (buildah's storage is /var/lib/containers; mmdebstrap's
# root mode).
#
# Environment: BUILD_DIR (default build), SLUICE_IMAGES_SKIP_BUILD=1 (use the
# binaries as they are instead of `cmake --build` first), SLUICE_IMAGES_LOCK_HELD=1
# (the caller holds $CACHE/.lock), DEBIAN_MIRROR,
# DEBIAN_SECURITY_MIRROR, SLUICE_IMAGES_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
CACHE=${SLUICE_IMAGES_CACHE:-$HOME/.cache/sluice/images}
OUT=$BUILD_DIR/images

# Bump when the rootfs recipe changes in a way the key below does not see
# (e.g. a hook's behaviour); the package lists and mirrors are hashed directly.
ROOTFS_RECIPE=3
SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# The security and updates suites too: the host builds against those versions.
# A live mirror is not a snapshot: the key stays the same when Debian publishes
# updates, so delete $CACHE (or bump ROOTFS_RECIPE) to pick them up.
MIRRORS=(
  "deb $DEBIAN_MIRROR $SUITE main"
  "deb $DEBIAN_MIRROR $SUITE-updates main"
  "deb $DEBIAN_SECURITY_MIRROR $SUITE-security main"
)
# Nothing reads documentation, man pages or translations in a container; the
# copyright files stay (license notices of what we ship).
DPKG_OPTS=(
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  # Merged /usr by symlinks before the essential packages: otherwise
  # init-system-helpers' "usrmerge | usr-is-merged" pulls usrmerge, and with it
  # the whole of perl (~47 MB), to convert a tree that is already merged.
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
)
# The image user: numeric, so a restricted Pod Security Standard's runAsNonRoot
# can check it without reading /etc/passwd. Named too, for tools that look it up.
UID_GID=65532
PASSWD_HOOK="echo 'sluice:x:$UID_GID:$UID_GID:sluice:/nonexistent:/usr/sbin/nologin' >> \"\$1/etc/passwd\"; echo 'sluice:x:$UID_GID:' >> \"\$1/etc/group\""

# Runtime libraries, from the binaries' DT_NEEDED entries (readelf -d) mapped to
# Debian packages (dpkg -S); their dependencies come along. librdkafka is not
# here: Debian's 2.0.2 is too old, the image gets ours. tests/integration/images
# checks inside the image that ldd resolves everything.
COMMON_PACKAGES=(ca-certificates tzdata libstdc++6 libgcc-s1 libssl3 zlib1g libzstd1 libcpprest2.10
  libprometheus-cpp-core1.0 librabbitmq4 libre2-9 libyaml-cpp0.7 libspdlog1.10 libfmt9)
# The operator also evaluates cron schedules in time zones (date-tz, reading
# tzdata's /usr/share/zoneinfo). Its /metrics is served by Sluice's own HTTP
# server, so no prometheus-cpp pull library (civetweb).
# Its validator (the admission webhook, --local --check) compiles inline
# handler code with an embedded Python 3.11, whose start needs the standard
# library (encodings); nothing is run.
OPERATOR_PACKAGES=("${COMMON_PACKAGES[@]}" libdate-tz3 libpython3.11 python3.11-minimal libpython3.11-stdlib)
# The runtime embeds Python 3.11: the interpreter's standard library is what
# handlers import (json, base64, ...); libarchive unpacks code archives.
RUNTIME_PACKAGES=("${COMMON_PACKAGES[@]}" libarchive13 libpython3.11 python3.11-minimal libpython3.11-stdlib)
# The gateway needs a subset of the operator's libraries: its image is made on
# the operator's root filesystem (one cached rootfs, no second mmdebstrap run).
declare -A ROOTFS_OF=([sluice-gateway]=sluice-operator)

log() { printf '[images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  echo "images: $*" >&2
  exit 1
}

check_tools() {
  ((EUID == 0)) || die "needs root (buildah's storage in /var/lib/containers, mmdebstrap's root mode)"
  local missing=() tool
  for tool in buildah mmdebstrap patchelf strip flock git sha256sum; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (make deps installs them)"
}

project_version() { sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt"; }

# rootfs NAME VARIANT PACKAGE...: prints the path of a cached rootfs tar, made
# with mmdebstrap when missing. The key hashes every input of the tar.
rootfs() {
  local name=$1 variant=$2
  shift 2
  local key tar partial
  key=$(printf '%s\n' "recipe $ROOTFS_RECIPE" "$variant" "$SUITE" "${MIRRORS[@]}" "${DPKG_OPTS[@]}" \
    "$PASSWD_HOOK" "$@" | sha256sum | cut -c1-16)
  tar=$CACHE/rootfs-$name-$key.tar
  if [[ ! -f $tar ]]; then
    log "rootfs $name ($key): mmdebstrap --variant=$variant, $# packages"
    local start=$SECONDS hooks=()
    [[ $variant == minbase ]] || hooks+=(--customize-hook="$PASSWD_HOOK")
    partial=$CACHE/.partial-$name-$key.tar
    # --include with no packages (the base) is not allowed.
    local include=()
    (($# == 0)) || include=(--include="$(
      IFS=,
      echo "$*"
    )")
    # Its chatter (hooks, dpkg) goes to a log, shown when it fails.
    local mlog=$CACHE/.mmdebstrap-$name.log
    mmdebstrap --quiet --variant="$variant" "${include[@]}" "${DPKG_OPTS[@]}" "${hooks[@]}" \
      --format=tar "$SUITE" "$partial" "${MIRRORS[@]}" >"$mlog" 2>&1 || {
      tail -n 30 "$mlog" >&2
      rm -f "$partial"
      die "mmdebstrap failed for $name (log: $mlog)"
    }
    mv "$partial" "$tar"
    prune "rootfs-$name-" "$tar"
    log "rootfs $name: $((SECONDS - start)) s, $(($(stat -c %s "$tar") / 1000000)) MB"
  fi
  echo "$tar"
}

# prune PREFIX KEEP: keeps the 3 newest cache files of one kind (a rootfs or an
# archive per image), so worktrees switching back and forth still hit.
prune() {
  local prefix=$1 keep=$2
  # shellcheck disable=SC2012  # names are ours: no spaces
  ls -t "$CACHE/$prefix"*.tar 2>/dev/null | { grep -vxF "$keep" || true; } | tail -n +3 | xargs -r rm -f
}

# The binaries come from the host build. `cmake --build` is a no-op (~1 s) when
# they are current, and keeps an image from carrying stale code.
host_binaries() {
  local targets=(sluice-operator sluice-gateway sluice-runtime) missing=() t
  if [[ ${SLUICE_IMAGES_SKIP_BUILD:-0} != 1 ]]; then
    [[ -f $BUILD_DIR/build.ninja || -f $BUILD_DIR/Makefile ]] ||
      die "$BUILD_DIR is not configured (run: cmake -S . -B $BUILD_DIR -G Ninja -DCMAKE_BUILD_TYPE=Quick, or make build)"
    log "cmake --build $BUILD_DIR --target ${targets[*]}"
    cmake --build "$BUILD_DIR" -j 2 --target "${targets[@]}" >&2 || die "building ${targets[*]} in $BUILD_DIR failed"
  fi
  for t in "${targets[@]}"; do [[ -x $BUILD_DIR/$t ]] || missing+=("$BUILD_DIR/$t"); done
  ((${#missing[@]} == 0)) || die "missing binaries: ${missing[*]}"
  LIBRDKAFKA=$(bash "$ROOT/scripts/librdkafka.sh" --prefix)/lib
  for t in librdkafka.so.1 librdkafka++.so.1; do [[ -f $LIBRDKAFKA/$t ]] || missing+=("$LIBRDKAFKA/$t"); done
  ((${#missing[@]} == 0)) || die "missing librdkafka: ${missing[*]} (scripts/librdkafka.sh builds it)"
}

# Stripped copies without the host RUNPATH (it names $HOME/.cache/...): in the
# image librdkafka lives in /usr/local/lib, found through ld.so.cache.
stage_binaries() {
  STAGE=$(mktemp -d "${TMPDIR:-/tmp}/sluice-images.XXXXXX")
  mkdir -p "$STAGE/bin" "$STAGE/lib"
  local b l
  for b in sluice-operator sluice-gateway sluice-runtime; do
    strip -o "$STAGE/bin/$b" "$BUILD_DIR/$b"
    patchelf --remove-rpath "$STAGE/bin/$b"
  done
  for l in librdkafka.so.1 librdkafka++.so.1; do
    strip --strip-unneeded -o "$STAGE/lib/$l" "$LIBRDKAFKA/$l"
    patchelf --remove-rpath "$STAGE/lib/$l"
  done
}

# The working container of the image being assembled; removed on any exit so
# neither containers nor mounts leak into /var/lib/containers.
WORKING=""
cleanup() {
  if [[ -n $WORKING ]]; then
    buildah umount "$WORKING" >/dev/null 2>&1 || true
    buildah rm "$WORKING" >/dev/null 2>&1 || true
  fi
  [[ -z ${STAGE:-} ]] || rm -rf "$STAGE"
}
trap cleanup EXIT

# spec.protocol python (docs/handler-images.md): the runtime, every library it
# loads and the dynamic loader, under one directory that the pod's init
# container copies into the Function's own image, which runs it through that
# loader (operator/platform/kube/pod_template.h names the path). Hard links:
# the bundle takes no room in the image. The Python standard library is not
# in it: the Function's image brings its own.
RUNTIME_BUNDLE=/usr/local/lib/sluice-runtime-bundle
runtime_bundle() {
  local mnt=$1 bundle=$1$RUNTIME_BUNDLE lib real
  mkdir -p "$bundle/bin" "$bundle/lib"
  ln "$mnt/usr/local/bin/sluice-runtime" "$bundle/bin/sluice-runtime"
  while read -r lib; do
    real=$(chroot "$mnt" readlink -f "$lib")
    ln "$mnt$real" "$bundle/lib/$(basename "$lib")"
  done < <(chroot "$mnt" /usr/bin/ldd /usr/local/bin/sluice-runtime | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
  [[ -f $bundle/lib/ld-linux-x86-64.so.2 && -f $bundle/lib/libpython3.11.so.1.0 ]] ||
    die "sluice-runtime-python: the runtime bundle lacks the loader or libpython ($(ls "$bundle/lib" | tr '\n' ' '))"
}

# assemble NAME ROOTFS_TAR BINARY DESCRIPTION IMAGE_REF: one image from scratch.
assemble() {
  local name=$1 rootfs_tar=$2 binary=$3 description=$4 ref=$5 mnt
  WORKING=$(buildah from --name "sluice-images-$name-$$" scratch)
  mnt=$(buildah mount "$WORKING")
  tar -xpf "$rootfs_tar" --numeric-owner -C "$mnt"
  install -m 0755 "$STAGE/bin/$binary" "$mnt/usr/local/bin/$binary"
  install -m 0644 "$STAGE/lib/librdkafka.so.1" "$STAGE/lib/librdkafka++.so.1" "$mnt/usr/local/lib/"
  # The host's ldconfig writes the image's cache (/etc/ld.so.conf.d/libc.conf
  # lists /usr/local/lib): nothing runs inside the image to build it.
  ldconfig -r "$mnt" || die "$name: ldconfig -r $mnt failed"
  if [[ $name == sluice-runtime-python ]]; then
    # Function code is mounted or unpacked here; the root filesystem is read-only.
    mkdir -p "$mnt/code" && chown "$UID_GID:$UID_GID" "$mnt/code"
    runtime_bundle "$mnt"
  fi
  # Fail here, naming the library, rather than in a pod's CrashLoopBackOff.
  local unresolved
  unresolved=$(chroot "$mnt" /usr/bin/ldd "/usr/local/bin/$binary" | grep 'not found' || true)
  [[ -z $unresolved ]] || die "$name: /usr/local/bin/$binary does not resolve in the image: $unresolved"
  buildah umount "$WORKING" >/dev/null

  local config=(
    --user "$UID_GID:$UID_GID" --workingdir / --entrypoint "[\"/usr/local/bin/$binary\"]"
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    --label org.opencontainers.image.title="$name"
    --label org.opencontainers.image.description="$description"
    --label org.opencontainers.image.version="$VERSION"
    --label org.opencontainers.image.revision="$REVISION"
    --label org.opencontainers.image.source="$SOURCE_URL"
    --label org.opencontainers.image.licenses=Apache-2.0
    --label org.opencontainers.image.created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    --label io.sluice.image.key="$ARCHIVE_KEY"
  )
  if [[ $name == sluice-runtime-python ]]; then
    config+=(--workingdir /code --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 --port 8090)
  elif [[ $name == sluice-gateway ]]; then
    config+=(--port 8080 --port 9090)
  else
    config+=(--port 8080 --port 8081)
  fi
  buildah config "${config[@]}" "$WORKING"
  # The previous build under this tag would stay behind untagged: remove it
  # (buildah refuses while a container still uses it, which is fine).
  local previous
  previous=$(buildah inspect --type image --format '{{.FromImageID}}' "$ref" 2>/dev/null || true)
  buildah commit --quiet --rm "$WORKING" "$ref" >/dev/null
  WORKING=""
  [[ -z $previous ]] || buildah rmi "$previous" >/dev/null 2>&1 || true
}

# image NAME BINARY DESCRIPTION PACKAGE...: the image and its archive, from
# the cache when its key is unchanged.
image() {
  local name=$1 binary=$2 description=$3
  shift 3
  local rootfs_tar rootfs_key ref=localhost/$name:$VERSION start=$SECONDS
  rootfs_tar=$(rootfs "${ROOTFS_OF[$name]:-$name}" essential "$@")
  rootfs_key=$(basename "$rootfs_tar" .tar)
  rootfs_key=${rootfs_key##*-}
  ARCHIVE_KEY=$(printf '%s\n' "$rootfs_key" "$VERSION" "$REVISION" "$SOURCE_URL" "$BINARIES_SHA" \
    "$(sha256sum "$ROOT/images/build.sh")" | sha256sum | cut -c1-16)
  local cached=$CACHE/archive-$name-$ARCHIVE_KEY.tar
  if [[ -f $cached ]]; then
    # The archive is current; the local store may hold an older build under the
    # same tag (or none), so load it back when its key label differs.
    local have
    have=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "io.sluice.image.key"}}' "$ref" 2>/dev/null || true)
    if [[ $have != "$ARCHIVE_KEY" ]]; then
      buildah pull --quiet "docker-archive:$cached" >/dev/null
    fi
    log "$ref: cached ($ARCHIVE_KEY)"
  else
    assemble "$name" "$rootfs_tar" "$binary" "$description" "$ref"
    rm -f "$cached.partial"
    buildah push --quiet "$ref" "docker-archive:$cached.partial:$ref" >/dev/null
    mv "$cached.partial" "$cached"
    prune "archive-$name-" "$cached"
    log "$ref: built in $((SECONDS - start)) s ($ARCHIVE_KEY)"
  fi
  cp --reflink=auto "$cached" "$OUT/$name.tar"
  # A docker-archive holds the layer as a plain tar, so its size is the
  # uncompressed image size.
  printf '%-36s %8s %s\n' "$ref" "$(awk -v b="$(stat -c %s "$cached")" 'BEGIN { printf "%.1f", b / 1e6 }')" \
    "$rootfs_key" >>"$OUT/sizes.txt.partial"
}

# docker.io/library/debian:bookworm-slim, which the Dockerfiles start FROM:
# there is no registry to pull it from. minbase keeps apt for their apt-get.
base_image() {
  local rootfs_tar key ref=docker.io/library/debian:bookworm-slim have
  rootfs_tar=$(rootfs debian-base minbase)
  key=$(basename "$rootfs_tar" .tar)
  key=${key##*-}
  have=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "io.sluice.image.key"}}' "$ref" 2>/dev/null || true)
  if [[ $have == "$key" ]]; then
    log "$ref: present ($key)"
    return
  fi
  WORKING=$(buildah from --name "sluice-images-base-$$" scratch)
  buildah add --quiet "$WORKING" "$rootfs_tar" / >/dev/null
  buildah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label io.sluice.image.key="$key" "$WORKING"
  buildah commit --quiet --rm "$WORKING" "$ref" >/dev/null
  WORKING=""
  log "$ref: committed from rootfs $key"
}

# byo_image NAME DESCRIPTION ENTRYPOINT_JSON FILE:DEST... -- PACKAGE...: a
# handler image of the e2e scenario tests/e2e/scenarios/byo_image_test.sh, from
# Debian packages only (no Sluice binary: the point is that any image works),
# user 65532, written to $OUT/NAME.tar. Rebuilt each time (seconds, on a
# cached rootfs).
byo_image() {
  local name=$1 description=$2 entrypoint=$3 files=() ref mnt spec
  shift 3
  while [[ $1 != -- ]]; do
    files+=("$1")
    shift
  done
  shift
  ref=localhost/$name:$VERSION
  local rootfs_tar
  rootfs_tar=$(rootfs "$name" essential "$@")
  WORKING=$(buildah from --name "sluice-images-$name-$$" scratch)
  mnt=$(buildah mount "$WORKING")
  tar -xpf "$rootfs_tar" --numeric-owner -C "$mnt"
  for spec in "${files[@]}"; do install -D -m 0644 "$ROOT/${spec%%:*}" "$mnt/${spec#*:}"; done
  buildah umount "$WORKING" >/dev/null
  buildah config --user "$UID_GID:$UID_GID" --workingdir / --entrypoint "$entrypoint" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label org.opencontainers.image.title="$name" --label org.opencontainers.image.description="$description" \
    --label org.opencontainers.image.version="$VERSION" "$WORKING"
  buildah commit --quiet --rm "$WORKING" "$ref" >/dev/null
  WORKING=""
  rm -f "$OUT/$name.tar"
  buildah push --quiet "$ref" "docker-archive:$OUT/$name.tar:$ref" >/dev/null
  log "$ref: $OUT/$name.tar"
}

byo_images() {
  VERSION=$(project_version)
  mkdir -p "$OUT"
  byo_image sluice-e2e-python-requests "Any Python 3.11 image with a package (requests): spec.protocol python" \
    '["/usr/bin/python3"]' -- python3 python3-requests ca-certificates
  byo_image sluice-e2e-node-handler "A Node.js HTTP handler: spec.protocol http" \
    '["/usr/bin/node", "/app/handler.js"]' images/byo/node-handler.js:app/handler.js -- nodejs ca-certificates
}

main() {
  check_tools
  mkdir -p "$CACHE"
  # One build at a time per machine: the cache and the image tags are shared by
  # every worktree.
  # (tests/integration/images holds the lock itself across build and checks,
  # and says so with SLUICE_IMAGES_LOCK_HELD=1.)
  if [[ ${SLUICE_IMAGES_LOCK_HELD:-0} != 1 ]]; then
    exec 9>"$CACHE/.lock"
    flock 9
  fi
  if [[ ${1:-} == base ]]; then
    base_image
    return
  fi
  if [[ ${1:-} == byo ]]; then
    byo_images
    return
  fi
  [[ -z ${1:-} ]] || die "unknown argument: $1 (none, base or byo)"
  local start=$SECONDS
  host_binaries
  stage_binaries
  VERSION=$(project_version)
  [[ -n $VERSION ]] || die "no project(sluice VERSION ...) in CMakeLists.txt"
  REVISION=$(git -C "$ROOT" rev-parse HEAD)
  SOURCE_URL=https://github.com/sluice-io/sluice
  BINARIES_SHA=$(cd "$STAGE" && sha256sum bin/* lib/*)
  mkdir -p "$OUT"
  printf '%-36s %8s %s\n' image "size MB" "rootfs key" >"$OUT/sizes.txt.partial"
  image sluice-operator sluice-operator \
    "Sluice controller manager: Functions, Triggers, warm pools and autoscaling" "${OPERATOR_PACKAGES[@]}"
  image sluice-gateway sluice-gateway \
    "Sluice HTTP gateway: a URL per Function, held from zero, balanced over its replicas" "${OPERATOR_PACKAGES[@]}"
  image sluice-runtime-python sluice-runtime \
    "Sluice function replica: embedded Python 3.11 handlers, built-in operators, sources and sinks" \
    "${RUNTIME_PACKAGES[@]}"
  mv "$OUT/sizes.txt.partial" "$OUT/sizes.txt"
  cat "$OUT/sizes.txt"
  log "done in $((SECONDS - start)) s: $OUT/sluice-operator.tar $OUT/sluice-gateway.tar $OUT/sluice-runtime-python.tar"
}

main "$@"
