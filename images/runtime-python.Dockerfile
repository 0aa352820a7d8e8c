# sluice-runtime image for Python handlers and built-in pipelines: multi-stage;
# the final stage carries the Python 3.11 standard library, no compiler, and runs as non-root
# with a read-only root filesystem (handlers get /tmp as an emptyDir).
# Build from the repository root: buildah bud -f images/runtime-python.Dockerfile -t sluice-runtime-python .
# Offline, on a machine with no registry (how this repository's CI is set up):
#   bash images/build.sh base   # commits an mmdebstrap minbase rootfs as docker.io/library/debian:bookworm-slim
#   buildah bud --network host --secret id=cabundle,src=/etc/ssl/certs/ca-certificates.crt \
#     -f images/runtime-python.Dockerfile -t sluice-runtime-python .
# The secret is optional: it hands the host's CA bundle to the HTTPS download
# of librdkafka's source at configure time (behind a TLS-inspecting proxy the
# image's own bundle fails the check); plain-HTTP apt needs nothing.
# The build stage compiles everything in Release: ~33 min on 2 cores, too long
# for CI, which instead builds both images from the host's binaries with
# `make images` (images/build.sh: smaller, no apt, tested by
# tests/integration/images). This file is for publishing from a clean tree.
ARG DEBIAN=debian:bookworm-slim

FROM ${DEBIAN} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git ca-certificates curl python3 \
      libcpprest-dev nlohmann-json3-dev prometheus-cpp-dev libzstd-dev libgtest-dev libgmock-dev \
      libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev librabbitmq-dev pybind11-dev python3-dev \
      libs3-dev libarchive-dev libre2-dev libhowardhinnant-date-dev libssl-dev zlib1g-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
# librdkafka 2.12.1 is built from source at configure time (scripts/librdkafka.sh)
# into $SLUICE_CACHE/librdkafka-<version>; the binaries find it by RPATH, so the
# final stage copies its lib/ to the same path.
ENV SLUICE_CACHE=/opt/sluice
COPY scripts/librdkafka.sh scripts/librdkafka.sh
# operator/CMakeLists.txt embeds the CRDs (the --local mode validates manifests against them).
COPY crds crds
COPY operator operator
COPY tests tests
COPY bench bench
RUN --mount=type=secret,id=cabundle \
    if [ -s /run/secrets/cabundle ]; then export CURL_CA_BUNDLE=/run/secrets/cabundle; fi \
    && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    && cmake --build /build --target sluice-runtime \
    && strip /build/sluice-runtime

FROM ${DEBIAN}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="sluice-runtime-python" \
      org.opencontainers.image.description="Sluice function replica: embedded Python 3.11 handlers, built-in operators, sources and sinks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libprometheus-cpp-core1.0 libzstd1 \
      libyaml-cpp0.7 libspdlog1.10 libfmt9 libdate-tz3 librabbitmq4 libarchive13 libre2-9 libpython3.11 libssl3 python3.11-minimal libpython3.11-stdlib \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 sluice && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin sluice \
    && mkdir -p /code /etc/sluice && chown 65532:65532 /code
COPY --from=build /opt/sluice/librdkafka-2.12.1/lib /opt/sluice/librdkafka-2.12.1/lib
COPY --from=build /build/sluice-runtime /usr/local/bin/sluice-runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 8090
ENTRYPOINT ["/usr/local/bin/sluice-runtime"]
