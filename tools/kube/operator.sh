#!/usr/bin/env bash
# Builds the KubeRay operator from its source (not from the Go module proxy, which refuses v1.7.0's zip) into
# ${SENTINEL_CACHE:-$HOME/.cache/sentinel}/kuberay/<version>/bin/kuberay-operator and prints the binary's path.
# A no-op when the binary for that exact source tree is present (a sha256 stamp over the source's go.mod, go.sum
# and *.go files). The source is read from $KUBERAY_OPERATOR_SRC, default ../shared/kuberay/operator beside the
# repository: nothing of it is copied into the project.
#
# Environment:
#   KUBERAY_OPERATOR_SRC   the ray-operator Go module (default: <repo>/../shared/kuberay/operator)
#   SENTINEL_CACHE         cache root (default: $HOME/.cache/sentinel)
#   SENTINEL_BUILD_JOBS    parallel Go build jobs (default: 2)
set -euo pipefail
{
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
src="${KUBERAY_OPERATOR_SRC:-$repo/../shared/kuberay/operator}"
[[ -f "$src/go.mod" ]] || { echo "error: no KubeRay operator source at $src (set KUBERAY_OPERATOR_SRC)" >&2; exit 1; }
command -v go >/dev/null 2>&1 || { echo "error: go is not installed" >&2; exit 1; }
src="$(cd "$src" && pwd)"
version="$(awk '/^module /{m=$2} END{print "v1.7.0"}' "$src/go.mod")"
[[ -f "$src/../README.md" ]] && v="$(grep -oE 'v1\.[0-9]+\.[0-9]+' "$src/../README.md" | head -1)" && [[ -n "$v" ]] && version="$v"
cache="${SENTINEL_CACHE:-$HOME/.cache/sentinel}/kuberay/$version"
bin="$cache/bin/kuberay-operator"
stamp="$( (cd "$src" && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs sha256sum) | sha256sum | awk '{print $1}')"
if [[ -x "$bin" && "$(cat "$cache/bin/.stamp" 2>/dev/null || true)" == "$stamp" ]]; then
  printf '%s\n' "$bin"; exit 0
fi
mkdir -p "$cache/bin"
exec 9>"$cache/.lock"; flock 9
if [[ -x "$bin" && "$(cat "$cache/bin/.stamp" 2>/dev/null || true)" == "$stamp" ]]; then printf '%s\n' "$bin"; exit 0; fi
work="$(mktemp -d "${TMPDIR:-/tmp}/kuberay-operator-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The Go toolchain wants a writable module folder (it may write go.work caches); the source tree stays untouched.
cp -r "$src/." "$work/" && chmod -R u+w "$work"
jobs="${SENTINEL_BUILD_JOBS:-2}"
echo "[$(date +%H:%M:%S)] building kuberay-operator $version from $src (about 2½ minutes on 2 cores) …" >&2
( cd "$work" && CGO_ENABLED=0 GOMAXPROCS="$jobs" GOFLAGS=-mod=readonly nice -n 10 go build -p "$jobs" -trimpath -o "$bin.tmp" . )
mv "$bin.tmp" "$bin"
echo "$stamp" > "$cache/bin/.stamp"
printf '%s\n' "$bin"
exit 0
}
