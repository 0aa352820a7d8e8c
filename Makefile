# Sluice — every entry point a developer or CI uses. `make help` lists them.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= Quick
BENCH_BUILD_DIR ?= build/release
JOBS ?= $(shell nproc)
# ccache (installed by make deps, used by CMakeLists.txt): one cache for every clone on this machine,
# beside the test environment's; paths below this folder hash as relative, so clones elsewhere hit it.
export CCACHE_DIR ?= $(HOME)/.cache/sluice/ccache
export CCACHE_BASEDIR ?= $(CURDIR)
CTEST_ARGS ?=
# `make run`: how long the local demo runs (seconds); it ends earlier once all work is done.
RUN_SECONDS ?= 120
# `make fuzz`: how long each fuzz target runs (seconds).
FUZZ_SECONDS ?= 60

.PHONY: help deps configure build demo-binaries test fuzz test-under-load unit-test run lint format bench images image-base chart-crds testenv-up testenv-down clean

help:
	@echo "make run           build the two binaries it runs, then run the local demo (log cleansing 0->N->0, an HTTP Function curled from zero); RUN_SECONDS=N bounds it"
	@echo "make test          install, build, start the real test environment, run every test, stop it; prints each phase's time"
	@echo "make test-under-load  make test with two CPU hogs and an I/O hog beside it (LOAD_SECONDS bounds them)"
	@echo "                   CTEST_ARGS=... selects tests, TESTENV_COMPONENTS=\"kafka ...\" starts only those servers"
	@echo "make fuzz          build the libFuzzer targets of tests/fuzz/ (clang, ASan+UBSan) into build-fuzz/, run each FUZZ_SECONDS (60)"
	@echo "make unit-test     build and run the unit tests only (no servers)"
	@echo "make deps          install Debian packages (idempotent)"
	@echo "make build         configure and build into $(BUILD_DIR)/"
	@echo "make lint          clang-format and clang-tidy checks"
	@echo "make bench         run the benchmarks in bench/"
	@echo "make images        build the operator and runtime images (mmdebstrap + buildah, host binaries) into $(BUILD_DIR)/images/"
	@echo "make image-base    commit an mmdebstrap debian:bookworm-slim locally, for buildah bud of images/*.Dockerfile"
	@echo "make chart-crds    copy crds/ into the Helm chart (a unit test fails while they differ)"
	@echo "make testenv-up    start Kubernetes (KWOK nodes + a real node), Kafka, RabbitMQ, MinIO, HDFS, Prometheus on 127.0.0.1"
	@echo "make testenv-down  stop what testenv-up started"
	@echo "make clean         remove $(BUILD_DIR)/"

deps:
	@bash scripts/deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# What `make run` executes: sluice-operator, which starts sluice-runtime processes.
# The test and bench binaries are three quarters of the compile time (cold CI build,
# 2026-12-04: 2324 of 3165 step-seconds), and a newcomer waits for none of them.
demo-binaries: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target sluice-operator sluice-runtime

# All tests: unit tests and integration tests against the real components. The
# script runs deps and build itself, so its phase table also covers them.
test:
	@MAKE="$(MAKE)" bash tests/run-tests.sh $(CTEST_ARGS)

# The whole suite on a busy machine (CI shares its two cores). Built first, so
# the load falls on the tests rather than the compiler.
test-under-load: build
	@MAKE="$(MAKE)" bash tests/run-under-load.sh

# The libFuzzer targets, in their own clang build directory (tests/fuzz/run.sh);
# make test runs them too, 20 s each.
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

unit-test: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The main job: seed scenario 1 on this machine with `sluice-operator --local` (scripts/local_demo.py).
run: demo-binaries
	python3 scripts/local_demo.py --seconds $(RUN_SECONDS) --build-dir $(BUILD_DIR) --work-dir $(BUILD_DIR)/demo \
	  $(if $(S3_ENDPOINT),--s3-endpoint $(S3_ENDPOINT)) $(if $(KAFKA_BOOTSTRAP),--kafka-bootstrap $(KAFKA_BOOTSTRAP))

lint: configure
	@bash scripts/lint.sh $(BUILD_DIR)

format: deps
	@bash scripts/lint.sh --fix $(BUILD_DIR)

# Benchmarks run optimized binaries from their own build directory.
bench: deps
	cmake -S . -B $(BENCH_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BENCH_BUILD_DIR) -j $(JOBS)
	@SLUICE_BENCH_BUILD_DIR=$(abspath $(BENCH_BUILD_DIR)) bash bench/run.sh

# Both images from the host's sluice-operator and sluice-runtime (built first if
# needed) on Debian rootfs made by mmdebstrap: no registry, no Docker engine.
images:
	@BUILD_DIR=$(BUILD_DIR) bash images/build.sh

image-base:
	@bash images/build.sh base

chart-crds:
	@bash scripts/sync-chart-crds.sh

testenv-up: deps
	@bash tests/env/up.sh

testenv-down:
	@bash tests/env/down.sh

clean:
	rm -rf $(BUILD_DIR)
