#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the end-to-end tests, without Docker:
# etcd + kube-apiserver (RBAC on) + kube-controller-manager (garbage collector, namespace deletion),
# started as plain processes from the binaries hack/tools.sh builds (or VMI_ETCD,
# VMI_KUBE_APISERVER, VMI_KUBE_CONTROLLER_MANAGER, VMI_KUBECTL pointing at your own).
#
# Usage: hack/cluster.sh up|down|status|restart-kcm
#   up           start (idempotent: a running, healthy cluster is left alone). A fresh start wipes
#                etcd's data; the PKI is kept. CRDs in crds/*.yaml (VMI_CLUSTER_CRDS=<dir> names
#                another folder, e.g. VMware's own CRDs) are applied before kube-controller-manager
#                starts, so its garbage collector sees them at once.
#   down         stop all three (pid files, then any leftover process of this state dir).
#   status       print the health of each component; exit 1 unless all are healthy.
#   restart-kcm  restart kube-controller-manager and wait until its garbage collector has synced:
#                call it after installing new CRDs (the garbage collector rereads discovery only
#                every 30 s, so owner references on custom resources are otherwise collected late).
#
# State lives in target/cluster/ (VMI_CLUSTER_DIR overrides): pki/, etcd/, logs/, pids/, ports,
# kubeconfig (admin: client certificate in system:masters) and env (shell assignments: KUBECONFIG,
# APISERVER_URL, CLUSTER_CA, the tool paths of `hack/tools.sh env`, and PATH with the matching
# kubectl first). Use it as `set -a; . target/cluster/env; set +a`.
# Ports are picked free at each fresh start; VMI_ETCD_PORT, VMI_ETCD_PEER_PORT and
# VMI_APISERVER_PORT pin them. VMI_ETCD_QUOTA_BYTES sets etcd's --quota-backend-bytes (default
# 2 GiB; the benchmark's 100,000-image phase needs more). VMI_APISERVER_WATCH_CACHE=false turns
# the apiserver's watch cache off (the benchmark's phases above 40,000 images: cached, their
# objects need more memory than this machine has).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${VMI_CLUSTER_DIR:-$ROOT/target/cluster}
PKI=$DIR/pki
LOGS=$DIR/logs
PIDS=$DIR/pids

log() { echo "[cluster] $*" >&2; }
# shellcheck source=hack/lib.sh
. "$ROOT/hack/lib.sh"

ensure_tools() {
  load_tools
  local b missing=0
  for b in "$VMI_ETCD" "$VMI_KUBE_APISERVER" "$VMI_KUBE_CONTROLLER_MANAGER" "$VMI_KUBECTL"; do
    [[ -x $b ]] || missing=1
  done
  if [[ $missing == 1 ]]; then
    log "building the Kubernetes tools (hack/tools.sh kube)"
    "$ROOT/hack/tools.sh" kube
    load_tools
  fi
  for b in "$VMI_ETCD" "$VMI_KUBE_APISERVER" "$VMI_KUBE_CONTROLLER_MANAGER" "$VMI_KUBECTL"; do
    [[ -x $b ]] || die "missing binary $b"
  done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # prints a port that nothing listens on, outside the ephemeral range, not in $TAKEN
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    [[ " ${TAKEN:-} " == *" $p "* ]] && continue
    port_in_use "$p" || { TAKEN="${TAKEN:-} $p"; echo "$p"; return 0; }
  done
  die "no free port found (after $i tries)"
}

curl_api() { # path -> body; uses the admin client certificate
  curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT$1"
}
etcd_healthy() { curl -fsS --max-time 5 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }
apiserver_ready() { [[ $(curl_api /readyz 2>/dev/null) == ok ]]; }

start_daemon() { # name binary args...  (own session, no inherited stdio or lock fd)
  local name=$1; shift
  setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 9>&- &
  echo $! >"$PIDS/$name.pid"
}

leftovers() { # pids of etcd/kube-* processes whose command line names this state dir
  local d p cmd exe
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [[ $p == "$$" ]] && continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
    [[ $cmd == *"$DIR/"* ]] || continue
    exe=${cmd%% *}; exe=${exe##*/}
    case $exe in etcd|kube-apiserver|kube-controller-manager) echo "$p" ;; esac
  done
}

write_env() {
  {
    echo "# written by hack/cluster.sh; use: set -a; . $DIR/env; set +a"
    printf '%s=%q\n' KUBECONFIG "$DIR/kubeconfig" APISERVER_URL "https://127.0.0.1:$APISERVER_PORT" \
      CLUSTER_CA "$PKI/ca.crt" ETCD_URL "http://127.0.0.1:$ETCD_PORT"
    "$ROOT/hack/tools.sh" env
    # shellcheck disable=SC2016 # $PATH is expanded when the file is sourced
    printf 'PATH=%q:"$PATH"\n' "$(dirname "$VMI_KUBECTL")"
  } >"$DIR/env"
}

apply_crds() { # before kube-controller-manager starts: its garbage collector then knows them at once
  local from=${VMI_CLUSTER_CRDS:-$ROOT/crds}
  local files=("$from"/*.yaml)
  [[ -e ${files[0]} ]] || return 0
  log "applying ${#files[@]} CRD file(s) from $from"
  local k=("$VMI_KUBECTL" --kubeconfig "$DIR/kubeconfig") f args=()
  for f in "${files[@]}"; do args+=(-f "$f"); done
  if ! "${k[@]}" apply --server-side --force-conflicts --field-manager=vmi-e2e "${args[@]}" >"$LOGS/crds.log" 2>&1 ||
     ! "${k[@]}" wait --for condition=established --timeout=60s crd --all >>"$LOGS/crds.log" 2>&1; then
    log "warning: applying $from failed (see $LOGS/crds.log); tests that install CRDs will report it"
  fi
}

kcm_synced() { grep -q 'Proceeding to collect garbage' "$LOGS/kube-controller-manager.log"; }

start_kcm() {
  start_daemon kube-controller-manager "$VMI_KUBE_CONTROLLER_MANAGER" \
    --kubeconfig="$DIR/kubeconfig" \
    --controllers=garbage-collector-controller,namespace-controller \
    --leader-elect=false --secure-port=0
  wait_for 120 kube-controller-manager kcm_synced_or_dead
}
kcm_synced_or_dead() {
  alive kube-controller-manager || die "kube-controller-manager exited" kube-controller-manager
  kcm_synced
}

# shellcheck disable=SC1091
load_ports() { [[ -f $DIR/ports ]] && . "$DIR/ports"; [[ -n ${APISERVER_PORT:-} && -n ${ETCD_PORT:-} ]]; }

healthy() { # all three alive and answering
  load_ports && [[ -f $DIR/kubeconfig ]] || return 1
  alive etcd && alive kube-apiserver && alive kube-controller-manager && etcd_healthy && apiserver_ready
}

down() {
  local p left
  # etcd last: an apiserver whose etcd is gone spends its shutdown retrying it (then SIGKILL).
  stop_daemons kube-controller-manager kube-apiserver
  stop_daemons etcd
  left=$(leftovers)
  if [[ -n $left ]]; then
    log "killing leftover processes: ${left//$'\n'/ }"
    for p in $left; do kill "$p" 2>/dev/null || true; done
    sleep 1
    for p in $(leftovers); do kill -9 "$p" 2>/dev/null || true; done
  fi
}

up() {
  if healthy; then
    log "already running: https://127.0.0.1:$APISERVER_PORT"
    return 0
  fi
  local t0=$SECONDS
  ensure_tools
  down
  command -v openssl >/dev/null || die "openssl not found (hack/ci-deps.sh installs it)"
  command -v curl >/dev/null || die "curl not found (hack/ci-deps.sh installs it)"
  mkdir -p "$LOGS" "$PIDS"
  make_pki vmi-operator-e2e-ca \
    "IP:127.0.0.1, DNS:localhost, IP:10.0.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc" \
    "admin=/O=system:masters/CN=vmi-e2e-admin"
  rm -rf "$DIR/etcd"
  TAKEN=""
  ETCD_PORT=${VMI_ETCD_PORT:-$(free_port)}
  ETCD_PEER_PORT=${VMI_ETCD_PEER_PORT:-$(free_port)}
  APISERVER_PORT=${VMI_APISERVER_PORT:-$(free_port)}
  printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\n' "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" >"$DIR/ports"

  local etcd_url="http://127.0.0.1:$ETCD_PORT" peer_url="http://127.0.0.1:$ETCD_PEER_PORT"
  start_daemon etcd "$VMI_ETCD" --name=vmi-e2e --data-dir="$DIR/etcd" \
    --listen-client-urls="$etcd_url" --advertise-client-urls="$etcd_url" \
    --listen-peer-urls="$peer_url" --initial-advertise-peer-urls="$peer_url" \
    --initial-cluster="vmi-e2e=$peer_url" --unsafe-no-fsync --log-level=warn \
    ${VMI_ETCD_QUOTA_BYTES:+--quota-backend-bytes="$VMI_ETCD_QUOTA_BYTES"}
  wait_for 60 etcd etcd_ready_or_dead

  local api="https://127.0.0.1:$APISERVER_PORT"
  start_daemon kube-apiserver "$VMI_KUBE_APISERVER" \
    --etcd-servers="$etcd_url" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --authorization-mode=RBAC \
    --service-account-issuer="$api" --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true \
    ${VMI_APISERVER_WATCH_CACHE:+--watch-cache="$VMI_APISERVER_WATCH_CACHE"}
  wait_for 180 kube-apiserver apiserver_ready_or_dead

  write_kubeconfig "$DIR/kubeconfig" "$api" vmi-e2e admin
  write_env
  apply_crds
  start_kcm
  log "up in $((SECONDS - t0))s: $api (KUBECONFIG=$DIR/kubeconfig; env: $DIR/env)"
}
etcd_ready_or_dead() {
  alive etcd || die "etcd exited" etcd
  etcd_healthy
}
apiserver_ready_or_dead() {
  alive kube-apiserver || die "kube-apiserver exited" kube-apiserver
  apiserver_ready
}

status() {
  local ok=0 c
  load_ports || { echo "not started (no $DIR/ports)"; return 1; }
  for c in etcd kube-apiserver kube-controller-manager; do
    if alive "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: not running"; ok=1; fi
  done
  if etcd_healthy; then echo "etcd http://127.0.0.1:$ETCD_PORT/health: true"; else echo "etcd: unhealthy"; ok=1; fi
  if apiserver_ready; then
    echo "kube-apiserver https://127.0.0.1:$APISERVER_PORT/readyz: ok ($(curl_api /version | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p'))"
  else
    echo "kube-apiserver: not ready"; ok=1
  fi
  if alive kube-controller-manager && kcm_synced; then
    echo "kube-controller-manager: garbage collector synced"
  elif alive kube-controller-manager; then
    echo "kube-controller-manager: garbage collector not synced yet"
  fi
  return $ok
}

restart_kcm() {
  if ! { load_ports && alive etcd && alive kube-apiserver && apiserver_ready; }; then
    die "kube-apiserver is not running (hack/cluster.sh up)"
  fi
  load_tools
  stop_daemons kube-controller-manager
  start_kcm
  log "kube-controller-manager restarted"
}

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  restart-kcm) restart_kcm ;;
  *) echo "usage: $0 up|down|status|restart-kcm" >&2; exit 2 ;;
esac
