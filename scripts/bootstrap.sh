#!/usr/bin/env bash
# Installs what Sentinel needs, once: npm packages (including the Node 22 runtime Lambda uses) and a Python
# environment (.venv) with Ray and the jobs package. Idempotent and quick when nothing changed: each part is
# stamped with a hash of the files that define it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

stamp() { cat "$@" | sha256sum | cut -c1-16; }
say() { printf 'sentinel: %s\n' "$*" >&2; }

want_npm=$(stamp package.json package-lock.json)
if [ ! -x node_modules/.bin/node ] || [ "$(cat node_modules/.sentinel-stamp 2>/dev/null || true)" != "$want_npm" ]; then
  say "installing npm packages (first run) …"
  npm ci --no-audit --no-fund --loglevel=error >&2
  node_modules/.bin/node --version | grep -q '^v22\.' || { say "node_modules/.bin/node is not Node 22"; exit 1; }
  echo "$want_npm" > node_modules/.sentinel-stamp
fi
# sst.config.ts references .sst/platform/config.d.ts, which SST writes on its first (online) run. Until then a
# stand-in points at infra/sst-offline.d.ts, so the project typechecks offline; SST replaces the folder on install.
if [ ! -e .sst/platform/config.d.ts ]; then
  mkdir -p .sst/platform
  printf '%s\n' '// Offline stand-in written by scripts/bootstrap.sh; `sst install` replaces this folder.' \
    '/// <reference path="../../infra/sst-offline.d.ts" />' > .sst/platform/config.d.ts
fi

want_py=$(stamp jobs/requirements.txt jobs/pyproject.toml)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.sentinel-stamp 2>/dev/null || true)" != "$want_py" ]; then
  py=""
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)'; then py="$c"; break; fi
  done
  [ -n "$py" ] || { say "Python 3.11+ is required"; exit 1; }
  # The environment takes about 7.5 GiB installed (PyPI's Linux torch wheel brings ~4.3 GiB of CUDA libraries it
  # needs to import, even on CPU) plus ~3.5 GiB of downloads while pip runs. No pip cache: it would keep another
  # copy of every wheel.
  free_kib=$(df -Pk . | awk 'NR==2 {print $4}')
  if [ "${free_kib:-0}" -lt $((11 * 1024 * 1024)) ]; then
    say "warning: $(( free_kib / 1024 )) MiB free in $root; the first install of .venv needs about 11 GiB"
  fi
  say "creating the Python environment with Ray in .venv (first run, a few minutes) …"
  "$py" -m venv .venv
  if ! .venv/bin/pip install --disable-pip-version-check --no-cache-dir -q -r jobs/requirements.txt >&2; then
    say "pip could not install jobs/requirements.txt into .venv ($(df -Ph . | awk 'NR==2 {print $4}') free now in $root)"
    rm -rf .venv
    exit 1
  fi
  .venv/bin/pip install --disable-pip-version-check --no-cache-dir -q --no-deps -e jobs >&2
  echo "$want_py" > .venv/.sentinel-stamp
fi

# moto in server mode: the AWS-API server (Step Functions, S3, SNS) the aws test suite starts (test/support/moto.ts).
want_moto=$(stamp test/aws/requirements.txt)
if [ ! -x .venv/bin/moto_server ] || [ "$(cat .venv/.sentinel-moto-stamp 2>/dev/null || true)" != "$want_moto" ]; then
  say "installing moto (the AWS-API server of the aws tests) into .venv …"
  .venv/bin/pip install --disable-pip-version-check --no-cache-dir -q -r test/aws/requirements.txt >&2
  echo "$want_moto" > .venv/.sentinel-moto-stamp
fi
