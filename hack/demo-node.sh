#!/usr/bin/env bash
# The demo on a real node: the operator runs as the pods of its Helm chart, installed the way the
# README tells users, on the node of hack/node.sh (its own network and mount namespaces).
#   make image         -> target/image/{vmi-operator,pause}.tar (no Docker)
#   hack/node.sh up    -> etcd, apiserver, controller-manager, scheduler, containerd, kubelet, kube-proxy
#   helm install       -> 2 replicas, leader election, the webhook behind its Service
#   a published library served on the node IP, a ContentLibrary, Ready images, a VirtualMachine by
#   display name.
#
# Usage: hack/demo-node.sh up|down      (make demo-node / make demo-node-down)
# State: target/demo-node/ (the node in target/demo-node/node).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$ROOT/target/demo-node
export VMI_NODE_DIR=$DEMO/node
SHARED_FIXTURES=${VMI_FIXTURES:-$ROOT/../shared/fixtures/ovf}
NODE_IP=10.210.0.2
HTTP_PORT=8000
NS=vmware-system-vmop
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
node() { "$ROOT/hack/node.sh" "$@"; }

down() {
  if [[ -f $DEMO/http.pid ]]; then kill "$(cat "$DEMO/http.pid")" 2>/dev/null || true; rm -f "$DEMO/http.pid"; fi
  [[ -d $VMI_NODE_DIR ]] && node down || true
  echo "demo stopped"
}

up() {
  mkdir -p "$DEMO"
  say "Building the images (make image) and the node's tools (first run: 10-20 minutes)"
  "$ROOT/hack/tools.sh" kube
  "$ROOT/hack/tools.sh" node
  "$ROOT/hack/tools.sh" helm
  "$ROOT/hack/image.sh"
  local bin=${CARGO_TARGET_DIR:-${VMI_TOOLS_CACHE:-$HOME/.cache/vmi-operator}/release-target}/x86_64-unknown-linux-musl/release/vmi-operator

  say "Starting a node: control plane, containerd, kubelet, kube-proxy (hack/node.sh up)"
  node up

  say "helm install vmware-system-vmop charts/vmi-operator (the image of make image)"
  node helm upgrade --install vmware-system-vmop "$ROOT/charts/vmi-operator" -n "$NS" --create-namespace \
    --set image.repository=localhost/vmi-operator --set image.tag=dev --set image.pullPolicy=Never \
    --set crds.virtualMachine=true \
    --wait --timeout 5m
  node kubectl get pods -n "$NS" -o wide

  say "Publishing a content library of real OVF templates, served on the node IP ($NODE_IP:$HTTP_PORT)"
  rm -rf "$DEMO/library"
  mkdir -p "$DEMO/library"
  cp "$ROOT/tests/data/photon-5.0.ovf" "$DEMO/library/Photon OS 5.0.ovf"
  cp "$SHARED_FIXTURES/govmomi/ovf/fixtures/ubuntu24.10.ovf" "$DEMO/library/Ubuntu 24.10.ovf"
  cp "$SHARED_FIXTURES/extra/ttylinux-pc_i486-16.1.ova" "$DEMO/library/ttylinux 16.1.ova"
  "$bin" publish "$DEMO/library" --library-id 6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a01 --name team-images 2>/dev/null
  if [[ -f $DEMO/http.pid ]]; then kill "$(cat "$DEMO/http.pid")" 2>/dev/null || true; fi
  (cd "$DEMO/library" && exec "$ROOT/hack/node.sh" exec python3 -m http.server "$HTTP_PORT" --bind "$NODE_IP" >"$DEMO/http.log" 2>&1) &
  echo $! >"$DEMO/http.pid"

  node kubectl create namespace demo --dry-run=client -o yaml | node kubectl apply -f - >/dev/null
  node kubectl apply -f - <<YAML
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibrary
metadata: { name: team-images, namespace: demo }
spec:
  id: 6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a01
  source: http://$NODE_IP:$HTTP_PORT/lib.json
YAML

  say "Waiting for the images to be Ready"
  local ready=0
  for _ in $(seq 120); do
    ready=$(node kubectl get vmi -n demo -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
    [[ $ready -ge 3 ]] && break
    sleep 1
  done
  node kubectl get vmi -n demo -o wide

  say "A VirtualMachine by display name, resolved by the webhook (called through its Service)"
  node kubectl apply -f - <<YAML
apiVersion: vmoperator.vmware.com/v1alpha5
kind: VirtualMachine
metadata: { name: my-vm, namespace: demo }
spec:
  imageName: "Photon OS 5.0"
  className: best-effort-medium
YAML
  node kubectl get vm my-vm -n demo -o jsonpath='{"spec.imageName: "}{.spec.imageName}{"\nspec.image:     "}{.spec.image}{"\n"}'

  cat <<TXT

The operator runs as pods on the node. The README's troubleshooting commands work through
hack/node.sh kubectl (VMI_NODE_DIR=$VMI_NODE_DIR):
  export VMI_NODE_DIR=$VMI_NODE_DIR
  hack/node.sh kubectl get pods -n $NS
  hack/node.sh kubectl logs -n $NS deployment/vmware-system-vmop-controller-manager
  hack/node.sh kubectl get mutatingwebhookconfiguration
  hack/node.sh kubectl get vmi -n demo -o custom-columns=NAME:.metadata.name,DISPLAY:.status.name
  hack/node.sh kubectl get lease -n $NS
  hack/node.sh helm list -n $NS
Stop everything: make demo-node-down
TXT
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
