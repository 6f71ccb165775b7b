# vmi-operator developer and CI entry points. `make test` is what .ci/run runs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# Threads of each test binary: the e2e tests mostly wait on the apiserver, and each uses its own namespace.
TEST_THREADS ?= 4
CARGO_TEST_FLAGS ?=
# State of hack/cluster.sh (it reads VMI_CLUSTER_DIR too).
export VMI_CLUSTER_DIR ?= $(CURDIR)/target/cluster

.PHONY: build crds fmt lint tools cluster-up cluster-down cluster-status test bench bench-quick

build:
	cargo build

crds:
	cargo run -- crds --out crds/

fmt:
	cargo fmt

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

tools:
	hack/tools.sh all

cluster-up:
	hack/cluster.sh up

cluster-down:
	hack/cluster.sh down

cluster-status:
	hack/cluster.sh status

# lint, tools, a fresh control plane, every test against it; the control plane is stopped whatever
# happens and the exit code is cargo test's. The cluster's logs stay in target/cluster/logs/
# (VMI_CLUSTER_DIR=... gives a run its own control plane).
test: lint tools
	@mkdir -p "$$VMI_CLUSTER_DIR"; \
	trap 'hack/cluster.sh down >>"$$VMI_CLUSTER_DIR/down.log" 2>&1 || true' EXIT; \
	trap 'exit 130' INT TERM; \
	hack/cluster.sh up; \
	set -a; . "$$VMI_CLUSTER_DIR/env"; set +a; \
	cargo test --no-fail-fast $(CARGO_TEST_FLAGS) -- --test-threads=$(TEST_THREADS)

# Placeholders: the lead extends these.
bench:
	cargo bench

bench-quick:
	cargo bench

# The one-command demo (its own control plane in target/demo/), and its teardown.
.PHONY: demo demo-down
demo:
	hack/demo.sh up

demo-down:
	hack/demo.sh down
