#!/usr/bin/env bash
# A real single-node Kubernetes cluster whose pods run images built here (no registry, no Docker):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc, kubelet and
# kube-proxy, all inside a network namespace and a private mount namespace of their own. The
# namespace has no link out, so nothing leaves the machine, and the host keeps its sysctls (the
# kubelet's kernel settings are bind-mounted over /proc/sys inside the mount namespace only).
# The recipe and why each setting is there: ../shared/notes/node.md (containerd 1.6, cgroup v1).
#
# Usage: hack/node.sh up|down|status|import FILE.tar...|exec CMD...|kubectl ARGS...|helm ARGS...|ctr ARGS...
#   up        start (idempotent), import the images of `make image` (target/image/*.tar), wait for
#             the node to be Ready.
#   down      stop everything and remove the state: pods (cgroup tree), kubelet, containerd's shims
#             (by PID), containerd, the control plane, the namespaces, IPAM and containerd data.
#   status    health of each part; exit 1 unless all are up and the node is Ready.
#   import    `ctr -n k8s.io images import` of OCI archives into the node's containerd.
#   exec      run a command inside the node's namespaces with KUBECONFIG set (helm, curl, a server
#             that pods reach on the node IP, ...).
#   kubectl   kubectl against the node (the same as `exec kubectl ...`).
#   helm      helm against the node.
#   ctr       ctr against the node's containerd (namespace k8s.io), e.g. `ctr images ls`.
#
# State: $VMI_NODE_DIR (default target/node): pki/, kubeconfig, logs/, pids/, env, etcd/,
# containerd/, kubelet/, cni/. Addresses inside the namespace: node $NODE_IP (10.210.0.2, on a
# bridge without ports), pods 10.244.0.0/24 (CNI bridge), Services 10.96.0.0/16, the apiserver on
# 127.0.0.1:6443 and $NODE_IP:6443. The images: VMI_IMAGE_DIR (default target/image).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${VMI_NODE_DIR:-$ROOT/target/node}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
IMAGES=${VMI_IMAGE_DIR:-$ROOT/target/image}
PKI=$DIR/pki
LOGS=$DIR/logs
PIDS=$DIR/pids
NODE=vmi-node
NODE_IP=10.210.0.2
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
PAUSE_IMAGE=${VMI_PAUSE_IMAGE:-localhost/vmi-operator-pause:1}
# One netns and cgroup root per state folder, so two worktrees can each run a node.
ID=$(printf '%s' "$DIR" | sha256sum | cut -c1-8)
NETNS=vmi-node-$ID
CGROUP_ROOT=vmi-node-$ID
MNT=$DIR/ns/mnt
SOCK=$DIR/containerd/c.sock

log() { echo "[node] $*" >&2; }
# shellcheck source=hack/lib.sh
. "$ROOT/hack/lib.sh"

ensure_tools() {
  load_tools
  local b
  for b in "$VMI_ETCD" "$VMI_KUBE_APISERVER" "$VMI_KUBE_CONTROLLER_MANAGER" "$VMI_KUBECTL"; do
    [[ -x $b ]] || { log "building the Kubernetes tools (hack/tools.sh kube)"; "$ROOT/hack/tools.sh" kube; break; }
  done
  for b in "$VMI_KUBELET" "$VMI_KUBE_SCHEDULER" "$VMI_KUBE_PROXY"; do
    [[ -x $b ]] || { log "building the node tools (hack/tools.sh node)"; "$ROOT/hack/tools.sh" node; break; }
  done
  load_tools
  for b in "$VMI_ETCD" "$VMI_KUBE_APISERVER" "$VMI_KUBE_CONTROLLER_MANAGER" "$VMI_KUBECTL" \
    "$VMI_KUBELET" "$VMI_KUBE_SCHEDULER" "$VMI_KUBE_PROXY"; do
    [[ -x $b ]] || die "missing binary $b"
  done
  local c
  for c in containerd ctr runc ip nsenter unshare iptables conntrack openssl curl; do
    command -v "$c" >/dev/null || die "$c not found (hack/ci-deps.sh installs it)"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || die "no CNI plugins in /usr/lib/cni (hack/ci-deps.sh installs containernetworking-plugins)"
}

# Runs a command inside the node's network and mount namespaces.
in_ns() { nsenter --net="/run/netns/$NETNS" --mount="$MNT" -- "$@"; }

start_daemon() { # name binary args...  (own session, inside the namespaces, no inherited stdio or lock fd)
  local name=$1; shift
  setsid nsenter --net="/run/netns/$NETNS" --mount="$MNT" -- "$@" </dev/null >"$LOGS/$name.log" 2>&1 9>&- &
  echo $! >"$PIDS/$name.pid"
}

ready_or_dead() { # name command...
  local name=$1; shift
  alive "$name" || die "$name exited" "$name"
  "$@" >/dev/null 2>&1
}

write_env() {
  {
    echo "# written by hack/node.sh; use: set -a; . $DIR/env; set +a (clients run through hack/node.sh exec)"
    printf '%s=%q\n' KUBECONFIG "$DIR/kubeconfig" VMI_NODE_DIR "$DIR" VMI_NODE_NETNS "$NETNS" \
      VMI_NODE_MNT "$MNT" VMI_NODE_IP "$NODE_IP" VMI_NODE_CGROUP_ROOT "$CGROUP_ROOT" \
      CLUSTER_CA "$PKI/ca.crt" APISERVER_URL "https://127.0.0.1:6443"
    "$ROOT/hack/tools.sh" env
  } >"$DIR/env"
}

# --- Namespaces. ----------------------------------------------------------------------------------
# Values the kubelet insists on (it writes them when they differ): only inside the mount namespace.
KUBELET_SYSCTLS="vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000"

make_namespaces() {
  ip netns add "$NETNS"
  local n=(ip netns exec "$NETNS")
  "${n[@]}" ip link set lo up
  # The node IP sits on a bridge with no ports: reachable from inside, no way out.
  "${n[@]}" ip link add vmibr0 type bridge
  "${n[@]}" ip addr add "$NODE_IP/24" dev vmibr0
  "${n[@]}" ip link set vmibr0 up
  "${n[@]}" ip route add "$SERVICE_CIDR" dev vmibr0
  "${n[@]}" sysctl -qw net.ipv4.ip_forward=1
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] && "${n[@]}" sysctl -qw net.bridge.bridge-nf-call-iptables=1 || true

  # A private mount namespace, kept by a bind mount of its file (on a private mount of ns/).
  mkdir -p "$DIR/ns"
  mountpoint -q "$DIR/ns" || mount --bind "$DIR/ns" "$DIR/ns"
  mount --make-private "$DIR/ns"
  touch "$MNT"
  unshare --mount="$MNT" --propagation private true
  local etc=$DIR/etc s k v
  mkdir -p "$etc/sysctl" "$DIR/cni/var" "$LOGS/pods" "$LOGS/containers"
  printf '127.0.0.1 localhost\n%s %s\n' "$NODE_IP" "$NODE" >"$etc/hosts"
  printf 'nameserver %s\n' "$NODE_IP" >"$etc/resolv.conf"
  local m=(nsenter --mount="$MNT" --)
  "${m[@]}" mount --bind "$etc/hosts" /etc/hosts
  "${m[@]}" mount --bind "$etc/resolv.conf" /etc/resolv.conf
  for s in $KUBELET_SYSCTLS; do
    k=${s%%=*}; v=${s#*=}
    [[ $(cat "/proc/sys/$k") == "$v" ]] && continue
    echo "$v" >"$etc/sysctl/${k//\//.}"
    "${m[@]}" mount --bind "$etc/sysctl/${k//\//.}" "/proc/sys/$k"
  done
  # Pod network namespaces, CNI's cache and IPAM, shim sockets and pod logs stay in the node's state.
  mkdir -p /run/netns /run/containerd /var/lib/cni /var/log/pods /var/log/containers
  "${m[@]}" mount -t tmpfs tmpfs /run/containerd
  "${m[@]}" mount --bind "$DIR/cni/var" /var/lib/cni
  "${m[@]}" mount --bind "$LOGS/pods" /var/log/pods
  "${m[@]}" mount --bind "$LOGS/containers" /var/log/containers
  # Pod netns files under a tmpfs of the node's own (mounted last: ip netns uses /run/netns above).
  "${m[@]}" mount -t tmpfs tmpfs /run/netns
}

make_cgroups() { # the kubelet's cgroupRoot, in every v1 hierarchy (and the unified one)
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -L ${h%/} ]] && continue
    mkdir -p "$h$CGROUP_ROOT"
    if [[ -f ${h}cpuset.cpus ]]; then
      cat "${h}cpuset.cpus" >"$h$CGROUP_ROOT/cpuset.cpus"
      cat "${h}cpuset.mems" >"$h$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

# --- Config files. --------------------------------------------------------------------------------
write_configs() {
  mkdir -p "$DIR/containerd" "$DIR/cni/net.d" "$DIR/kubelet"
  cat >"$DIR/containerd/config.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root lacks CAP_SYS_RESOURCE here: runc cannot lower oom_score_adj, so never ask it to.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
EOF
  cat >"$DIR/cni/net.d/10-vmi-node.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "vmi-node",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
               "dataDir": "$DIR/cni/ipam"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
resolvConf: $DIR/etc/resolv.conf
podCIDR: $POD_CIDR
maxPods: 40
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%}
EOF
  cat >"$DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $DIR/kubeconfig}
hostnameOverride: $NODE
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# The conntrack table size is global, not per namespace: leave every conntrack sysctl alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# --- Up. ------------------------------------------------------------------------------------------
curl_ns() { in_ns curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:6443$1"; }
node_ready() {
  [[ $(in_ns "$VMI_KUBECTL" --kubeconfig "$DIR/kubeconfig" get node "$NODE" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

healthy() {
  [[ -f $DIR/kubeconfig && -e /run/netns/$NETNS ]] || return 1
  local c
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
    alive "$c" || return 1
  done
  load_tools
  node_ready
}

up() {
  if healthy; then
    log "already running (node $NODE Ready)"
    import_images
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "a node needs root (network and mount namespaces, cgroups)"
  local t0=$SECONDS
  ensure_tools
  down
  mkdir -p "$LOGS" "$PIDS"
  make_pki vmi-operator-node-ca \
    "IP:127.0.0.1, DNS:localhost, IP:$NODE_IP, IP:$SERVICE_IP, DNS:$NODE, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local" \
    "admin=/O=system:masters/CN=vmi-node-admin" "kubelet=/O=system:nodes/CN=system:node:$NODE"
  make_namespaces
  make_cgroups
  mkdir -p "$DIR/kubelet"
  write_kubeconfig "$DIR/kubeconfig" https://127.0.0.1:6443 vmi-node admin
  write_kubeconfig "$DIR/kubelet/kubeconfig" https://127.0.0.1:6443 vmi-node kubelet
  write_configs

  start_daemon etcd "$VMI_ETCD" --name=vmi-node --data-dir="$DIR/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=vmi-node=http://127.0.0.1:2380 --unsafe-no-fsync --log-level=warn
  start_daemon containerd containerd --config "$DIR/containerd/config.toml"
  wait_for 60 etcd ready_or_dead etcd in_ns curl -fsS --max-time 2 http://127.0.0.1:2379/health

  start_daemon kube-apiserver "$VMI_KUBE_APISERVER" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --advertise-address="$NODE_IP" --secure-port=6443 \
    --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" --service-cluster-ip-range="$SERVICE_CIDR" \
    --kubelet-preferred-address-types=InternalIP \
    --kubelet-client-certificate="$PKI/admin.crt" --kubelet-client-key="$PKI/admin.key" \
    --allow-privileged=true --profiling=false
  wait_for 180 kube-apiserver ready_or_dead kube-apiserver curl_ns /readyz
  write_env

  start_daemon kube-controller-manager "$VMI_KUBE_CONTROLLER_MANAGER" \
    --kubeconfig="$DIR/kubeconfig" --leader-elect=false --secure-port=0 \
    --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
    --use-service-account-credentials=false
  start_daemon kube-scheduler "$VMI_KUBE_SCHEDULER" \
    --kubeconfig="$DIR/kubeconfig" --leader-elect=false --secure-port=0
  wait_for 60 containerd ready_or_dead containerd in_ns ctr --address "$SOCK" version
  import_images
  start_daemon kubelet "$VMI_KUBELET" --config="$DIR/kubelet/config.yaml" \
    --kubeconfig="$DIR/kubelet/kubeconfig" --root-dir="$DIR/kubelet/root" \
    --hostname-override="$NODE" --node-ip="$NODE_IP" --cert-dir="$DIR/kubelet/pki"
  start_daemon kube-proxy "$VMI_KUBE_PROXY" --config="$DIR/kube-proxy.yaml"
  wait_for 120 kubelet ready_or_dead kubelet node_ready
  alive kube-proxy || die "kube-proxy exited" kube-proxy
  alive kube-scheduler || die "kube-scheduler exited" kube-scheduler
  alive kube-controller-manager || die "kube-controller-manager exited" kube-controller-manager
  # The default ServiceAccount (the pods' default) comes from the controller manager.
  wait_for 60 kube-controller-manager ready_or_dead kube-controller-manager \
    in_ns "$VMI_KUBECTL" --kubeconfig "$DIR/kubeconfig" -n default get serviceaccount default
  log "up in $((SECONDS - t0))s: node $NODE Ready ($NODE_IP; hack/node.sh kubectl ..., env: $DIR/env)"
}

import_images() { # the archives of `make image`, when there
  local f files=()
  for f in "$IMAGES"/*.tar; do [[ -f $f ]] && files+=("$f"); done
  ((${#files[@]})) || { log "no images in $IMAGES (make image): pods of local images cannot start"; return 0; }
  import "${files[@]}"
}
import() {
  local f
  for f in "$@"; do
    in_ns ctr --address "$SOCK" -n k8s.io images import "$f" >>"$LOGS/import.log" 2>&1 ||
      die "ctr images import $f failed" import
  done
}

# --- Down. ----------------------------------------------------------------------------------------
cgroup_pids() { # every process in the node's cgroup tree
  local h
  for h in /sys/fs/cgroup/*/; do
    if [[ -d $h$CGROUP_ROOT ]]; then find "$h$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done | sort -u
}
shim_pids() { # containerd's shims for this node's containerd (they outlive it)
  local d cmd
  for d in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
    if [[ $cmd == *containerd-shim* && $cmd == *"$SOCK"* ]]; then echo "${d#/proc/}"; fi
  done
}
leftovers() { # any process still inside the node's network namespace
  ip netns pids "$NETNS" 2>/dev/null || true
}

down() {
  local p i h
  stop_daemons kubelet
  # Pods: every process of the cgroup tree, then the shims, then containerd.
  for i in 1 2 3 4 5; do
    p=$(cgroup_pids)
    [[ -z $p ]] && break
    # shellcheck disable=SC2086 # a list of pids
    kill -9 $p 2>/dev/null || true
    sleep 0.2
  done
  p=$(shim_pids)
  # shellcheck disable=SC2086
  [[ -z $p ]] || kill -9 $p 2>/dev/null || true
  stop_daemons kube-proxy kube-scheduler kube-controller-manager containerd
  stop_daemons kube-apiserver
  stop_daemons etcd
  p=$(leftovers)
  if [[ -n $p ]]; then
    log "killing leftover processes in $NETNS: ${p//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -9 $p 2>/dev/null || true
    sleep 0.5
  fi
  for h in /sys/fs/cgroup/*/; do
    if [[ -d $h$CGROUP_ROOT ]]; then find "$h$CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT"; fi
  if mountpoint -q "$DIR/ns" 2>/dev/null; then umount "$DIR/ns"; fi
  if [[ -e /run/netns/$NETNS ]]; then ip netns del "$NETNS"; fi
  local left=""
  for h in /sys/fs/cgroup/*/; do if [[ -d $h$CGROUP_ROOT ]]; then left+=" $h$CGROUP_ROOT"; fi; done
  [[ -z $left ]] || log "warning: cgroups left:$left"
  # State that must not survive into the next start (IPAM leases, containerd's metadata, etcd).
  rm -rf "$DIR/containerd" "$DIR/kubelet" "$DIR/cni" "$DIR/etcd" "$DIR/ns" "$DIR/etc"
  return 0
}

status() {
  local ok=0 c
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
    if alive "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: not running"; ok=1; fi
  done
  [[ -e /run/netns/$NETNS ]] || { echo "network namespace $NETNS: missing"; return 1; }
  load_tools
  if node_ready; then echo "node $NODE ($NODE_IP): Ready"; else echo "node $NODE: not Ready"; ok=1; fi
  return $ok
}

run_in_ns() { # command...: with the node's kubeconfig and tools first on PATH, in the caller's folder
  # (entering a mount namespace moves to its root: --wd brings the command back)
  [[ -e /run/netns/$NETNS && -f $DIR/kubeconfig ]] || die "the node is not running (hack/node.sh up)"
  load_tools
  KUBECONFIG=$DIR/kubeconfig PATH="$(dirname "$VMI_KUBECTL"):$(dirname "$VMI_HELM"):$PATH" \
    exec nsenter --net="/run/netns/$NETNS" --mount="$MNT" --wd="$PWD" -- "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
  up|down|status|import)
    exec 9>"$DIR/.lock"
    flock 9
    case "$cmd" in
      up) up ;;
      down) down ;;
      status) status ;;
      import) [[ -e /run/netns/$NETNS ]] || die "the node is not running"; import "$@" ;;
    esac ;;
  exec) run_in_ns "$@" ;;
  kubectl) load_tools; run_in_ns "$VMI_KUBECTL" "$@" ;;
  helm) load_tools; run_in_ns "$VMI_HELM" "$@" ;;
  ctr) run_in_ns ctr --address "$SOCK" -n k8s.io "$@" ;;
  *) echo "usage: $0 up|down|status|import FILE...|exec CMD...|kubectl ARGS...|helm ARGS...|ctr ARGS..." >&2; exit 2 ;;
esac
