#!/usr/bin/env bash
# up.sh STATE_DIR
#
# Starts a real etcd and kube-apiserver on 127.0.0.1 (free ports chosen now),
# with data, certificates, logs and pids in STATE_DIR, RBAC authorization and a
# static token file with two users, then installs the KubeRay CRDs and waits
# until they are Established. Writes:
#   STATE_DIR/env                 KEY=VALUE lines (source with: set -a; . env; set +a)
#   STATE_DIR/admin.kubeconfig    user "admin", group system:masters
#   STATE_DIR/lambda.kubeconfig   user "sentinel-lambda", group sentinel:lambda
#   STATE_DIR/etcd.pid, STATE_DIR/kube-apiserver.pid
# Stop with down.sh STATE_DIR.
#
# Environment:
#   SENTINEL_KUBERAY_CRDS   folder of CRD YAML files (default: <repo>/../shared/kuberay/crds)
#   SENTINEL_CACHE          cache root used by build.sh (default: $HOME/.cache/sentinel)
#   SENTINEL_KUBE_TIMEOUT   seconds to wait for each readiness step (default: 60)
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 1 && -n "$1" ]] || kube_die "usage: $0 STATE_DIR"
for tool in openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || kube_die "$tool is required (apt-get install $tool)"
done

REPO_ROOT="$(cd "$KUBE_TOOLS_DIR/../.." && pwd)"
CRD_DIR="${SENTINEL_KUBERAY_CRDS:-$REPO_ROOT/../shared/kuberay/crds}"
TIMEOUT="${SENTINEL_KUBE_TIMEOUT:-60}"
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || kube_die "SENTINEL_KUBE_TIMEOUT must be a positive integer"
[[ -d "$CRD_DIR" ]] || kube_die "KubeRay CRD folder not found: $CRD_DIR (set SENTINEL_KUBERAY_CRDS)"
CRD_DIR="$(cd "$CRD_DIR" && pwd)"
shopt -s nullglob
CRD_FILES=("$CRD_DIR"/*.yaml "$CRD_DIR"/*.yml)
shopt -u nullglob
[[ ${#CRD_FILES[@]} -gt 0 ]] || kube_die "no *.yaml in $CRD_DIR"

for b in "${KUBE_BINARIES[@]}"; do
  [[ -x "$KUBE_BIN_DIR/$b" ]] || kube_die "$KUBE_BIN_DIR/$b missing: run $KUBE_TOOLS_DIR/build.sh first"
done
ETCD_BIN="$KUBE_BIN_DIR/etcd"
APISERVER_BIN="$KUBE_BIN_DIR/kube-apiserver"
KUBECTL_BIN="$KUBE_BIN_DIR/kubectl"

STATE_DIR="$1"
if [[ -e "$STATE_DIR" ]]; then
  [[ -d "$STATE_DIR" ]] || kube_die "$STATE_DIR exists and is not a directory"
  [[ -z "$(ls -A "$STATE_DIR")" ]] || kube_die "$STATE_DIR is not empty: use a new or empty folder (down.sh an old one, then remove it)"
fi
mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"
PKI="$STATE_DIR/pki"
mkdir -p "$PKI" "$STATE_DIR/etcd-data"
chmod 700 "$STATE_DIR" "$PKI" "$STATE_DIR/etcd-data"

started_pids=()
ok=0
cleanup_on_failure() {
  [[ $ok == 1 ]] && return 0
  local i
  # Newest first: the apiserver before the etcd it is connected to.
  for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do
    stop_pid "${started_pids[$i]}"
  done
  rm -f "$STATE_DIR/etcd.pid" "$STATE_DIR/kube-apiserver.pid"
  printf 'up.sh failed; logs are in %s\n' "$STATE_DIR" >&2
}
trap cleanup_on_failure EXIT

stop_pid() { # PID: SIGTERM, up to 15 s, then SIGKILL
  local _
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 150); do kube_pid_alive "$1" || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

t_start=$SECONDS

# ---------------------------------------------------------------- certificates
kube_log "generating certificates and tokens in $PKI"
(
  cd "$PKI"
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.crt -days 3650 -subj "/CN=sentinel-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  cat >apiserver.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
  # Service-account token signing key pair (required by a modern apiserver).
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
  openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
) || kube_die "certificate generation with openssl failed"
chmod 644 "$PKI/ca.crt"

ADMIN_TOKEN="$(openssl rand -hex 32)"
LAMBDA_TOKEN="$(openssl rand -hex 32)"
# token,user,uid,"group1,group2"
(
  umask 077
  printf '%s,admin,sentinel-admin,"system:masters"\n' "$ADMIN_TOKEN"
  printf '%s,sentinel-lambda,sentinel-lambda,"sentinel:lambda"\n' "$LAMBDA_TOKEN"
) >"$PKI/tokens.csv"

# ---------------------------------------------------------------- ports
# A port is taken if any socket in /proc/net/tcp{,6} uses it locally.
port_in_use() {
  local hex
  hex="$(printf '%04X' "$1")"
  awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h {found = 1} END {exit !found}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# Picks a free port into PICKED. Below the kernel's ephemeral range so that
# outgoing connections never hold it; never the same port twice in one run.
picked_ports=()
pick_port() {
  local lo=20000 hi=32000 p _
  for _ in $(seq 1 200); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
    port_in_use "$p" && continue
    case " ${picked_ports[*]:-} " in *" $p "*) continue ;; esac
    picked_ports+=("$p")
    PICKED="$p"
    return 0
  done
  kube_die "no free port found"
}

# Waits until CHECK_CMD succeeds; fails early if PID died. Returns 2 when the
# process died because its address was taken (caller retries with new ports).
wait_for() { # NAME PID LOG CHECK_CMD...
  local name="$1" pid="$2" log="$3"
  shift 3
  local deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kube_pid_alive "$pid"; then
      if grep -qiE 'address already in use' "$log"; then
        kube_log "$name: port taken meanwhile, retrying with other ports"
        return 2
      fi
      printf '%s exited early; last lines of %s:\n' "$name" "$log" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  printf '%s not ready after %ss; last lines of %s:\n' "$name" "$TIMEOUT" "$log" >&2
  tail -n 30 "$log" >&2
  return 1
}


forget_pid() {
  local keep=() p
  for p in "${started_pids[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  started_pids=("${keep[@]}")
}

# ---------------------------------------------------------------- etcd
ETCD_LOG="$STATE_DIR/etcd.log"
etcd_up=0
for attempt in 1 2 3; do
  pick_port; ETCD_PORT="$PICKED"
  pick_port; ETCD_PEER_PORT="$PICKED"
  ETCD_URL="http://127.0.0.1:$ETCD_PORT"
  kube_log "starting etcd $KUBE_ETCD_VERSION on $ETCD_URL (attempt $attempt)"
  # Plain HTTP on loopback only. --unsafe-no-fsync: a throwaway test store.
  nohup "$ETCD_BIN" \
    --name=sentinel \
    --data-dir="$STATE_DIR/etcd-data" \
    --listen-client-urls="$ETCD_URL" \
    --advertise-client-urls="$ETCD_URL" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="sentinel=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state=new \
    --unsafe-no-fsync \
    --log-level=warn \
    </dev/null >"$ETCD_LOG" 2>&1 &
  ETCD_PID=$!
  started_pids+=("$ETCD_PID")
  rc=0
  wait_for etcd "$ETCD_PID" "$ETCD_LOG" \
    curl -fsS --max-time 2 "$ETCD_URL/health" || rc=$?
  if [[ $rc == 0 ]]; then etcd_up=1; break; fi
  stop_pid "$ETCD_PID"; forget_pid "$ETCD_PID"
  [[ $rc == 2 ]] || exit 1
  rm -rf "$STATE_DIR/etcd-data"; mkdir -m 700 "$STATE_DIR/etcd-data"
done
[[ $etcd_up == 1 ]] || kube_die "etcd did not start"
printf '%s\n' "$ETCD_PID" >"$STATE_DIR/etcd.pid"
kube_log "etcd is healthy (pid $ETCD_PID)"

# ---------------------------------------------------------------- kube-apiserver
APISERVER_LOG="$STATE_DIR/kube-apiserver.log"
api_up=0
for attempt in 1 2 3; do
  pick_port; API_PORT="$PICKED"
  KUBE_SERVER="https://127.0.0.1:$API_PORT"
  kube_log "starting kube-apiserver $KUBE_K8S_VERSION on $KUBE_SERVER (attempt $attempt)"
  # ServiceAccount admission is disabled: no controller-manager creates default
  # service accounts or their tokens, so pods could not be created otherwise.
  # --endpoint-reconciler-type=none: nothing advertises 127.0.0.1 as the
  # "kubernetes" service endpoint (there are no nodes nor a network here).
  nohup "$APISERVER_BIN" \
    --etcd-servers="$ETCD_URL" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$API_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --cert-dir="$PKI" \
    --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=10.0.0.0/24 \
    --disable-admission-plugins=ServiceAccount \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --profiling=false \
    </dev/null >"$APISERVER_LOG" 2>&1 &
  APISERVER_PID=$!
  started_pids+=("$APISERVER_PID")
  rc=0
  wait_for kube-apiserver "$APISERVER_PID" "$APISERVER_LOG" \
    curl -fsS --max-time 5 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$KUBE_SERVER/readyz" || rc=$?
  if [[ $rc == 0 ]]; then api_up=1; break; fi
  stop_pid "$APISERVER_PID"; forget_pid "$APISERVER_PID"
  [[ $rc == 2 ]] || exit 1
done
[[ $api_up == 1 ]] || kube_die "kube-apiserver did not start"
printf '%s\n' "$APISERVER_PID" >"$STATE_DIR/kube-apiserver.pid"
kube_log "kube-apiserver is ready (pid $APISERVER_PID) after $((SECONDS - t_start))s"

# ---------------------------------------------------------------- kubeconfigs, env
write_kubeconfig() { # FILE USER TOKEN
  (
    umask 077
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sentinel-test
  cluster:
    server: $KUBE_SERVER
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2@sentinel-test
  context:
    cluster: sentinel-test
    user: $2
current-context: $2@sentinel-test
EOF
  )
}
write_kubeconfig "$STATE_DIR/admin.kubeconfig" admin "$ADMIN_TOKEN"
write_kubeconfig "$STATE_DIR/lambda.kubeconfig" sentinel-lambda "$LAMBDA_TOKEN"

(
  umask 077
  kv() { printf '%s=%q\n' "$1" "$2"; }
  kv KUBE_SERVER "$KUBE_SERVER"
  kv KUBE_CA_FILE "$PKI/ca.crt"
  kv KUBE_ADMIN_TOKEN "$ADMIN_TOKEN"
  kv KUBE_LAMBDA_TOKEN "$LAMBDA_TOKEN"
  kv KUBE_LAMBDA_USER sentinel-lambda
  kv KUBE_LAMBDA_GROUP sentinel:lambda
  kv KUBECONFIG "$STATE_DIR/admin.kubeconfig"
  kv KUBE_ADMIN_KUBECONFIG "$STATE_DIR/admin.kubeconfig"
  kv KUBE_LAMBDA_KUBECONFIG "$STATE_DIR/lambda.kubeconfig"
  kv KUBECTL "$KUBECTL_BIN"
  kv KUBE_VERSION "$KUBE_K8S_VERSION"
  kv ETCD_VERSION "$KUBE_ETCD_VERSION"
  kv ETCD_ENDPOINT "$ETCD_URL"
  kv ETCD_PID "$ETCD_PID"
  kv KUBE_APISERVER_PID "$APISERVER_PID"
  kv KUBE_STATE_DIR "$STATE_DIR"
) >"$STATE_DIR/env"

# ---------------------------------------------------------------- CRDs
kubectl_admin() { "$KUBECTL_BIN" --kubeconfig "$STATE_DIR/admin.kubeconfig" "$@"; }

kube_log "installing ${#CRD_FILES[@]} CRD file(s) from $CRD_DIR"
# Server-side apply: the KubeRay CRDs are too large for client-side apply's
# last-applied-configuration annotation.
crd_args=()
for f in "${CRD_FILES[@]}"; do crd_args+=(-f "$f"); done
kubectl_admin apply --server-side --field-manager=sentinel-kube-harness -o name "${crd_args[@]}" \
  >"$STATE_DIR/crds.txt" 2>"$STATE_DIR/crds.log" \
  || { cat "$STATE_DIR/crds.log" >&2; kube_die "installing CRDs failed"; }
mapfile -t CRD_NAMES <"$STATE_DIR/crds.txt"
[[ ${#CRD_NAMES[@]} -gt 0 ]] || kube_die "kubectl apply reported no CRDs"
# Poll rather than `kubectl wait`, which errors out at once while a new CRD has
# no status.conditions yet.
all_established() {
  local status n
  status="$(kubectl_admin get customresourcedefinitions.apiextensions.k8s.io \
    -o 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\n"}{end}' \
    2>>"$STATE_DIR/crds.log")" || return 1
  for n in "${CRD_NAMES[@]}"; do
    grep -qxF "${n#*/}=True" <<<"$status" || return 1
  done
}
deadline=$((SECONDS + TIMEOUT))
while :; do
  all_established && break
  if ((SECONDS >= deadline)); then
    kubectl_admin get "${CRD_NAMES[@]}" -o yaml >>"$STATE_DIR/crds.log" 2>&1 || true
    kube_die "CRDs not Established after ${TIMEOUT}s; see $STATE_DIR/crds.log"
  fi
  sleep 0.2
done
for want in rayjobs.ray.io rayclusters.ray.io rayservices.ray.io; do
  grep -qxF "customresourcedefinition.apiextensions.k8s.io/$want" <"$STATE_DIR/crds.txt" \
    || kube_log "warning: CRD $want was not among the files in $CRD_DIR"
done
# Established means the API is served; also wait until discovery lists every
# CRD's resource (plural.group, the CRD's name), so that clients which resolve
# kinds through discovery work at once.
all_discovered() {
  local names n
  names="$(kubectl_admin api-resources -o name 2>/dev/null)" || return 1
  for n in "${CRD_NAMES[@]}"; do
    grep -qxF "${n#*/}" <<<"$names" || return 1
  done
}
deadline=$((SECONDS + TIMEOUT))
until all_discovered; do
  ((SECONDS < deadline)) || kube_die "CRD resources not in discovery after ${TIMEOUT}s"
  sleep 0.2
done

ok=1
kube_log "up in $((SECONDS - t_start))s: $KUBE_SERVER (state: $STATE_DIR)"
printf 'KUBE_SERVER=%s\nenv file: %s\n' "$KUBE_SERVER" "$STATE_DIR/env"
