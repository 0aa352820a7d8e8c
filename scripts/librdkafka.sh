#!/usr/bin/env bash
# Builds librdkafka (C and C++ libraries, TLS + SASL PLAIN/SCRAM via OpenSSL,
# zstd, bundled lz4) from source into a cache directory keyed by its version,
# and reuses it when present. Debian bookworm ships 2.0.2, whose
# cooperative-sticky consumer aborts on close before the first assignment
# (librdkafka #4312, fixed in 2.3.0) and fails commits during a cooperative
# rebalance; the Kafka source relies on both working.
#
#   scripts/librdkafka.sh          build if missing, print the install prefix
#   scripts/librdkafka.sh --prefix print the prefix only (no build)
#
# The source comes from the rdkafka-sys crate on crates.io, which vendors the
# unmodified librdkafka release tree; its checksum is pinned here.
set -euo pipefail

LIBRDKAFKA_VERSION=2.12.1
CRATE_VERSION=4.10.0+${LIBRDKAFKA_VERSION}
CRATE_SHA256=e234cf318915c1059d4921ef7f75616b5219b10b46e9f3a511a15eb4b56a3f77

SLUICE_CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}
prefix=$SLUICE_CACHE/librdkafka-$LIBRDKAFKA_VERSION

if [[ ${1:-} == --prefix ]]; then
  echo "$prefix"
  exit 0
fi
# Built only once the marker exists, so an interrupted build is redone.
if [[ -f $prefix/.done ]]; then
  echo "$prefix"
  exit 0
fi

log() { printf '[librdkafka %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
start=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/librdkafka-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

crate=$SLUICE_CACHE/downloads/rdkafka-sys-$CRATE_VERSION.crate
if [[ ! -f $crate ]] || ! echo "$CRATE_SHA256  $crate" | sha256sum -c --quiet - 2>/dev/null; then
  log "downloading librdkafka $LIBRDKAFKA_VERSION source (rdkafka-sys $CRATE_VERSION)"
  mkdir -p "$(dirname "$crate")"
  curl -fsSL --retry 3 -o "$crate.part" "https://static.crates.io/crates/rdkafka-sys/rdkafka-sys-$CRATE_VERSION.crate"
  echo "$CRATE_SHA256  $crate.part" | sha256sum -c --quiet - || { log "checksum mismatch"; exit 1; }
  mv "$crate.part" "$crate"
fi
tar xzf "$crate" -C "$work"
src=$(echo "$work"/rdkafka-sys-*/librdkafka)

log "building librdkafka $LIBRDKAFKA_VERSION into $prefix"
rm -rf "$prefix"
cd "$src"
# mklove's configure rather than CMake: CMake ties SASL to Cyrus (GSSAPI),
# which Sluice does not use; configure builds SCRAM/PLAIN on OpenSSL alone.
# The install lib dir's rpath is baked in so librdkafka++ finds librdkafka.
./configure --prefix="$prefix" --disable-gssapi --enable-ssl --enable-zstd --disable-lz4-ext \
  --disable-curl --disable-syslog --disable-debug-symbols \
  --LDFLAGS="-Wl,-rpath,$prefix/lib" >"$work/configure.log" 2>&1 || {
  tail -n 40 "$work/configure.log" >&2
  exit 1
}
jobs=${LIBRDKAFKA_JOBS:-$(nproc)}
make -j "$jobs" libs >"$work/make.log" 2>&1 || {
  tail -n 60 "$work/make.log" >&2
  exit 1
}
make install-subdirs >"$work/install.log" 2>&1 || {
  tail -n 40 "$work/install.log" >&2
  exit 1
}
# Static archives are not used (Sluice links the shared libraries by rpath).
rm -f "$prefix"/lib/*.a "$prefix"/lib/pkgconfig/*-static.pc
touch "$prefix/.done"
log "built librdkafka $LIBRDKAFKA_VERSION in $((SECONDS - start)) s"
echo "$prefix"
