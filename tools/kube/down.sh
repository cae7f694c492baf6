#!/usr/bin/env bash
# down.sh STATE_DIR
#
# Stops the kube-apiserver and etcd that up.sh STATE_DIR started, and nothing
# else: a pid is signalled only if that process is still the one up.sh started
# (its command line names this STATE_DIR). SIGTERM, then SIGKILL after a grace
# period. Idempotent. Leaves STATE_DIR (logs, data) in place; remove it yourself.
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 1 && -n "$1" ]] || kube_die "usage: $0 STATE_DIR"
[[ -d "$1" ]] || kube_die "no such state directory: $1"
STATE_DIR="$(cd "$1" && pwd)"
GRACE="${SENTINEL_KUBE_STOP_GRACE:-20}"

# True if PID runs BINARY_NAME with this STATE_DIR on its command line.
is_ours() { # PID BINARY_NAME
  local cmdline
  [[ -r "/proc/$1/cmdline" ]] || return 1
  cmdline="$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ "$(basename "$(head -n 1 <<<"$cmdline")")" == "$2" ]] || return 1
  grep -qF -- "$STATE_DIR/" <<<"$cmdline"
}

stop_one() { # NAME (pid file STATE_DIR/NAME.pid)
  local name="$1" pidfile="$STATE_DIR/$1.pid" pid i
  if [[ ! -f "$pidfile" ]]; then
    kube_log "$name: no pid file, nothing to stop"
    return 0
  fi
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || kube_die "$pidfile does not hold a pid"
  if ! is_ours "$pid" "$name"; then
    kube_log "$name: pid $pid is not running (or is not ours), nothing to stop"
    rm -f "$pidfile"
    return 0
  fi
  kube_log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < GRACE * 10; i++)); do
    is_ours "$pid" "$name" || break
    sleep 0.1
  done
  if is_ours "$pid" "$name"; then
    kube_log "$name: still running after ${GRACE}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      is_ours "$pid" "$name" || break
      sleep 0.1
    done
  fi
  is_ours "$pid" "$name" && kube_die "$name: pid $pid could not be stopped"
  # Best effort: give init a moment to reap the exited process, so that not
  # even a <defunct> entry is left (some sandbox inits reap lazily).
  for ((i = 0; i < 30; i++)); do
    if [[ ! -e "/proc/$pid" ]] || kube_pid_alive "$pid"; then break; fi
    sleep 0.1
  done
  rm -f "$pidfile"
  kube_log "$name: stopped"
}

# The apiserver first, so that it does not log etcd connection errors on the way down.
stop_one kube-apiserver
stop_one etcd
