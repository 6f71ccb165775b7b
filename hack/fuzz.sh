#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time and prints how many inputs each ran.
#
# Usage: hack/fuzz.sh [seconds-per-target] [target...]      (default: 60 s, every target)
#
# - Targets: parse_descriptor (OVF parser), read_ova (OVA reader), published_json (the
#   published-library documents: deserialization and rewrite), published_listing (a file://
#   library listed and fetched through PublishedSource, items.json being the input).
# - The seed corpus is built here, at run time, in fuzz/corpus/<target>/ (not committed): OVF
#   descriptors and OVAs of ../shared/fixtures/ovf (VMI_FIXTURES overrides), tars made of some
#   of them, and a few published-library documents. What libFuzzer finds is added there and kept
#   for the next run.
# - Only stable Rust is needed: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags. cargo-fuzz
#   itself comes from hack/tools.sh (cached in ~/.cache/vmi-operator/cargo-fuzz-<version>). The fuzz
#   build has its own target dir, FUZZ_TARGET_DIR, by default ~/.cache/vmi-operator/fuzz-target
#   (outside the clone, so CI reuses it). FUZZ_SANITIZER=none builds without AddressSanitizer
#   (about 5 minutes cold instead of 10; finds panics, aborts, timeouts and out-of-memory, which is
#   what safe Rust can do wrong); the default is address.
# - A crash, panic, timeout or out-of-memory is saved in fuzz/artifacts/<target>/, minimized
#   next to it (`cargo fuzz tmin`) when FUZZ_MINIMIZE=1 (the default), and makes the script exit 1
#   after all targets ran.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ=$ROOT/fuzz
FIXTURES=${VMI_FIXTURES:-$ROOT/../shared/fixtures/ovf}
# Without the shared fixtures, the repository's own descriptors seed the corpus.
[[ -d $FIXTURES ]] || FIXTURES=$ROOT/tests/data
CACHE=${VMI_TOOLS_CACHE:-$HOME/.cache/vmi-operator}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$CACHE/fuzz-target}
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(parse_descriptor read_ova published_json published_listing)
SANITIZER=${FUZZ_SANITIZER:-address}
MINIMIZE=${FUZZ_MINIMIZE:-1}
export RUSTC_BOOTSTRAP=1

log() { echo "[fuzz] $*" >&2; }
die() { log "error: $*"; exit 2; }

[[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || die "seconds must be a number, not $SECONDS_PER_TARGET"
if ! cargo fuzz --version >/dev/null 2>&1; then
  "$ROOT/hack/tools.sh" cargo-fuzz
  cargo_fuzz=$("$ROOT/hack/tools.sh" env | sed -n 's/^VMI_CARGO_FUZZ=//p')
  PATH=$(dirname "$cargo_fuzz"):$PATH
  cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz is not usable: $cargo_fuzz"
fi

# Largest input libFuzzer makes, per target; seeds larger than that are left out.
max_len() {
  case $1 in
    parse_descriptor) echo 131072 ;;
    read_ova) echo 262144 ;;
    *) echo 65536 ;;
  esac
}

seed_corpus() { # target dir
  local target=$1 dir=$2 limit tmp f n=0
  limit=$(max_len "$target")
  mkdir -p "$dir"
  case $target in
    parse_descriptor)
      while IFS= read -r -d '' f; do
        cp -f "$f" "$dir/seed-$(sha1sum <"$f" | cut -c1-16)"
        n=$((n + 1))
      done < <(find "$FIXTURES" -name '*.ovf' -size -"$((limit / 1024))"k -print0)
      ;;
    read_ova)
      while IFS= read -r -d '' f; do
        cp -f "$f" "$dir/seed-$(sha1sum <"$f" | cut -c1-16)"
        n=$((n + 1))
      done < <(find "$FIXTURES" -name '*.ova' -size -"$((limit / 1024))"k -print0)
      # Small descriptors as OVAs, with and without a manifest (both line forms).
      local small=$FIXTURES/govmomi/ovf/fixtures
      [[ -d $small ]] || small=$FIXTURES
      tmp=$(mktemp -d)
      while IFS= read -r -d '' f; do
        rm -rf "${tmp:?}"/*
        cp "$f" "$tmp/vm.ovf"
        echo "disk" >"$tmp/vm-disk1.vmdk"
        tar -C "$tmp" --format=ustar -cf "$dir/seed-plain-$n" vm.ovf vm-disk1.vmdk
        (cd "$tmp" && sha256sum vm.ovf vm-disk1.vmdk | awk '{print "SHA256(" $2 ")= " $1}' >vm.mf)
        tar -C "$tmp" --format=gnu -cf "$dir/seed-mf-$n" vm.ovf vm.mf vm-disk1.vmdk
        (cd "$tmp" && sha1sum vm.ovf vm-disk1.vmdk >vm.mf)
        tar -C "$tmp" --format=pax -cf "$dir/seed-sha1-$n" vm.mf vm.ovf vm-disk1.vmdk
        n=$((n + 1))
      done < <(find "$small" -maxdepth 1 -name '*.ovf' -size -16k -print0)
      rm -rf "$tmp"
      ;;
    published_json | published_listing)
      local id="urn:uuid:8c1b8f5e-7d2a-4a33-9d55-5a3f0b8e6c01"
      local item="urn:uuid:5E7E0B5A-0000-4000-8000-000000000001"
      printf '%s' "{\"vcspVersion\":\"2\",\"version\":\"3\",\"contentVersion\":\"1\",\"name\":\"images\",\"id\":\"$id\",\"created\":\"2022-08-07T20:14Z\",\"capabilities\":{\"transferIn\":[\"httpGet\"],\"transferOut\":[\"httpGet\"]},\"itemsHref\":\"items.json\"}" >"$dir/seed-lib"
      printf '%s' "{\"items\":[{\"created\":\"2022-08-07T20:14Z\",\"description\":\"\",\"version\":\"2\",\"files\":[{\"name\":\"a.ovf\",\"size\":35106,\"etag\":\"abc\",\"hrefs\":[\"a/a.ovf\"]},{\"name\":\"a.mf\",\"size\":20,\"hrefs\":[\"a/a.mf\"]}],\"id\":\"$item\",\"name\":\"photon\",\"metadata\":[{\"key\":\"type-metadata\",\"value\":\"{}\",\"type\":\"String\",\"domain\":\"SYSTEM\",\"visibility\":\"READONLY\"}],\"properties\":{},\"selfHref\":\"a/item.json\",\"type\":\"vcsp.ovf\"}]}" >"$dir/seed-items"
      printf '%s' "{\"items\":[{\"id\":\"$item\",\"name\":\"x\",\"type\":\"vcsp.ovf\",\"version\":\"1\",\"contentVersion\":\"1\",\"files\":[{\"name\":\"a.ovf\",\"size\":1,\"hrefs\":[\"a/a.ovf\"]}]},{\"id\":\"$item\",\"name\":\"y\",\"type\":\"vcsp.ova\",\"files\":[{\"name\":\"s.ovf\",\"size\":1,\"hrefs\":[\"secret-link.ovf\"]}]},{\"id\":\"urn:uuid:1\",\"name\":\"z\",\"type\":\"vcsp.iso\",\"selfHref\":\"../x/item.json\"}]}" >"$dir/seed-items-mixed"
      printf '%s' "{\"id\":\"$item\",\"name\":\"photon\",\"type\":\"vcsp.ovf\",\"version\":\"1\",\"selfHref\":\"a/item.json\",\"files\":[{\"name\":\"a.ova\",\"size\":1,\"generationNum\":5,\"hrefs\":[\"a/a.ovf\"]}],\"extra\":{\"k\":[1,2.5,null,true]}}" >"$dir/seed-item"
      # An id with whitespace around it (strip_urn trims it; the target once asserted otherwise).
      printf '%s' '{"items":[{"id":"urn:uuid:Y5o\t222222222222222 "}]}' >"$dir/seed-items-padded"
      n=5
      ;;
    *) die "unknown target $target" ;;
  esac
  log "$target: $n seeds, $(find "$dir" -type f | wc -l) inputs in $dir"
}

dict_for() {
  case $1 in
    parse_descriptor | read_ova) echo "$FUZZ/dict/ovf.dict" ;;
    *) echo "$FUZZ/dict/json.dict" ;;
  esac
}

build_flags=(--sanitizer "$SANITIZER")
log "building the fuzz targets (sanitizer $SANITIZER) in $CARGO_TARGET_DIR"
(cd "$FUZZ" && cargo fuzz build "${build_flags[@]}" 2>&1 | tail -n 3) >&2 ||
  die "cargo fuzz build failed"

failed=()
summary=()
for target in "${TARGETS[@]}"; do
  corpus=$FUZZ/corpus/$target
  artifacts=$FUZZ/artifacts/$target
  mkdir -p "$artifacts"
  seed_corpus "$target" "$corpus"
  out=$FUZZ/artifacts/$target.log
  log "$target: fuzzing for ${SECONDS_PER_TARGET}s (log: $out)"
  set +e
  (cd "$FUZZ" && cargo fuzz run "${build_flags[@]}" "$target" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$target")" \
    -dict="$(dict_for "$target")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/") >"$out" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$out" | tail -n 1 | cut -d' ' -f2)
  if ((rc != 0)); then
    # shellcheck disable=SC2012 # libFuzzer names its files crash-<hex>: ls -t is fine
    crash=$(ls -t "$artifacts"/{crash,oom,timeout,leak}-* 2>/dev/null | head -n 1 || true)
    log "$target: FAILED (exit $rc) after ${execs:-?} executions; input: ${crash:-none saved}"
    grep -E 'panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer|SUMMARY' "$out" | head -n 5 >&2 || true
    if [[ -n $crash && $MINIMIZE == 1 ]]; then
      (cd "$FUZZ" && cargo fuzz tmin "${build_flags[@]}" "$target" "$crash" -- -runs=2000) \
        >"$out.tmin" 2>&1 || true
      # shellcheck disable=SC2012
      minimized=$(ls -t "$artifacts"/minimized-from-* 2>/dev/null | head -n 1 || true)
      [[ -n $minimized ]] && log "$target: minimized input: $minimized ($(wc -c <"$minimized") bytes)"
    fi
    failed+=("$target")
    summary+=("$target: ${execs:-?} executions, CRASH (${crash:-see $out})")
  else
    summary+=("$target: ${execs:-?} executions in ${SECONDS_PER_TARGET}s (${rate:-?}/s), coverage ${cov:-?}, no crash")
  fi
done

# published_listing's library folders (one per fuzzing process).
rm -rf /dev/shm/vmi-fuzz-listing-* "${TMPDIR:-/tmp}"/vmi-fuzz-listing-* 2>/dev/null || true

echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
