#!/usr/bin/env bash
# Checks the Dockerfile without a Docker engine.
#
# Usage: hack/check-dockerfile.sh [--static] [DOCKERFILE]
#   --static  only the static checks (fast; tests/packaging/docker.rs runs this mode)
#   default   the static checks, then the builder stage's steps run locally: the musl C compiler,
#             `rustup target add`, and `cargo build --release --locked --target <TARGET>` in a copy
#             of exactly the build context the Dockerfile sees (its COPY sources, filtered by
#             .dockerignore), so a file the build needs but the image build would not get fails here.
#             The binary must be static; its size is printed. When the musl target cannot be
#             installed (no rustup dist server), the host target is built instead and that is said.
#
# Static checks: every instruction is a Dockerfile instruction, the first is FROM (or ARG), stage
# names are unique, COPY --from names an earlier stage, COPY sources exist and survive
# .dockerignore, the builder builds with --locked for a *-musl target, and the final stage is
# distroless/static or scratch, runs no RUN (no shell there), has USER non-root (numeric uid, not
# 0), ENTRYPOINT ["/vmi-operator"] and CMD ["run"] in exec form. hadolint runs too when installed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
static_only=0
dockerfile=$ROOT/Dockerfile
for a in "$@"; do
  case "$a" in
    --static) static_only=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "usage: $0 [--static] [DOCKERFILE]" >&2; exit 2 ;;
    *) dockerfile=$a ;;
  esac
done
context=$(cd "$(dirname "$dockerfile")" && pwd)

errors=0
log() { echo "[check-dockerfile] $*" >&2; }
err() { echo "[check-dockerfile] error: $*" >&2; errors=$((errors + 1)); }

[[ -f $dockerfile ]] || { err "no $dockerfile"; exit 1; }

# --- Parse: logical lines (continuations joined, comments and blank lines dropped). -------------
instructions=()
linenos=()
current=""
start=0
n=0
while IFS= read -r line || [[ -n $line ]]; do
  n=$((n + 1))
  if [[ -z $current ]]; then
    [[ $line =~ ^[[:space:]]*# || $line =~ ^[[:space:]]*$ ]] && continue
    start=$n
  else
    # Comment lines inside a continued instruction are dropped, as Docker does.
    [[ $line =~ ^[[:space:]]*# ]] && continue
  fi
  if [[ $line =~ \\[[:space:]]*$ ]]; then
    current+="${line%\\*} "
    continue
  fi
  current+=$line
  instructions+=("$current")
  linenos+=("$start")
  current=""
done < "$dockerfile"
[[ -z $current ]] || err "line $start: the file ends inside a continued instruction"
((${#instructions[@]})) || { err "no instructions"; exit 1; }

valid=" FROM RUN CMD LABEL MAINTAINER EXPOSE ENV ADD COPY ENTRYPOINT VOLUME USER WORKDIR ARG ONBUILD STOPSIGNAL HEALTHCHECK SHELL "

# Global ARGs (before the first FROM) with their defaults, to expand FROM lines.
declare -A args=()
expand() { # replaces ${NAME} and $NAME of known ARGs
  local s=$1 k
  for k in "${!args[@]}"; do
    s=${s//\$\{$k\}/${args[$k]}}
    s=${s//\$$k/${args[$k]}}
  done
  printf '%s' "$s"
}

stage_names=()   # by index
stage_bases=()
stage=-1
declare -A stage_user=() stage_entrypoint=() stage_cmd=() stage_runs=()
builder_build=""
builder_copy_out=""
final_copy_from=""
copy_sources=()

is_exec_form() { [[ $1 =~ ^\[[[:space:]]*\"[^\"]*\"([[:space:]]*,[[:space:]]*\"[^\"]*\")*[[:space:]]*\]$ ]]; }

for i in "${!instructions[@]}"; do
  text=${instructions[$i]}
  at="line ${linenos[$i]}"
  text=${text#"${text%%[![:space:]]*}"}
  keyword=${text%%[[:space:]]*}
  keyword=${keyword^^}
  rest=${text#*[[:space:]]}
  [[ $rest == "$text" ]] && rest=""
  rest=${rest#"${rest%%[![:space:]]*}"}
  if [[ $valid != *" $keyword "* ]]; then
    err "$at: unknown instruction '$keyword'"
    continue
  fi
  if ((stage < 0)) && [[ $keyword != FROM && $keyword != ARG ]]; then
    err "$at: $keyword before the first FROM (only ARG may come before it)"
  fi
  case "$keyword" in
    ARG)
      if ((stage < 0)); then
        name=${rest%%=*}
        if [[ $rest == *=* ]]; then args[$name]=${rest#*=}; else args[$name]=""; fi
      fi ;;
    FROM)
      stage=$((stage + 1))
      read -r -a words <<< "$rest"
      w=0
      while [[ ${words[$w]:-} == --* ]]; do w=$((w + 1)); done
      image=$(expand "${words[$w]:-}")
      [[ -n $image ]] || err "$at: FROM without an image"
      name=""
      if [[ ${words[$((w + 1))]:-} =~ ^[Aa][Ss]$ ]]; then
        name=${words[$((w + 2))]:-}
        [[ -n $name ]] || err "$at: FROM ... AS without a name"
        for prev in "${stage_names[@]}"; do
          [[ $prev == "$name" ]] && err "$at: stage name '$name' is used twice"
        done
      fi
      stage_names+=("$name")
      stage_bases+=("$image")
      stage_runs[$stage]=0 ;;
    COPY|ADD)
      from=""
      read -r -a words <<< "$rest"
      srcs=()
      for word in "${words[@]}"; do
        case "$word" in
          --from=*) from=${word#--from=} ;;
          --*) ;;
          *) srcs+=("$word") ;;
        esac
      done
      ((${#srcs[@]} >= 2)) || err "$at: $keyword needs a source and a destination"
      unset 'srcs[${#srcs[@]}-1]'
      if [[ -n $from ]]; then
        known=0
        for ((s = 0; s < stage; s++)); do
          [[ ${stage_names[$s]} == "$from" || $s == "$from" ]] && known=1
        done
        if ((known == 0)) && [[ $from != */* && $from != *:* ]]; then
          err "$at: $keyword --from=$from names no earlier stage"
        fi
        [[ ${stage_names[$stage]} == "" || $stage == $((${#stage_names[@]} - 1)) ]] && final_copy_from="$from ${srcs[*]}"
      else
        copy_sources+=("${srcs[@]}")
        for src in "${srcs[@]}"; do
          [[ -e $context/$src ]] || err "$at: $keyword source '$src' does not exist in the build context"
        done
      fi ;;
    RUN)
      stage_runs[$stage]=$(( ${stage_runs[$stage]} + 1 ))
      if [[ $rest == *"cargo build"* ]]; then
        builder_build=$rest
        if [[ $rest =~ cp[[:space:]]+([^[:space:]]+)[[:space:]]+([^[:space:]]+)[[:space:]]*$ ]]; then
          builder_copy_out=${BASH_REMATCH[2]}
        fi
      fi ;;
    USER) stage_user[$stage]=$rest ;;
    ENTRYPOINT)
      is_exec_form "$rest" || err "$at: ENTRYPOINT must be in exec form ([\"...\"]): there is no shell in the image"
      stage_entrypoint[$stage]=$rest ;;
    CMD)
      is_exec_form "$rest" || err "$at: CMD must be in exec form ([\"...\"])"
      stage_cmd[$stage]=$rest ;;
    EXPOSE)
      for p in $rest; do [[ $p =~ ^[0-9]+(/(tcp|udp))?$ ]] || err "$at: bad EXPOSE port '$p'"; done ;;
  esac
done

final=$stage
((final >= 0)) || { err "no FROM"; exit 1; }
log "stages: $(for s in "${!stage_bases[@]}"; do printf '%s(%s) ' "${stage_names[$s]:-#$s}" "${stage_bases[$s]}"; done)"

# --- The builder. --------------------------------------------------------------------------------
((final >= 1)) || err "expected a multi-stage build (a builder stage and a final stage)"
target=$(expand "${builder_build:-}")
# The builder's own ARG TARGET (declared after its FROM) is read from the Dockerfile.
target_arg=$(sed -nE 's/^ARG TARGET=([^[:space:]]+)$/\1/p' "$dockerfile" | head -n1)
[[ -n $builder_build ]] || err "the builder has no RUN with cargo build"
[[ $builder_build == *--locked* ]] || err "cargo build without --locked (Cargo.lock must decide the versions)"
[[ $builder_build == *--release* ]] || err "cargo build without --release"
[[ $target_arg == *-musl ]] || err "the builder's TARGET ($target_arg) is not a musl target (the binary must be static)"
# shellcheck disable=SC2016 # the literal ${TARGET} of the Dockerfile
[[ $target == *'--target ${TARGET}'* || $target == *"--target $target_arg"* ]] || err "cargo build does not build --target \${TARGET}"
[[ -n $builder_copy_out ]] || err "the builder does not copy the binary out of the cached target folder"

# --- The final stage. ----------------------------------------------------------------------------
base=${stage_bases[$final]}
case "$base" in
  gcr.io/distroless/static*|scratch) ;;
  *) err "final stage is based on '$base': expected gcr.io/distroless/static-* or scratch" ;;
esac
((${stage_runs[$final]} == 0)) || err "the final stage has RUN instructions (distroless has no shell)"
user=${stage_user[$final]:-}
uid=${user%%:*}
gid=${user#*:}
if [[ -z $user ]]; then
  err "the final stage has no USER (it would run as the base image's user, root for scratch)"
elif ! [[ $uid =~ ^[0-9]+$ ]]; then
  err "USER $user: use a numeric uid, so that runAsNonRoot can verify it"
elif ((uid == 0)); then
  err "USER $user is root"
elif [[ $user == *:* ]] && ! [[ $gid =~ ^[0-9]+$ && $gid != 0 ]]; then
  err "USER $user: the group must be numeric and not 0"
fi
[[ ${stage_entrypoint[$final]:-} == '["/vmi-operator"]' ]] || err "ENTRYPOINT must be [\"/vmi-operator\"] (is ${stage_entrypoint[$final]:-unset})"
[[ ${stage_cmd[$final]:-} == '["run"]' ]] || err "CMD must be [\"run\"] (is ${stage_cmd[$final]:-unset})"
if [[ -n $final_copy_from ]]; then
  read -r from_stage from_path <<< "$final_copy_from"
  [[ $from_path == "$builder_copy_out" ]] || err "the final stage copies $from_path from $from_stage, but the builder puts the binary at ${builder_copy_out:-?}"
else
  err "the final stage copies nothing from the builder"
fi

# --- .dockerignore: the context must hold the COPY sources, and not target/ or .git. -----------
ignore=$context/.dockerignore
patterns=()
if [[ -f $ignore ]]; then
  while IFS= read -r p || [[ -n $p ]]; do
    p=${p%%#*}
    p=${p//[[:space:]]/}
    [[ -n $p ]] && patterns+=("$p")
  done < "$ignore"
else
  err "no .dockerignore: the context would carry target/ (gigabytes) and .git"
fi
# Docker's rule: a pattern matches a path or one of its parent folders (`*` matches `hack`, so
# `hack/bench` too, until `!hack/bench/` re-includes it); the last matching pattern wins.
ignored() {
  local path=$1 result=1 p neg prefix rest matched
  for p in "${patterns[@]}"; do
    neg=0
    [[ $p == !* ]] && { neg=1; p=${p#!}; }
    p=${p#/}
    p=${p%/}
    prefix=""
    rest=$path
    matched=0
    while :; do
      prefix=${prefix:+$prefix/}${rest%%/*}
      # shellcheck disable=SC2053 # the pattern is a glob on purpose
      [[ $prefix == $p ]] && { matched=1; break; }
      [[ $rest == */* ]] || break
      rest=${rest#*/}
    done
    if ((matched)); then
      if ((neg)); then result=1; else result=0; fi
    fi
  done
  return $result
}
for src in "${copy_sources[@]}"; do
  path=${src#./}
  path=${path%/}
  [[ -z $path || $path == . ]] && continue
  ignored "$path" && err ".dockerignore excludes '$src', which the Dockerfile copies"
done
for big in target .git; do
  ignored "$big" || err ".dockerignore does not exclude $big"
done

if command -v hadolint >/dev/null 2>&1; then
  hadolint --ignore DL3008 "$dockerfile" || err "hadolint"
fi

((errors == 0)) || { log "$errors problem(s) in $dockerfile"; exit 1; }
log "static checks passed"
((static_only)) && exit 0

# --- Run the builder's steps here. ---------------------------------------------------------------
command -v musl-gcc >/dev/null 2>&1 || log "warning: no musl-gcc (Debian: apt-get install musl-tools); ring's C code may not build for $target_arg"
build_target=$target_arg
if ! rustup target list --installed 2>/dev/null | grep -qx "$target_arg"; then
  log "rustup target add $target_arg"
  if ! rustup target add "$target_arg" >&2; then
    build_target=$(rustc -vV | sed -n 's/^host: //p')
    log "warning: cannot install $target_arg (no rustup dist server?): building the host target $build_target instead"
  fi
fi

# Exactly the files the Dockerfile copies (after .dockerignore), in a folder of their own.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for src in "${copy_sources[@]}"; do
  [[ $src == ./ || $src == . ]] && continue
  mkdir -p "$work/src-context/$(dirname "$src")"
  cp -R "$context/$src" "$work/src-context/$src"
done
log "cargo build --release --locked --target $build_target --bin vmi-operator (in a copy of the build context)"
# The shared target folder keeps the dependencies' artifacts; the copy's own crate builds apart.
target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$work/src-context" && CARGO_TARGET_DIR=$target_dir cargo build --release --locked --target "$build_target" --bin vmi-operator)
bin=$target_dir/$build_target/release/vmi-operator

if command -v file >/dev/null 2>&1; then
  desc=$(file -b "$bin")
  [[ $desc == *"statically linked"* || $desc == *"static-pie linked"* ]] || {
    [[ $build_target == *-musl ]] && { err "$bin is not static: $desc"; exit 1; }
    log "note: the host build is dynamically linked ($desc); the image's musl build is static"
  }
elif ldd "$bin" >/dev/null 2>&1 && [[ $build_target == *-musl ]]; then
  err "$bin is dynamically linked"; exit 1
fi
# ENTRYPOINT + CMD: `/vmi-operator run` must be a command of the binary.
"$bin" --version >&2
"$bin" run --help >/dev/null || { err "'vmi-operator run --help' fails"; exit 1; }
size=$(stat -c %s "$bin")
log "ok: $bin ($build_target) is $size bytes ($((size / 1024 / 1024)) MiB)"
