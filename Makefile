# Skiff: the README's two commands are `make cluster` and `make test`.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PKGS := liblz4-dev libsqlite3-dev pkg-config iproute2 iptables python3 procps
CLUSTER_DIR ?= $(CURDIR)/.cluster
NODES ?= 3
SEEDS ?= 2000
SEED ?= 1
DURATION ?= 300
FAULTS ?= mixed

.PHONY: all deps build release cluster cluster-down test lint fmt unit sim chaos chaos-smoke bench clean

all: build

## deps: install the Debian packages Skiff builds and tests against (only what is missing).
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	swift build

release: deps
	swift build -c release

## cluster: build in release mode and start a 3-node cluster on 127.0.0.1 (data in .cluster/).
cluster: release
	deploy/local/cluster up --nodes $(NODES) --dir $(CLUSTER_DIR) --bin $(CURDIR)/.build/release/skiff
	@echo "cluster is up; source $(CLUSTER_DIR)/cluster.env, then try: .build/release/skiff cluster status"

cluster-down:
	deploy/local/cluster down --dir $(CLUSTER_DIR)

lint:
	swift format lint --strict --recursive Package.swift Sources Tests chaos/Sources

fmt:
	swift format format --in-place --recursive Package.swift Sources Tests chaos/Sources

unit: deps
	swift build --build-tests
	swift test --skip-build 2>&1 | tee .build/test.log; exit $${PIPESTATUS[0]}

## sim: the simulator over SEEDS seeds, half with 3 nodes and half with 5, two processes (release build).
## `make test` runs SEEDS=2000; `make sim SEEDS=100000` is the long sweep.
sim: deps
	swift build -c release --product skiff-sim
	@half=$$(( ($(SEEDS) + 1) / 2 )); start=$$(date +%s); \
	.build/release/skiff-sim --seeds 1..$$half --nodes 3 & p3=$$!; \
	.build/release/skiff-sim --seeds 1..$$half --nodes 5 & p5=$$!; \
	wait $$p3; r3=$$?; wait $$p5; r5=$$?; \
	echo "make sim: $$half seeds x {3,5} nodes in $$(( $$(date +%s) - start ))s (exit $$r3/$$r5)"; \
	test $$r3 -eq 0 -a $$r5 -eq 0

## chaos-smoke: deploy lint, the chaos smoke suite (4 x 3-node + 1 x 5-node schedules, about 60 s each)
## against real processes, and the proof that the checker catches the unsafe builds.
chaos-smoke: deps
	deploy/lint
	time chaos/smoke
	time chaos/prove-checker

## chaos: a long seeded schedule, e.g. `make chaos SEED=7 DURATION=600 NODES=5 FAULTS=kill,partition`.
chaos: build
	chaos/run --nodes $(NODES) --seed $(SEED) --duration $(DURATION) --faults $(FAULTS) \
	  --out $(CURDIR)/.build/chaos/seed-$(SEED)

## test: everything CI runs: lint, unit and integration tests, the simulator sweep, the chaos smoke suite.
test: deps lint unit sim chaos-smoke
	@echo "make test: all stages passed"

clean:
	rm -rf .build
