#!/usr/bin/env bash
# The one-command demo: a loopback control plane, a published content library served over HTTP on
# loopback (and one read from a directory), the operator with its webhook, and the images it makes.
#
# Usage: hack/demo.sh up|down      (make demo / make demo-down)
# State: target/demo/ (its own control plane in target/demo/cluster, logs in target/demo/*.log).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$ROOT/target/demo
export VMI_CLUSTER_DIR=$DEMO/cluster
SHARED_FIXTURES=${VMI_FIXTURES:-$ROOT/../shared/fixtures/ovf}
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

stop_pid() { # file
  [[ -f $1 ]] || return 0
  local pid; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

down() {
  stop_pid "$DEMO/operator.pid"
  stop_pid "$DEMO/http.pid"
  [[ -d $VMI_CLUSTER_DIR ]] && "$ROOT/hack/cluster.sh" down || true
  echo "demo stopped"
}

webhook_certs() {
  local d=$DEMO/webhook-certs
  mkdir -p "$d"
  [[ -f $d/tls.crt ]] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=vmi-operator-demo-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$d/san.ext"
  openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 365 \
    -extfile "$d/san.ext" -out "$d/tls.crt" 2>/dev/null
}

library() { # dir, then pairs of source-file target-name
  local dir=$1; shift
  mkdir -p "$dir"
  while (($#)); do cp "$1" "$dir/$2"; shift 2; done
}

up() {
  mkdir -p "$DEMO"
  say "Building the operator and the control plane tools (first run: 10-20 minutes)"
  "$ROOT/hack/tools.sh" kube
  (cd "$ROOT" && cargo build --quiet --bin vmi-operator)
  local bin=$ROOT/target/debug/vmi-operator

  say "Starting etcd, kube-apiserver and kube-controller-manager on loopback"
  "$ROOT/hack/cluster.sh" up
  set -a; . "$VMI_CLUSTER_DIR/env"; set +a
  kubectl apply --server-side -f "$ROOT/crds" >/dev/null
  kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null

  say "Publishing two content libraries of real OVF templates"
  rm -rf "$DEMO/library" "$DEMO/shared-library"
  library "$DEMO/library" \
    "$SHARED_FIXTURES/govmomi/ovf/fixtures/photon5.ovf" "Photon OS 5.0.ovf" \
    "$SHARED_FIXTURES/govmomi/ovf/fixtures/ubuntu24.10.ovf" "Ubuntu 24.10.ovf" \
    "$SHARED_FIXTURES/extra/ttylinux-pc_i486-16.1.ova" "ttylinux 16.1.ova"
  library "$DEMO/shared-library" \
    "$SHARED_FIXTURES/govmomi/ovf/fixtures/photon5.ovf" "Photon OS 5 (shared).ovf" \
    "$SHARED_FIXTURES/extra/virtualbox-4.3-ovf2.0-export-vbox-machine.ovf" "Ubuntu VirtualBox export.ovf"
  "$bin" publish "$DEMO/library" --library-id 6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a01 --name team-images 2>/dev/null
  "$bin" publish "$DEMO/shared-library" --library-id 6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a02 --name shared-images 2>/dev/null

  stop_pid "$DEMO/http.pid"
  local http_port; http_port=$(free_port)
  (cd "$DEMO/library" && exec python3 -m http.server "$http_port" --bind 127.0.0.1 >"$DEMO/http.log" 2>&1) &
  echo $! > "$DEMO/http.pid"

  say "Starting vmi-operator (controllers, webhook on 127.0.0.1, metrics)"
  webhook_certs
  stop_pid "$DEMO/operator.pid"
  local webhook_port metrics_port
  webhook_port=$(free_port); metrics_port=$(free_port)
  # The demo's namespaced library is served on loopback, which tenants may not reach by default.
  "$bin" run --webhook-addr "127.0.0.1:$webhook_port" --webhook-cert-dir "$DEMO/webhook-certs" \
    --metrics-addr "127.0.0.1:$metrics_port" --sync-interval 30s \
    --source-allow-loopback >"$DEMO/operator.log" 2>&1 &
  echo $! > "$DEMO/operator.pid"
  for _ in $(seq 120); do curl -fs "http://127.0.0.1:$metrics_port/readyz" >/dev/null 2>&1 && break; sleep 0.5; done

  local ca; ca=$(base64 -w0 < "$DEMO/webhook-certs/ca.crt")
  kubectl apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: { name: vmi-operator-demo }
webhooks:
  - name: mutate.virtualmachine.vmoperator.vmware.com
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    clientConfig:
      url: https://127.0.0.1:$webhook_port/mutate-vmoperator-vmware-com-v1alpha5-virtualmachine
      caBundle: $ca
    rules:
      - { apiGroups: ["vmoperator.vmware.com"], apiVersions: ["v1alpha5"], operations: ["CREATE", "UPDATE"], resources: ["virtualmachines"] }
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: { name: vmi-operator-demo }
webhooks:
  - name: validate.virtualmachine.vmoperator.vmware.com
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    clientConfig:
      url: https://127.0.0.1:$webhook_port/validate-vmoperator-vmware-com-v1alpha5-virtualmachine
      caBundle: $ca
    rules:
      - { apiGroups: ["vmoperator.vmware.com"], apiVersions: ["v1alpha5"], operations: ["CREATE", "UPDATE"], resources: ["virtualmachines"] }
YAML

  say "Creating a namespaced ContentLibrary (HTTP) and a ClusterContentLibrary (directory)"
  kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl apply -f - <<YAML
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibrary
metadata: { name: team-images, namespace: demo }
spec:
  id: 6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a01
  source: http://127.0.0.1:$http_port/lib.json
---
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ClusterContentLibrary
metadata: { name: shared-images }
spec:
  id: 6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a02
  source: file://$DEMO/shared-library/lib.json
YAML

  say "Waiting for the images to be Ready"
  for _ in $(seq 120); do
    local ready
    ready=$(kubectl get vmi,cvmi -A -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
    [[ $ready -ge 5 ]] && break
    sleep 1
  done

  say "kubectl get vmi,cvmi -A"
  kubectl get vmi,cvmi -A

  say "A VirtualMachine by display name, resolved by the webhook"
  kubectl apply -f - <<YAML
apiVersion: vmoperator.vmware.com/v1alpha5
kind: VirtualMachine
metadata: { name: my-vm, namespace: demo }
spec:
  imageName: "Photon OS 5.0"
  className: best-effort-medium
YAML
  kubectl get vm my-vm -n demo -o jsonpath='{"spec.imageName: "}{.spec.imageName}{"\nspec.image:     "}{.spec.image}{"\n"}'

  cat <<TXT

The demo is running. Try:
  set -a; . $VMI_CLUSTER_DIR/env; set +a
  kubectl get vmi -n demo -l os.image.vmoperator.vmware.com/version=24.10
  kubectl get vmi,cvmi -A -o custom-columns=NAME:.metadata.name,DISPLAY:.status.name
  kubectl describe vmi -n demo \$(kubectl get vmi -n demo -o name | head -1 | cut -d/ -f2)
  kubectl get cl,ccl,clitem,cclitem -A
  # a name that matches nothing is refused:
  kubectl apply -f - <<'YAML'
apiVersion: vmoperator.vmware.com/v1alpha5
kind: VirtualMachine
metadata: { name: other-vm, namespace: demo }
spec: { imageName: "No Such Image" }
YAML
Operator log: $DEMO/operator.log   Stop everything: make demo-down
TXT
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
