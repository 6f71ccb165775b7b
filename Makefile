# vmi-operator developer and CI entry points. `make test` is what .ci/run runs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# Threads of each test binary (tests/{pure,cluster,faults,packaging}): the e2e tests mostly wait on the
# apiserver, and each uses its own namespace; the fault tests take turns whatever this says.
TEST_THREADS ?= 4
CARGO_TEST_FLAGS ?=
# State of hack/cluster.sh (it reads VMI_CLUSTER_DIR too).
export VMI_CLUSTER_DIR ?= $(CURDIR)/target/cluster

.PHONY: build crds fmt lint tools cluster-up cluster-down cluster-status test bench bench-quick bench-ci

build:
	cargo build

crds:
	cargo run -- crds --out crds/
	charts/sync-crds.sh

fmt:
	cargo fmt

# --workspace/--all: the test support crate (test-support/) and vmi-bench (hack/bench/) too.
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet
	charts/sync-crds.sh --check
	python3 hack/check-modules.py

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
	trap 'hack/cluster.sh down >>"$$VMI_CLUSTER_DIR/down.log" 2>&1 || true; \
	  for d in target/fault-cluster/*/; do [ -d "$$d" ] && VMI_CLUSTER_DIR="$$PWD/$${d%/}" hack/cluster.sh down >/dev/null 2>&1; done; \
	  [ -d target/node-test ] && VMI_NODE_DIR="$$PWD/target/node-test" hack/node.sh down >/dev/null 2>&1; true' EXIT; \
	trap 'exit 130' INT TERM; \
	hack/cluster.sh up; \
	set -a; . "$$VMI_CLUSTER_DIR/env"; set +a; \
	cargo test --no-fail-fast $(CARGO_TEST_FLAGS) -- --test-threads=$(TEST_THREADS)

# The benchmark report (docs/benchmarks.md): target/bench/report.md and report.json, measured by
# vmi-bench (hack/bench/), which hack/bench.sh builds.
bench:
	hack/bench.sh full

bench-quick:
	hack/bench.sh quick

# CI's bench: bench-quick, failing on the report's findings (not on timings). CI's release builds
# (this and check-dockerfile-ci) use a target dir outside the clone, so CI runs reuse them.
RELEASE_TARGET_DIR ?= $${VMI_TOOLS_CACHE:-$$HOME/.cache/vmi-operator}/release-target
bench-ci:
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$(RELEASE_TARGET_DIR)} VMI_BENCH_STRICT=1 hack/bench.sh quick

# The one-command demo (its own control plane in target/demo/), and its teardown.
.PHONY: demo demo-down
demo:
	hack/demo.sh up

demo-down:
	hack/demo.sh down

# Packaging: copy crds/ into the chart and config/crd/bases; lint the chart; check the Dockerfile
# (static checks and the builder stage's musl release build, run locally: no Docker engine here).
.PHONY: chart-crds helm-lint check-dockerfile check-dockerfile-ci
chart-crds:
	charts/sync-crds.sh

helm-lint:
	hack/tools.sh helm
	@helm=$$(hack/tools.sh env | sed -n 's/^VMI_HELM=//p'); \
	$$helm lint charts/vmi-operator --strict; \
	$$helm lint charts/vmi-operator --strict --set certManager.enabled=true --set serviceMonitor.enabled=true

check-dockerfile:
	hack/check-dockerfile.sh

check-dockerfile-ci:
	CARGO_TARGET_DIR=$${CARGO_TARGET_DIR:-$(RELEASE_TARGET_DIR)} hack/check-dockerfile.sh

# Every cargo-fuzz target for FUZZ_SECONDS each (stable Rust through RUSTC_BOOTSTRAP=1; cargo-fuzz
# comes from hack/tools.sh); exits 1 on a crash, inputs in fuzz/artifacts/. fuzz-ci is CI's bounded
# run: no sanitizer (half the cold build), 30 s a target, no minimizing.
.PHONY: fuzz fuzz-ci
FUZZ_SECONDS ?= 60
fuzz:
	hack/fuzz.sh $(FUZZ_SECONDS)

fuzz-ci:
	FUZZ_SANITIZER=none FUZZ_MINIMIZE=0 hack/fuzz.sh 30

# The container images as OCI archives, without Docker (target/image: vmi-operator.tar, pause.tar);
# a real node (hack/node.sh: kubelet, containerd, kube-proxy, the control plane, in namespaces of
# its own); the demo on it: the chart installed with helm, its pods syncing a library.
# `cargo test --test node` (part of make test) runs the chart on a node of its own (target/node-test).
.PHONY: image node-up node-down node-status demo-node demo-node-down
image:
	hack/image.sh

node-up:
	hack/tools.sh node
	hack/image.sh
	hack/node.sh up

node-down:
	hack/node.sh down

node-status:
	hack/node.sh status

demo-node:
	hack/demo-node.sh up

demo-node-down:
	hack/demo-node.sh down
