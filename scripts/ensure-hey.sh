#!/usr/bin/env bash
# Prints the path of `hey` (github.com/rakyll/hey, an HTTP load generator), building it once through the Go module
# proxy into ~/.cache/sentinel/bin. Used by the serving benchmark (bench/serving.ts).
set -euo pipefail
version="v0.1.4"
bin_dir="${SENTINEL_CACHE:-$HOME/.cache/sentinel}/bin"
hey="$bin_dir/hey-$version"
if [ ! -x "$hey" ]; then
  command -v go >/dev/null || { echo "ensure-hey: Go is needed to build hey (go install github.com/rakyll/hey@$version)" >&2; exit 1; }
  mkdir -p "$bin_dir"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "ensure-hey: building github.com/rakyll/hey@$version (once)" >&2
  # hey v0.1.4 predates modules; GOFLAGS=-mod=mod lets `go install pkg@version` resolve its imports.
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "github.com/rakyll/hey@$version" >&2
  mv "$tmp/hey" "$hey"
fi
echo "$hey"
