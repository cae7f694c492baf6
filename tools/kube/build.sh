#!/usr/bin/env bash
# Builds kube-apiserver, kubectl (k8s.io/kubernetes, pinned in apiserver/go.mod)
# and etcd (go.etcd.io/etcd/server/v3, pinned in etcd/go.mod) from the Go module
# proxy into ${SENTINEL_CACHE:-$HOME/.cache/sentinel}/kube/<k8s-version>/bin.
# Idempotent: a no-op when the binaries for the pinned go.mod/go.sum are present.
#
# Environment:
#   SENTINEL_CACHE        cache root (default: $HOME/.cache/sentinel)
#   SENTINEL_BUILD_JOBS   parallel Go build jobs (default: 2)
#   SENTINEL_KUBE_REBUILD=1  rebuild even if the binaries are present
set -euo pipefail

# The whole script is one compound command, read completely before it runs,
# so that editing this file during a long build does not derail the build.
{

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

command -v go >/dev/null 2>&1 || kube_die "go is not installed (need Go >= 1.26 for k8s.io/kubernetes $KUBE_K8S_VERSION)"

# The stamp ties the cached binaries to the exact pinned module graph.
stamp_of_inputs() {
  cat "$KUBE_TOOLS_DIR/apiserver/go.mod" "$KUBE_TOOLS_DIR/apiserver/go.sum" \
      "$KUBE_TOOLS_DIR/etcd/go.mod" "$KUBE_TOOLS_DIR/etcd/go.sum" \
    | sha256sum | awk '{print $1}'
}
STAMP_FILE="$KUBE_BIN_DIR/.inputs.sha256"
WANT_STAMP="$(stamp_of_inputs)"

binaries_present() {
  local b
  for b in "${KUBE_BINARIES[@]}"; do
    [[ -x "$KUBE_BIN_DIR/$b" ]] || return 1
  done
  [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$WANT_STAMP" ]]
}

print_paths() {
  local b
  for b in "${KUBE_BINARIES[@]}"; do
    printf '%s\n' "$KUBE_BIN_DIR/$b"
  done
}

if [[ "${SENTINEL_KUBE_REBUILD:-0}" != 1 ]] && binaries_present; then
  kube_log "kube binaries for kubernetes $KUBE_K8S_VERSION / etcd $KUBE_ETCD_VERSION are cached"
  print_paths
  exit 0
fi

mkdir -p "$KUBE_CACHE_DIR"
# One build at a time per cache dir (parallel test jobs may all call build.sh).
exec 9>"$KUBE_CACHE_DIR/.build.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  kube_log "another build holds $KUBE_CACHE_DIR/.build.lock, waiting"
  flock 9
fi
if [[ "${SENTINEL_KUBE_REBUILD:-0}" != 1 ]] && binaries_present; then
  kube_log "built meanwhile by another process"
  print_paths
  exit 0
fi

JOBS="${SENTINEL_BUILD_JOBS:-2}"
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || kube_die "SENTINEL_BUILD_JOBS must be a positive integer, got '$JOBS'"

STAGE="$(mktemp -d "$KUBE_CACHE_DIR/.stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

# Static, reproducible-ish binaries; -mod=readonly so go.mod/go.sum are
# authoritative and never rewritten by a build. nice: others share the machine.
export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath"
export GOMAXPROCS="$JOBS"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

minor="${KUBE_K8S_VERSION#v1.}"; minor="${minor%%.*}"
ver_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="-s -w"
for p in "${ver_pkgs[@]}"; do
  ldflags+=" -X $p.gitVersion=$KUBE_K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

go_build() { # MODULE_DIR OUTPUT PACKAGE [LDFLAGS]
  local t0=$SECONDS
  kube_log "building $3 (-p $JOBS) ..."
  if ! (cd "$1" && nice -n 10 go build -p "$JOBS" -ldflags "${4:--s -w}" -o "$2" "$3"); then
    kube_die "go build of $3 failed (module $1); see the output above"
  fi
  kube_log "built $3 in $((SECONDS - t0))s"
}

start=$SECONDS
kube_log "kubernetes $KUBE_K8S_VERSION, etcd $KUBE_ETCD_VERSION, $(go version)"
go_build "$KUBE_TOOLS_DIR/etcd" "$STAGE/etcd" go.etcd.io/etcd/server/v3
go_build "$KUBE_TOOLS_DIR/apiserver" "$STAGE/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
go_build "$KUBE_TOOLS_DIR/apiserver" "$STAGE/kubectl" k8s.io/kubernetes/cmd/kubectl "$ldflags"

# Sanity: the binaries run and report the pinned versions.
# (Output captured first: grep -q in a pipeline would SIGPIPE the writer.)
out="$("$STAGE/kube-apiserver" --version 2>&1)" || kube_die "built kube-apiserver does not run: $out"
[[ "$out" == "Kubernetes $KUBE_K8S_VERSION" ]] || kube_die "built kube-apiserver reports '$out', not $KUBE_K8S_VERSION"
out="$("$STAGE/etcd" --version 2>&1)" || kube_die "built etcd does not run: $out"
[[ "$out" == *"etcd Version: ${KUBE_ETCD_VERSION#v}"* ]] || kube_die "built etcd reports '$out', not $KUBE_ETCD_VERSION"
out="$("$STAGE/kubectl" version --client 2>&1)" || kube_die "built kubectl does not run: $out"
[[ "$out" == *"Client Version: $KUBE_K8S_VERSION"* ]] || kube_die "built kubectl reports '$out', not $KUBE_K8S_VERSION"

mkdir -p "$KUBE_BIN_DIR"
for b in "${KUBE_BINARIES[@]}"; do
  mv -f "$STAGE/$b" "$KUBE_BIN_DIR/$b"
done
printf '%s\n' "$WANT_STAMP" >"$STAMP_FILE"
kube_log "build finished in $((SECONDS - start))s"
print_paths
exit 0
}
