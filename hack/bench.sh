#!/usr/bin/env bash
# The benchmark report (issue 8, item 1): `make bench` (full) and `make bench-quick`.
#
# Usage: hack/bench.sh [quick|full]
#   quick  sync of N = 200 and 1,000 items (and their floors), idle RSS, restart with 1,200
#          images, the webhook benchmark in its --quick form, OVF parsing. A few minutes.
#   full   N = 1,000 and 5,000 (restart with 6,000 images), then N = 10,000 on a control plane
#          of its own (peak RSS and restart with 10,000 images); floors for each (the 10,000 one
#          on a fresh control plane too). About 18 minutes on 2 cores.
#
# Writes target/bench/report.md and report.json (VMI_BENCH_DIR overrides target/bench) and
# prints the table. Per-phase measurements are in target/bench/parts/, logs (operator, cluster,
# the other benchmarks) in target/bench/logs/.
#
# The operator and the measurement program (hack/bench/, crate vmi-bench) are built with
# `cargo build --release` and copied to target/bench/ so a rebuild by someone else during the run
# cannot swap them. Each phase gets a fresh loopback control plane of
# its own (hack/cluster.sh with VMI_CLUSTER_DIR=target/bench/cluster, ports picked free), so the
# e2e tests' cluster (target/cluster) is never touched; it is stopped at the end whatever happens.
# Knobs: VMI_BENCH_SIZES, VMI_BENCH_FLOOR_SIZES, VMI_BENCH_BIG (0 skips the 10,000 phase),
# VMI_BENCH_SKIP_OTHER=1 (skip the webhook and OVF benchmarks).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=${1:-full}
OUT=${VMI_BENCH_DIR:-$ROOT/target/bench}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
export VMI_BENCH_DIR=$OUT
export VMI_CLUSTER_DIR=$OUT/cluster
# The bench binary's kube client must use the benchmark's cluster, never another one.
unset VMI_E2E_KUBECONFIG KUBECONFIG

case $MODE in
  quick)
    SIZES=${VMI_BENCH_SIZES:-200,1000}
    FLOOR_SIZES=${VMI_BENCH_FLOOR_SIZES:-$SIZES}
    BIG=${VMI_BENCH_BIG:-0}
    WEBHOOK_ARGS=(-- --quick)
    ;;
  full)
    SIZES=${VMI_BENCH_SIZES:-1000,5000}
    BIG=${VMI_BENCH_BIG:-10000}
    FLOOR_SIZES=${VMI_BENCH_FLOOR_SIZES:-$SIZES}
    WEBHOOK_ARGS=()
    ;;
  *) echo "usage: $0 quick|full" >&2; exit 2 ;;
esac

log() { echo "[bench] $(date +%H:%M:%S) $*" >&2; }

# Cargo commands are retried: other people's unfinished files may break the build for a moment.
retry() {
  local i
  for i in 1 2 3; do
    "$@" && return 0
    if ((i < 3)); then log "failed: $*; retrying in 60s ($i/3)"; sleep 60; fi
  done
  return 1
}

mkdir -p "$OUT/parts" "$OUT/logs"
rm -f "$OUT"/parts/*.json "$OUT/report.md" "$OUT/report.json"

cleanup() { hack/cluster.sh down >>"$OUT/logs/cluster-down.log" 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$SECONDS
log "mode $MODE: sizes $SIZES, floors $FLOOR_SIZES, big ${BIG}; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

log "building the operator: cargo build --release --bin vmi-operator"
retry cargo build --release --bin vmi-operator
cp "$TARGET/release/vmi-operator" "$OUT/vmi-operator.new" && mv "$OUT/vmi-operator.new" "$OUT/vmi-operator"
BINARY=$OUT/vmi-operator

log "building the measurement program: cargo build --release -p vmi-bench (hack/bench/)"
retry cargo build --release -p vmi-bench 2>"$OUT/logs/build-bench.log" ||
  { log "cannot build vmi-bench (see $OUT/logs/build-bench.log)"; exit 1; }
cp "$TARGET/release/vmi-bench" "$OUT/vmi-bench.new" && mv "$OUT/vmi-bench.new" "$OUT/vmi-bench"
EXE=$OUT/vmi-bench

# The other two benchmarks first, while no control plane competes for the CPUs.
if [[ ${VMI_BENCH_SKIP_OTHER:-0} != 1 ]]; then
  for b in ovf_parse webhook; do
    json=$OUT/${b%_parse}.json
    rm -f "$json"
    if [[ ! -f benches/$b.rs ]]; then
      log "benches/$b.rs does not exist: not available"
      continue
    fi
    args=()
    [[ $b == webhook ]] && args=("${WEBHOOK_ARGS[@]}")
    log "cargo bench --bench $b ${args[*]}"
    if ! retry timeout 900 cargo bench --bench "$b" "${args[@]}" >"$OUT/logs/$b.log" 2>&1; then
      log "cargo bench --bench $b failed (see $OUT/logs/$b.log): not available"
      rm -f "$json"
    fi
    [[ -f $json ]] || log "no $json after the $b benchmark"
  done
fi

# Each phase: a fresh control plane (down first: `up` leaves a healthy one as it is), bounded.
phase() { # name timeout-seconds args...
  local name=$1 limit=$2; shift 2
  log "phase $name: fresh control plane"
  hack/cluster.sh down >"$OUT/logs/cluster-$name.log" 2>&1 || true
  if ! hack/cluster.sh up >>"$OUT/logs/cluster-$name.log" 2>&1; then
    log "phase $name: the control plane did not start (see $OUT/logs/cluster-$name.log)"
    return 0
  fi
  log "phase $name: vmi-bench $*"
  if ! timeout "$limit" "$EXE" "$@" 2>&1 | tee "$OUT/logs/phase-$name.log" >&2; then
    log "phase $name failed or timed out (see $OUT/logs/phase-$name.log); the report says what is missing"
  fi
  hack/cluster.sh down >>"$OUT/logs/cluster-$name.log" 2>&1 || true
}

phase floor 1200 floor --sizes "$FLOOR_SIZES" --out "$OUT/parts/floor.json"
phase operator 1800 operator --sizes "$SIZES" --binary "$BINARY" --tag main --out "$OUT/parts/operator-main.json"
if [[ $BIG != 0 ]]; then
  # Floor and operator at 10,000 each on a fresh control plane, so both start from empty etcd.
  phase floor-10k 900 floor --sizes "$BIG" --floor-concurrency 16 --out "$OUT/parts/floor-10k.json"
  phase operator-10k 1800 operator --sizes "$BIG" --binary "$BINARY" --tag 10k --out "$OUT/parts/operator-10k.json"
fi

# VMI_BENCH_STRICT=1 (make bench-ci): exit 1 when the report has findings (a sync that did not
# finish, writes above 4N + 1, refetches or rewrites on restart, a missing benchmark). Timings
# are reported, never judged: they move with the machine.
report_args=(report --mode "$MODE")
[[ ${VMI_BENCH_STRICT:-0} == 1 ]] && report_args+=(--strict)
"$EXE" "${report_args[@]}"
log "done in $((SECONDS - T0))s: $OUT/report.md, $OUT/report.json"
