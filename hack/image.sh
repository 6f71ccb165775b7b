#!/usr/bin/env bash
# `make image`: the operator's container image and the node's pause image as OCI archives, without
# Docker. The Dockerfile's steps, run here:
#   builder stage  -> hack/check-dockerfile.sh (its static checks, then `cargo build --release
#                     --locked --target x86_64-unknown-linux-musl` in a copy of the build context)
#   final stage    -> hack/image/oci-image.py --dockerfile Dockerfile --distroless-nonroot: the
#                     binary at /vmi-operator on the files of distroless/static:nonroot it relies on,
#                     with the final stage's USER, ENTRYPOINT, CMD, EXPOSE and LABELs.
# Writes $VMI_IMAGE_DIR (default target/image): vmi-operator.tar ($VMI_IMAGE, default
# localhost/vmi-operator:dev) and pause.tar (localhost/vmi-operator-pause:1, a static C program).
# Load them with `ctr -n k8s.io images import FILE` (hack/node.sh does).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${VMI_IMAGE_DIR:-$ROOT/target/image}
IMAGE=${VMI_IMAGE:-localhost/vmi-operator:dev}
PAUSE_IMAGE=${VMI_PAUSE_IMAGE:-localhost/vmi-operator-pause:1}
TARGET=x86_64-unknown-linux-musl
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${VMI_TOOLS_CACHE:-$HOME/.cache/vmi-operator}/release-target}
log() { echo "[image] $*" >&2; }
mkdir -p "$OUT"

what=${1:-all}
if [[ $what == all || $what == pause ]]; then
  gcc -static -Os -s -o "$OUT/pause" "$ROOT/hack/image/pause.c"
  python3 "$ROOT/hack/image/oci-image.py" --out "$OUT/pause.tar" --name "$PAUSE_IMAGE" \
    --user 65535:65535 --entrypoint '["/pause"]' "/pause=$OUT/pause"
fi
# Up to date: the archive is newer than everything it is built from (VMI_IMAGE_REBUILD=1 forces).
fresh() { # archive inputs...
  [[ -f $1 && -z ${VMI_IMAGE_REBUILD:-} ]] || return 1
  local out=$1; shift
  [[ -z $(find "$@" -newer "$out" -print -quit 2>/dev/null) ]]
}
if [[ $what == all || $what == operator ]] &&
  fresh "$OUT/vmi-operator.tar" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" "$ROOT/src" "$ROOT/benches" \
    "$ROOT/Dockerfile" "$ROOT/hack/image" "$ROOT/hack/image.sh"; then
  log "$OUT/vmi-operator.tar is up to date"
elif [[ $what == all || $what == operator ]]; then
  "$ROOT/hack/check-dockerfile.sh" "$ROOT/Dockerfile"
  bin=$CARGO_TARGET_DIR/$TARGET/release/vmi-operator
  [[ -x $bin ]] || { log "no musl build at $bin (the musl target could not be installed?)"; exit 1; }
  # The Dockerfile's `COPY --from=builder /vmi-operator /vmi-operator`.
  python3 "$ROOT/hack/image/oci-image.py" --out "$OUT/vmi-operator.tar" --name "$IMAGE" \
    --dockerfile "$ROOT/Dockerfile" --distroless-nonroot "/vmi-operator=$bin"
fi
