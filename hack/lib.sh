# Shell helpers that hack/cluster.sh and hack/node.sh share. The sourcing script sets ROOT, LOGS
# and PIDS and defines log() (its own prefix) first.

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
