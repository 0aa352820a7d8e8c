#!/usr/bin/env bash
# Installs every Debian package Sluice builds, tests and lints with. Idempotent:
# when all packages are present it only checks and exits. Runs unattended
# (CI=true, no stdin); needs root or passwordless sudo.
set -euo pipefail

PACKAGES=(
  # build toolchain (CMakeLists.txt compiles through ccache where it is installed; the Makefile keeps
  # its cache under ~/.cache/sluice, so a second clone or CI run on the machine compiles only what changed)
  build-essential cmake ninja-build pkg-config git curl ca-certificates openssl python3 python3-yaml ccache
  # test scripts read kubectl and API output as JSON; `ss -K` drops a replica's broker sockets mid-test
  jq iproute2
  # the design card's libraries
  libcpprest-dev nlohmann-json3-dev prometheus-cpp-dev librdkafka-dev libgtest-dev libgmock-dev
  # the rest of what operator/ and the runtime use
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev librabbitmq-dev pybind11-dev python3-dev
  libs3-dev libarchive-dev libre2-dev libhowardhinnant-date-dev libssl-dev zlib1g-dev libcurl4-openssl-dev
  # librdkafka 2.12.1 is built from source by scripts/librdkafka.sh (below); it
  # compresses with zstd (lz4 is bundled) and authenticates with OpenSSL
  libzstd-dev
  # lint
  clang-format clang-tidy
  # make fuzz and the fuzz phase of make test (tests/fuzz/): clang-14 comes with clang-tidy; libFuzzer's
  # driver and the ASan/UBSan runtimes that -fsanitize=fuzzer,address,undefined links are packaged apart
  libfuzzer-14-dev libclang-rt-14-dev
  # real components for tests/env (Kubernetes, etcd, KWOK, helm and MinIO are built from Go modules)
  rabbitmq-server prometheus golang-go default-jdk-headless maven
  # the real Kubernetes node of tests/env (components/node.sh): container runtime, image tools, pod
  # networking; the kubelet and the pause binary are built from the Kubernetes module
  containerd runc buildah mmdebstrap umoci skopeo containernetworking-plugins iptables conntrack socat
  uidmap fuse-overlayfs
  # inspection and load tools
  kcat amqp-tools
  # make images and its test (images/build.sh): root filesystems from Debian packages, assembled and run
  # with no registry or Docker engine; patchelf drops the host RUNPATH from the binaries they carry
  buildah mmdebstrap skopeo runc uidmap fuse-overlayfs patchelf
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The image may already ship Go/JDK/Maven outside dpkg; only install those when absent.
for tool in go:golang-go java:default-jdk-headless mvn:maven; do
  if command -v "${tool%%:*}" >/dev/null; then
    missing=("${missing[@]/${tool#*:}/}")
  fi
done
read -ra missing <<<"${missing[*]}"
# librdkafka from source, once per version (cached under ~/.cache/sluice);
# CMake's configure runs the same script, so a bare `cmake -S . -B build` works too.
build_librdkafka() { bash "$(dirname "$0")/librdkafka.sh" >/dev/null; }
if ((${#missing[@]} == 0)); then
  echo "deps: all ${#PACKAGES[@]} packages present"
  build_librdkafka
  exit 0
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo -n"
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Package post-install scripts must not start system-wide RabbitMQ/Prometheus
# services: tests/env starts its own instances on free ports.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && added_policy=1
fi
trap '[[ $added_policy == 1 ]] && $SUDO rm -f "$policy"' EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
build_librdkafka
