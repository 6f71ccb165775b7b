#!/usr/bin/env bash
# The benchmark report (issue 8, item 1): `make bench` (full) and `make bench-quick`.
#
# Usage: hack/bench.sh [quick|full]
#   quick  sync of N = 200 and 1,000 items (and their floors: server-side apply, and create +
#          PUT status), idle RSS, restart with 1,200 images, the operator's webhook at 1,000/s
#          for 3 s, the webhook benchmark in its --quick form, OVF parsing. A few minutes.
#   full   N = 1,000 and 5,000 (restart with 6,000 images), then N = 10,000 on a control plane
#          of its own (peak RSS, the operator's webhook at 1,000/s and 5,000/s, restart with
#          10,000 images); floors for each (the 10,000 one on a fresh control plane too). About
#          20 minutes on 2 cores.
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
# Knobs: VMI_BENCH_SIZES, VMI_BENCH_FLOOR_SIZES, VMI_BENCH_FLOOR_KINDS (apply,create),
# VMI_BENCH_BIG (0 skips the 10,000 phase), VMI_BENCH_SKIP_OTHER=1 (skip the webhook and OVF
# benchmarks), VMI_BENCH_RATES (open-loop webhook rates a second, 1000,5000),
# VMI_BENCH_FEATURES (cargo features of the operator build, e.g. mimalloc; in the report),
# VMI_BENCH_HUGE=100000 (a phase of that many images on a control plane of its own: sync,
# memory, restart, the webhook at fixed rates; never in CI), VMI_BENCH_HUGE_ONLY=1 (only that
# phase and its webhook benchmark), VMI_BENCH_HUGE_FLOOR=1 (a floor at that size too, once),
# VMI_BENCH_HUGE_TIMEOUT (seconds; default 900 + 30 ms an image), VMI_ETCD_QUOTA_BYTES (etcd's
# --quota-backend-bytes; 8 GiB in the huge phase, whose objects pass etcd's default 2 GiB),
# VMI_BENCH_HUGE_WATCH_CACHE (true|false: the apiserver's watch cache in the huge phase; off
# above 40,000 images by default: cached, each object costs the apiserver about 200 KB of RSS,
# floor and operator alike, so 100,000 images would need some 40 GB).
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
    # One short open-loop probe of the operator's webhook, so CI runs that code too.
    PROBE_ARGS=(--webhook-rates "${VMI_BENCH_RATES:-1000}" --webhook-seconds 3)
    ;;
  full)
    SIZES=${VMI_BENCH_SIZES:-1000,5000}
    BIG=${VMI_BENCH_BIG:-10000}
    FLOOR_SIZES=${VMI_BENCH_FLOOR_SIZES:-$SIZES}
    WEBHOOK_ARGS=(-- --rate "${VMI_BENCH_RATES:-1000,5000}")
    PROBE_ARGS=()
    ;;
  *) echo "usage: $0 quick|full" >&2; exit 2 ;;
esac
HUGE=${VMI_BENCH_HUGE:-0}
HUGE_ONLY=${VMI_BENCH_HUGE_ONLY:-0}
RATES=${VMI_BENCH_RATES:-1000,5000}
FEATURES=${VMI_BENCH_FEATURES:-}
FLOOR_KINDS=${VMI_BENCH_FLOOR_KINDS:-apply,create}
if [[ $HUGE_ONLY == 1 && $HUGE == 0 ]]; then
  echo "VMI_BENCH_HUGE_ONLY=1 needs VMI_BENCH_HUGE=<images>" >&2
  exit 2
fi

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
# Every result of an earlier run goes, so the report shows only this run's (a huge-only run once
# reported the 10,000-image webhook and OVF figures an earlier full run had left).
rm -f "$OUT"/parts/*.json "$OUT/report.md" "$OUT/report.json" "$OUT"/webhook*.json "$OUT/ovf.json"

cleanup() { hack/cluster.sh down >>"$OUT/logs/cluster-down.log" 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$SECONDS
log "mode $MODE: sizes $SIZES, floors $FLOOR_SIZES ($FLOOR_KINDS), big ${BIG}, huge ${HUGE}, features '${FEATURES}'; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# VMI_BENCH_FEATURES: the same phases with, e.g., another allocator compiled in.
build_args=(--release --bin vmi-operator)
[[ -n $FEATURES ]] && build_args+=(--features "$FEATURES")
log "building the operator: cargo build ${build_args[*]}"
retry cargo build "${build_args[@]}"
cp "$TARGET/release/vmi-operator" "$OUT/vmi-operator.new" && mv "$OUT/vmi-operator.new" "$OUT/vmi-operator"
BINARY=$OUT/vmi-operator

log "building the measurement program: cargo build --release -p vmi-bench (hack/bench/)"
retry cargo build --release -p vmi-bench 2>"$OUT/logs/build-bench.log" ||
  { log "cannot build vmi-bench (see $OUT/logs/build-bench.log)"; exit 1; }
cp "$TARGET/release/vmi-bench" "$OUT/vmi-bench.new" && mv "$OUT/vmi-bench.new" "$OUT/vmi-bench"
EXE=$OUT/vmi-bench

# The other two benchmarks first, while no control plane competes for the CPUs.
bench_other() { # bench json args...
  local b=$1 json=$2; shift 2
  rm -f "$json"
  if [[ ! -f benches/$b.rs ]]; then
    log "benches/$b.rs does not exist: not available"
    return 0
  fi
  log "cargo bench --bench $b $*"
  if ! retry timeout 900 cargo bench --bench "$b" "$@" >>"$OUT/logs/$b.log" 2>&1; then
    log "cargo bench --bench $b failed (see $OUT/logs/$b.log): not available"
    rm -f "$json"
  fi
  [[ -f $json ]] || log "no $json after the $b benchmark"
}
if [[ ${VMI_BENCH_SKIP_OTHER:-0} != 1 ]]; then
  : >"$OUT/logs/webhook.log"
  : >"$OUT/logs/ovf_parse.log"
  if [[ $HUGE_ONLY != 1 ]]; then
    bench_other ovf_parse "$OUT/ovf.json"
    bench_other webhook "$OUT/webhook.json" "${WEBHOOK_ARGS[@]}"
  fi
  if [[ $HUGE != 0 ]]; then
    bench_other webhook "$OUT/webhook-$HUGE.json" -- --images "$HUGE" --rate "$RATES" --out "$OUT/webhook-$HUGE.json"
  fi
fi

# Each phase: a fresh control plane (down first: `up` leaves a healthy one as it is), bounded.
phase() { # name timeout-seconds args...
  local name=$1 limit=$2; shift 2
  local t=$SECONDS
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
  log "phase $name: $((SECONDS - t))s"
}

OPERATOR_ARGS=(--binary "$BINARY" --operator-features "$FEATURES")
if [[ $HUGE_ONLY != 1 ]]; then
  phase floor 1200 floor --sizes "$FLOOR_SIZES" --floor-kinds "$FLOOR_KINDS" --out "$OUT/parts/floor.json"
  phase operator 1800 operator --sizes "$SIZES" "${OPERATOR_ARGS[@]}" "${PROBE_ARGS[@]}" --tag main --out "$OUT/parts/operator-main.json"
  if [[ $BIG != 0 ]]; then
    # Floor and operator at 10,000 each on a fresh control plane, so both start from empty etcd.
    phase floor-10k 1200 floor --sizes "$BIG" --floor-concurrency 16 --floor-kinds "$FLOOR_KINDS" --out "$OUT/parts/floor-10k.json"
    phase operator-10k 1800 operator --sizes "$BIG" "${OPERATOR_ARGS[@]}" --webhook-rates "$RATES" --tag 10k --out "$OUT/parts/operator-10k.json"
  fi
fi
if [[ $HUGE != 0 ]]; then
  # Its objects pass etcd's default 2 GiB quota (two versions of each of 2N objects, until
  # the apiserver compacts): a larger one, on a control plane of its own.
  export VMI_ETCD_QUOTA_BYTES=${VMI_ETCD_QUOTA_BYTES:-8589934592}
  export VMI_APISERVER_WATCH_CACHE=${VMI_BENCH_HUGE_WATCH_CACHE:-$( ((HUGE > 40000)) && echo false || echo true)}
  log "huge phase: the apiserver's watch cache is $([[ $VMI_APISERVER_WATCH_CACHE == false ]] && echo off || echo on)"
  HUGE_TIMEOUT=${VMI_BENCH_HUGE_TIMEOUT:-$((900 + HUGE * 3 / 100))}
  if [[ ${VMI_BENCH_HUGE_FLOOR:-0} == 1 ]]; then
    phase floor-huge "$HUGE_TIMEOUT" floor --sizes "$HUGE" --floor-concurrency 16 --floor-repeat 1 --floor-kinds "$FLOOR_KINDS" --out "$OUT/parts/floor-huge.json"
  fi
  # The sync and the restart are bounded below the phase's limit, so a slow run still reports.
  phase operator-huge "$HUGE_TIMEOUT" operator --sizes "$HUGE" "${OPERATOR_ARGS[@]}" --webhook-rates "$RATES" \
    --sync-timeout $((HUGE_TIMEOUT * 3 / 5)) --tag huge --out "$OUT/parts/operator-huge.json"
  unset VMI_ETCD_QUOTA_BYTES VMI_APISERVER_WATCH_CACHE
fi

# VMI_BENCH_STRICT=1 (make bench-ci): exit 1 when the report has findings (a sync that did not
# finish, writes above 4N + 1, refetches or rewrites on restart, a missing benchmark). Timings
# are reported, never judged: they move with the machine.
report_args=(report --mode "$MODE")
[[ $HUGE_ONLY == 1 ]] && report_args=(report --mode huge)
[[ ${VMI_BENCH_STRICT:-0} == 1 ]] && report_args+=(--strict)
"$EXE" "${report_args[@]}"
log "done in $((SECONDS - T0))s: $OUT/report.md, $OUT/report.json"
