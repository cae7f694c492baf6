# Shared helpers for tools/kube/*.sh. Sourced, not executed.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the KUBE_* variables are used by the scripts that source this

KUBE_TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

kube_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

kube_log() {
  printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# Version of a module as required in one of our pinned go.mod files.
kube_pinned_version() { # GO_MOD_FILE MODULE_PATH
  local v
  v="$(awk -v m="$2" '($1 == m && $2 ~ /^v/) {print $2; exit} ($1 == "require" && $2 == m) {print $3; exit}' "$1")"
  [[ -n "$v" ]] || kube_die "cannot find $2 in $1"
  printf '%s\n' "$v"
}

KUBE_K8S_VERSION="$(kube_pinned_version "$KUBE_TOOLS_DIR/apiserver/go.mod" k8s.io/kubernetes)"
KUBE_ETCD_VERSION="$(kube_pinned_version "$KUBE_TOOLS_DIR/etcd/go.mod" go.etcd.io/etcd/server/v3)"
KUBE_CACHE_DIR="${SENTINEL_CACHE:-$HOME/.cache/sentinel}/kube/$KUBE_K8S_VERSION"
KUBE_BIN_DIR="$KUBE_CACHE_DIR/bin"
KUBE_BINARIES=(kube-apiserver kubectl etcd)

# True if PID is a live process (a zombie, dead but not reaped, is not alive).
kube_pid_alive() { # PID
  local state
  [[ -r "/proc/$1/stat" ]] || return 1
  state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}
