# Shell helpers that hack/cluster.sh and hack/node.sh share. The sourcing script sets ROOT, LOGS,
# PIDS and PKI and defines log() (its own prefix) first.

die() { # message [component whose log tail to show]
  log "error: $1"
  if [[ -n ${2:-} && -f $LOGS/$2.log ]]; then
    log "last lines of $LOGS/$2.log:"
    tail -n 25 "$LOGS/$2.log" >&2
  fi
  exit 1
}

# Exports the VMI_* tool paths that hack/tools.sh reports.
load_tools() {
  local line
  while IFS= read -r line; do
    [[ $line == VMI_*=* ]] && export "${line?}"
  done < <("$ROOT/hack/tools.sh" env)
}

pid_of() { [[ -f $PIDS/$1.pid ]] && cat "$PIDS/$1.pid"; }
alive() { local p; p=$(pid_of "$1") && [[ -n $p ]] && kill -0 "$p" 2>/dev/null; }

wait_for() { # seconds what command...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    ((SECONDS < deadline)) || die "$what not ready after ${secs}s; see $LOGS/" "$what"
    sleep 0.2
  done
}
any_alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
stop_daemons() { # names...: SIGTERM to all at once, SIGKILL to those still there after 10 s
  local name p pids=() i
  for name in "$@"; do
    if p=$(pid_of "$name") && [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
      kill "$p" 2>/dev/null || true
      pids+=("$p")
    fi
    rm -f "$PIDS/$name.pid"
  done
  ((${#pids[@]})) || return 0
  for i in $(seq 1 100); do
    any_alive "${pids[@]}" || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      log "pid $p ($*) ignored SIGTERM for 10s: SIGKILL"
      kill -9 "$p" 2>/dev/null || true
    fi
  done
}

# --- PKI and kubeconfigs (the sourcing script sets PKI). -------------------------------------------
# make_pki CA_CN SANS CLIENT...: in $PKI, unless all are there already (the running kubeconfigs
# name them): a CA, the apiserver's serving certificate for SANS (openssl subjectAltName syntax),
# the service-account key pair, and a client certificate per CLIENT, given as name=subject
# (admin=/O=system:masters/CN=...). Written as name.crt and name.key.
make_pki() {
  local ca_cn=$1 sans=$2; shift 2
  local c missing=0
  [[ -f $PKI/sa.pub ]] || missing=1
  for c in apiserver "${@%%=*}"; do [[ -f $PKI/$c.crt ]] || missing=1; done
  ((missing)) || return 0
  log "creating PKI in $PKI"
  rm -rf "$PKI"; mkdir -p "$PKI"
  (
    cd "$PKI"
    umask 077
    cat >ext.cnf <<EOC
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $sans
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
EOC
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=$ca_cn" -config ext.cnf -extensions ca 2>/dev/null
    issue() { # name subject extensions
      openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" -config ext.cnf 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 12)" -days 3650 \
        -extfile ext.cnf -extensions "$3" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr"
    }
    issue apiserver "/CN=kube-apiserver" server
    for c in "$@"; do issue "${c%%=*}" "${c#*=}" client; done
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

# write_kubeconfig OUT SERVER CLUSTER CLIENT: a kubeconfig for SERVER (trusting $PKI/ca.crt) with
# the client certificate CLIENT of make_pki; its cluster and context are named CLUSTER.
write_kubeconfig() ( # a subshell, for the umask
  umask 077
  cat >"$1" <<EOC
apiVersion: v1
kind: Config
clusters:
- name: $3
  cluster:
    server: $2
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $3-$4
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$4.crt")
    client-key-data: $(base64 -w0 <"$PKI/$4.key")
contexts:
- name: $3
  context:
    cluster: $3
    user: $3-$4
current-context: $3
EOC
)
