#!/usr/bin/env bash
# Builds the govmomi parity harness (main.go here, govmomi from the Go module proxy, never
# vendored) and prints the binary's path. The binary is cached by govmomi version and by a hash
# of this directory's sources, outside the repository:
#   ${VMI_TOOLS_CACHE:-$HOME/.cache/vmi-operator}/govmomi-parity-<version>/govmomi-parity
# Progress goes to stderr; stdout holds only the path.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=$(sed -n 's|^require github.com/vmware/govmomi \(v[^ ]*\)$|\1|p' "$HERE/go.mod")
[[ -n $VERSION ]] || { echo "build.sh: no govmomi version in $HERE/go.mod" >&2; exit 1; }
CACHE=${VMI_TOOLS_CACHE:-$HOME/.cache/vmi-operator}
OUT=$CACHE/govmomi-parity-$VERSION
BIN=$OUT/govmomi-parity
STAMP=$(cat "$HERE/go.mod" "$HERE/main.go" "$HERE/build.sh" | sha256sum | cut -d' ' -f1)
if [[ -x $BIN && -f $OUT/stamp && $(cat "$OUT/stamp") == "$STAMP" ]]; then
  echo "$BIN"
  exit 0
fi
mkdir -p "$OUT"
echo "[govmomi-parity] building with govmomi $VERSION (the Go build cache may be busy)" >&2
tmp=$BIN.tmp.$$
trap 'rm -f "$tmp"' EXIT
(cd "$HERE" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local \
  go build -trimpath -ldflags "-s -w -X main.govmomiVersion=$VERSION" -o "$tmp" .) >&2
mv -f "$tmp" "$BIN"
echo "$STAMP" >"$OUT/stamp"
echo "$BIN"
