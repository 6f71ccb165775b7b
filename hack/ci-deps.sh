#!/usr/bin/env bash
# Installs the Debian packages that `make test` needs on a brand-new machine; a machine that already
# has every command skips apt altogether. Go (>= the go line of the Kubernetes module) and Rust
# (cargo with rustfmt and clippy) are expected on the machine; this checks them and says what is missing.
set -euo pipefail
log() { echo "[ci-deps] $*" >&2; }

# command -> Debian package
declare -A PKG=(
  [openssl]=openssl [curl]=curl [make]=make [git]=git
  [setsid]=util-linux [flock]=util-linux [base64]=coreutils [tr]=coreutils
  # make check-dockerfile-ci: the builder stage's musl build, and its static-binary check
  [musl-gcc]=musl-tools [file]=file
  # hack/node.sh: a real node (containerd + runc, the CNI bridge plugins, kube-proxy's iptables)
  [containerd]=containerd [ctr]=containerd [runc]=runc [iptables]=iptables [conntrack]=conntrack
  [ip]=iproute2 [nsenter]=util-linux [unshare]=util-linux [gcc]=gcc
)
missing=()
for cmd in "${!PKG[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG[$cmd]}")
done
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || missing+=(containernetworking-plugins)
# make image: the pause image's static C program links against glibc's static libc.
[[ -f /usr/lib/x86_64-linux-gnu/libc.a || -f /usr/lib/$(uname -m)-linux-gnu/libc.a ]] || missing+=(libc6-dev)

if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing ${missing[*]}"
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

fail=0
command -v go >/dev/null 2>&1 || { log "go not found: install Go >= 1.26 (https://go.dev/dl)"; fail=1; }
command -v cargo >/dev/null 2>&1 || { log "cargo not found: install Rust with rustup"; fail=1; }
if command -v cargo >/dev/null 2>&1; then
  for c in fmt clippy; do
    cargo "$c" --version >/dev/null 2>&1 || { log "cargo $c missing: rustup component add ${c/fmt/rustfmt}"; fail=1; }
  done
fi
exit $fail
