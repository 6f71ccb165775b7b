#!/usr/bin/env bash
# Runs vcsim (govmomi's vSphere simulator) on loopback (or VCSIM_ADDR) for tests and demos.
#
# Usage: hack/vcsim.sh start|stop|env
#   start  builds vcsim and govc if needed (hack/tools.sh vcsim), makes a throw-away CA and a
#          server certificate for $VCSIM_ADDR, starts vcsim on $VCSIM_ADDR with a port the kernel
#          picks (vcsim binds :0 and reports it, so there is no race for a "free" port), waits
#          until it answers, then prints the environment (as `env` does).
#   env    prints shell assignments: eval "$(hack/vcsim.sh env)"
#            VMI_VCSIM_URL      https://$VCSIM_ADDR:PORT (no credentials)
#            VMI_VCSIM_USERNAME, VMI_VCSIM_PASSWORD  the only credentials vcsim accepts
#            VMI_VCSIM_CA       PEM of the CA that signed vcsim's certificate (empty with VCSIM_TLS=false)
#            VMI_VCSIM_PID, VMI_VCSIM_DATASTORE, VMI_GOVC
#            GOVC_URL, GOVC_USERNAME, GOVC_PASSWORD, GOVC_TLS_CA_CERTS, GOVC_INSECURE  for govc
#   stop   stops vcsim and removes the state directory's files.
#
# Environment:
#   VCSIM_STATE_DIR   where pid, env, certificates and log live (default ${TMPDIR:-/tmp}/vmi-operator-vcsim-$UID);
#                     tests use a directory of their own, so several vcsims can run at once.
#   VCSIM_ADDR        the IPv4 address to serve on (default 127.0.0.1); tests/node serves on the
#                     node IP, inside the node's network namespace (run through hack/node.sh exec).
#   VCSIM_TLS=false   serve plain http instead of https.
#   VCSIM_STDIN_EXIT=1  vcsim exits when its stdin closes: a test hands it a pipe, so vcsim goes
#                     away with the test process even if the test is killed.
#
# Why our own certificate: without -tlscert vcsim serves Go's built-in test certificate, which
# is marked as a CA; rustls (webpki) refuses a CA certificate as a server certificate, so the
# operator could only talk to it with verification off. A CA of our own tests the real path.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${VCSIM_STATE_DIR:-${TMPDIR:-/tmp}/vmi-operator-vcsim-$UID}
TLS=${VCSIM_TLS:-true}
ADDR=${VCSIM_ADDR:-127.0.0.1}
FILES=(pid env vcsim.log password ca.pem ca.key ca.srl server.pem server.key server.csr server.ext)

log() { echo "[vcsim] $*" >&2; }

tool_path() { # name -> path from hack/tools.sh env
  "$HERE/tools.sh" env | sed -n "s/^$1=//p"
}

make_certs() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=vmi-operator vcsim test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$STATE/ca.key" -out "$STATE/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$ADDR" \
    -keyout "$STATE/server.key" -out "$STATE/server.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:$ADDR,DNS:localhost" > "$STATE/server.ext"
  openssl x509 -req -in "$STATE/server.csr" -CA "$STATE/ca.pem" -CAkey "$STATE/ca.key" -CAcreateserial \
    -days 2 -extfile "$STATE/server.ext" -out "$STATE/server.pem" 2>/dev/null
}

running() {
  [[ -f $STATE/pid ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null
}

start() {
  if running; then
    log "already running (pid $(cat "$STATE/pid"))"
    cat "$STATE/env"
    return 0
  fi
  "$HERE/tools.sh" vcsim
  local vcsim govc
  vcsim=$(tool_path VMI_VCSIM)
  govc=$(tool_path VMI_GOVC)
  [[ -x $vcsim ]] || { log "no vcsim at $vcsim"; exit 1; }
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  rm -f "${FILES[@]/#/$STATE/}"

  local user=vmi-operator password scheme=https
  password=$(openssl rand -hex 16)
  # vcsim reads a secret from a file when given a path: the password stays out of `ps`.
  (umask 077 && printf '%s\n' "$password" > "$STATE/password")

  local args=(-l "$ADDR:0" -username "$user" -password "$STATE/password")
  if [[ $TLS == false ]]; then
    scheme=http
    args+=(-tls=false)
  else
    make_certs
    args+=(-tlscert "$STATE/server.pem" -tlskey "$STATE/server.key")
  fi
  if [[ ${VCSIM_STDIN_EXIT:-} == 1 ]]; then
    args+=(-stdinexit)
    # Explicitly our stdin: bash gives background jobs /dev/null otherwise.
    "$vcsim" "${args[@]}" > "$STATE/vcsim.log" 2>&1 <&0 &
  else
    "$vcsim" "${args[@]}" > "$STATE/vcsim.log" 2>&1 < /dev/null &
  fi
  local pid=$!
  echo "$pid" > "$STATE/pid"

  # vcsim prints "export GOVC_URL=https://user:pass@ADDR:PORT/sdk GOVC_SIM_PID=N" when it serves.
  local port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/^export GOVC_URL=[^ ]*@[0-9.]*:\([0-9]*\)\/sdk.*/\1/p' "$STATE/vcsim.log" | head -n1)
    [[ -n $port ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      log "vcsim exited:"; cat "$STATE/vcsim.log" >&2; exit 1
    fi
    sleep 0.1
  done
  if [[ -z $port ]]; then
    log "vcsim did not report its address within 30s"; kill "$pid" 2>/dev/null || true; exit 1
  fi

  local base="$scheme://$ADDR:$port" ca=""
  [[ $TLS == false ]] || ca="$STATE/ca.pem"
  {
    echo "export VMI_VCSIM_URL='$base'"
    echo "export VMI_VCSIM_USERNAME='$user'"
    echo "export VMI_VCSIM_PASSWORD='$password'"
    echo "export VMI_VCSIM_CA='$ca'"
    echo "export VMI_VCSIM_PID='$pid'"
    echo "export VMI_VCSIM_DATASTORE='LocalDS_0'"
    echo "export VMI_GOVC='$govc'"
    echo "export GOVC_URL='$base/sdk'"
    echo "export GOVC_USERNAME='$user'"
    echo "export GOVC_PASSWORD='$password'"
    echo "export GOVC_TLS_CA_CERTS='$ca'"
    echo "export GOVC_INSECURE='false'"
  } > "$STATE/env"
  chmod 600 "$STATE/env"

  # The REST session endpoint answering is what the operator needs.
  local code=""
  for _ in $(seq 1 100); do
    if [[ -n $ca ]]; then
      code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -u "$user:$password" -X POST "$base/rest/com/vmware/cis/session" || true)
    else
      code=$(curl -s -o /dev/null -w '%{http_code}' -u "$user:$password" -X POST "$base/rest/com/vmware/cis/session" || true)
    fi
    [[ $code == 200 ]] && break
    sleep 0.1
  done
  [[ $code == 200 ]] || { log "vcsim REST login answered ${code:-nothing}"; stop; exit 1; }
  log "vcsim $pid serving $base (state in $STATE)"
  cat "$STATE/env"
}

stop() {
  if [[ -f $STATE/pid ]]; then
    local pid; pid=$(cat "$STATE/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  [[ -d $STATE ]] || return 0
  rm -f "${FILES[@]/#/$STATE/}"
  rmdir "$STATE" 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) if [[ -f $STATE/env ]]; then cat "$STATE/env"; else log "not running (no $STATE/env)"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
