#!/usr/bin/env bash
# Builds the test and demo tools from their Go modules and caches them by version outside the repo:
#   kube-apiserver, kube-controller-manager, kubectl, etcd (one wrapper module over k8s.io/kubernetes),
#   vcsim and govc (govmomi), helm; and cargo-fuzz (a cargo install, for `make fuzz` only).
#   kubelet, kube-scheduler, kube-proxy (the same module and version: `node`, for hack/node.sh).
# Usage: hack/tools.sh [all|kube|node|vcsim|helm|cargo-fuzz|env]   prints nothing but progress.
# Override any tool with VMI_KUBE_APISERVER, VMI_KUBE_CONTROLLER_MANAGER, VMI_ETCD, VMI_KUBECTL,
# VMI_VCSIM, VMI_GOVC, VMI_HELM, VMI_KUBELET, VMI_KUBE_SCHEDULER, VMI_KUBE_PROXY (paths to binaries you
# already have), like envtest's assets directory.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.36.3}
GOVMOMI_VERSION=${GOVMOMI_VERSION:-v0.46.3}
HELM_VERSION=${HELM_VERSION:-v3.19.0}
CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-0.13.2}
CACHE=${VMI_TOOLS_CACHE:-$HOME/.cache/vmi-operator}
HERE=$(cd "$(dirname "$0")" && pwd)

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
log() { echo "[tools] $*" >&2; }

kube_dir() { echo "$CACHE/kube-$KUBE_VERSION"; }

build_kube() {
  local out; out=$(kube_dir)
  if [[ -x $out/kube-apiserver && -x $out/kube-controller-manager && -x $out/kubectl && -x $out/etcd ]]; then
    return 0
  fi
  mkdir -p "$out"
  local mod; mod=$(mktemp -d)
  log "building Kubernetes $KUBE_VERSION tools (cold: 10-20 minutes) in $mod"
  kube_module "$mod"
  local cmd
  # Each build is a command of its own: with `(build) && mv`, set -e would ignore a failed build.
  for cmd in kube-apiserver kube-controller-manager kubectl; do
    kube_go_build "$mod" "$out" "$cmd"
  done
  log "go build etcd"
  (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
  rm -rf "$mod"
}

# The node's binaries (hack/node.sh): the same wrapper module and version, in the same folder.
build_kube_node() {
  local out; out=$(kube_dir)
  if [[ -x $out/kubelet && -x $out/kube-scheduler && -x $out/kube-proxy ]]; then
    return 0
  fi
  mkdir -p "$out"
  local mod; mod=$(mktemp -d)
  log "building Kubernetes $KUBE_VERSION node tools (warm module cache: about 2 minutes) in $mod"
  kube_module "$mod"
  local cmd
  for cmd in kube-scheduler kube-proxy kubelet; do
    [[ -x $out/$cmd ]] || kube_go_build "$mod" "$out" "$cmd"
  done
  rm -rf "$mod"
}

kube_go_build() { # module-dir out-dir cmd
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  log "go build $3"
  (cd "$1" && go build -trimpath -ldflags "$ld" -o "$2/$3.tmp" "k8s.io/kubernetes/cmd/$3")
  mv "$2/$3.tmp" "$2/$3"
}

# The wrapper module over k8s.io/kubernetes (its staging modules replaced by their published versions).
kube_module() { # dir
  local mod=$1
  local staging=v0.${KUBE_VERSION#v1.}
  local upstream
  upstream=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  {
    echo "module vmi-operator.local/kubetools"
    echo
    grep -E '^go [0-9]' "$upstream/go.mod"
    grep -E '^godebug ' "$upstream/go.mod" || true
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    sed -nE 's/^\s*(k8s\.io\/[a-z0-9-]+) => \.\/staging\/.*/\t\1 => \1 '"$staging"'/p' "$upstream/go.mod"
    echo ")"
  } > "$mod/go.mod"
  # etcd's server module is already in Kubernetes' module graph (at the version Kubernetes tests with).
  cat > "$mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  (cd "$mod" && go mod tidy >/dev/null 2>&1 || true)
}

build_go_install() { # name version pkg...
  local name=$1 version=$2; shift 2
  local out="$CACHE/$name-$version"
  local missing=0
  for pkg in "$@"; do [[ -x $out/$(basename "$pkg") ]] || missing=1; done
  [[ $missing == 0 ]] && return 0
  mkdir -p "$out"
  for pkg in "$@"; do
    log "go install $pkg@$version"
    GOBIN="$out" go install -trimpath -ldflags "-s -w" "$pkg@$version"
  done
}

build_vcsim() { build_go_install govmomi "$GOVMOMI_VERSION" github.com/vmware/govmomi/vcsim github.com/vmware/govmomi/govc; }
# helm: `go install` works (no replace directives), but a plain build reports version "v3.19" and
# defaults .Capabilities.KubeVersion (helm template, helm lint) to v1.20.0, which fails charts with a
# kubeVersion constraint. Set the ldflags upstream's Makefile sets: the version, and the Kubernetes
# version of the client-go helm is built with (helm 3.19: client-go v0.34 -> v1.34). A stamp with the
# flags rebuilds a binary built without them.
build_helm() {
  local out="$CACHE/helm-$HELM_VERSION"
  local tmp dir client_go minor ld
  tmp=$(mktemp -d)
  dir=$(cd "$tmp" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  rm -rf "$tmp"
  client_go=$(sed -nE 's/^\s*k8s\.io\/client-go v0\.([0-9]+)\..*/\1/p' "$dir/go.mod" | head -n1)
  [[ -n $client_go ]] || { log "cannot find k8s.io/client-go in $dir/go.mod"; exit 1; }
  minor=$client_go
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ld+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
  done
  if [[ -x $out/helm && -f $out/stamp && $(cat "$out/stamp") == "$ld" ]]; then
    return 0
  fi
  mkdir -p "$out"
  log "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (Kubernetes v1.$minor capabilities)"
  GOBIN="$out" go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "$ld" > "$out/stamp"
}

# cargo-fuzz from crates.io with its lock file (about 1.5 minutes cold).
build_cargo_fuzz() {
  local out="$CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION"
  [[ -x $out/bin/cargo-fuzz ]] && return 0
  log "cargo install cargo-fuzz@$CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$out" --quiet
}

# env prints shell assignments of every tool path (used by hack/cluster.sh and the tests).
print_env() {
  local k; k=$(kube_dir)
  echo "VMI_KUBE_APISERVER=${VMI_KUBE_APISERVER:-$k/kube-apiserver}"
  echo "VMI_KUBE_CONTROLLER_MANAGER=${VMI_KUBE_CONTROLLER_MANAGER:-$k/kube-controller-manager}"
  echo "VMI_KUBECTL=${VMI_KUBECTL:-$k/kubectl}"
  echo "VMI_ETCD=${VMI_ETCD:-$k/etcd}"
  echo "VMI_KUBELET=${VMI_KUBELET:-$k/kubelet}"
  echo "VMI_KUBE_SCHEDULER=${VMI_KUBE_SCHEDULER:-$k/kube-scheduler}"
  echo "VMI_KUBE_PROXY=${VMI_KUBE_PROXY:-$k/kube-proxy}"
  echo "VMI_VCSIM=${VMI_VCSIM:-$CACHE/govmomi-$GOVMOMI_VERSION/vcsim}"
  echo "VMI_GOVC=${VMI_GOVC:-$CACHE/govmomi-$GOVMOMI_VERSION/govc}"
  echo "VMI_HELM=${VMI_HELM:-$CACHE/helm-$HELM_VERSION/helm}"
  echo "VMI_CARGO_FUZZ=${VMI_CARGO_FUZZ:-$CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION/bin/cargo-fuzz}"
}

# The kube tools are built unless all four are overridden (etcd or kubectl alone still need a build).
kube_overridden() {
  [[ -n ${VMI_KUBE_APISERVER:-} && -n ${VMI_KUBE_CONTROLLER_MANAGER:-} && -n ${VMI_KUBECTL:-} && -n ${VMI_ETCD:-} ]]
}

node_overridden() { [[ -n ${VMI_KUBELET:-} && -n ${VMI_KUBE_SCHEDULER:-} && -n ${VMI_KUBE_PROXY:-} ]]; }

case "${1:-all}" in
  kube) kube_overridden || build_kube ;;
  vcsim) [[ -n ${VMI_VCSIM:-} ]] || build_vcsim ;;
  helm) [[ -n ${VMI_HELM:-} ]] || build_helm ;;
  node) node_overridden || build_kube_node ;;
  all) kube_overridden || build_kube
       [[ -n ${VMI_VCSIM:-} ]] || build_vcsim
       [[ -n ${VMI_HELM:-} ]] || build_helm
       node_overridden || build_kube_node ;;
  cargo-fuzz) [[ -n ${VMI_CARGO_FUZZ:-} ]] || build_cargo_fuzz ;;
  env) print_env ;;
  *) echo "usage: $0 [all|kube|node|vcsim|helm|cargo-fuzz|env]" >&2; exit 2 ;;
esac
