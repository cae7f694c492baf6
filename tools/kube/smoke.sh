#!/usr/bin/env bash
# shellcheck disable=SC2153  # ETCD_PID and the KUBE_* variables come from STATE_DIR/env
# smoke.sh: end-to-end check of the kube test harness.
# build.sh (cached) -> up.sh in a temp dir -> checks against the real
# kube-apiserver -> down.sh. Prints each check; exits non-zero on any failure.
# SMOKE_KEEP=1 keeps the temp state dir (logs) even on success.
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
command -v python3 >/dev/null 2>&1 || kube_die "python3 is required by smoke.sh (JSON checks)"

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
detail() { sed 's/^/      | /'; }

# ----------------------------------------------------------------- build
t0=$SECONDS
"$KUBE_TOOLS_DIR/build.sh" >/dev/null || kube_die "build.sh failed"
pass "build.sh: kubernetes $KUBE_K8S_VERSION + etcd $KUBE_ETCD_VERSION binaries in $KUBE_BIN_DIR ($((SECONDS - t0))s)"

STATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sentinel-kube-smoke.XXXXXX")"
finish() {
  local rc=$?
  if [[ -f "$STATE_DIR/etcd.pid" || -f "$STATE_DIR/kube-apiserver.pid" ]]; then
    "$KUBE_TOOLS_DIR/down.sh" "$STATE_DIR" >/dev/null 2>&1 || true
  fi
  if [[ $rc == 0 && $failed == 0 && "${SMOKE_KEEP:-0}" != 1 ]]; then
    rm -rf "$STATE_DIR"
  else
    printf 'state and logs kept in %s\n' "$STATE_DIR"
  fi
}
trap finish EXIT

# ----------------------------------------------------------------- up
t0=$SECONDS
if ! "$KUBE_TOOLS_DIR/up.sh" "$STATE_DIR" >"$STATE_DIR.up.log" 2>&1; then
  detail <"$STATE_DIR.up.log"
  rm -f "$STATE_DIR.up.log"
  kube_die "up.sh failed"
fi
up_secs=$((SECONDS - t0))
rm -f "$STATE_DIR.up.log"
set -a
# shellcheck disable=SC1091
. "$STATE_DIR/env"
set +a
pass "up.sh: kube-apiserver at $KUBE_SERVER (pid $KUBE_APISERVER_PID), etcd at $ETCD_ENDPOINT (pid $ETCD_PID), up in ${up_secs}s"

NS=sentinel-smoke
RJ_API="$KUBE_SERVER/apis/ray.io/v1/namespaces/$NS/rayjobs"
k() { "$KUBECTL" --kubeconfig "$KUBE_ADMIN_KUBECONFIG" "$@"; }
klambda() { "$KUBECTL" --kubeconfig "$KUBE_LAMBDA_KUBECONFIG" "$@"; }
# api TOKEN METHOD URL [BODY_FILE [CONTENT_TYPE]] -> body in $BODY, status in $CODE
api() {
  local args=(-sS --max-time 20 --cacert "$KUBE_CA_FILE" -H "Authorization: Bearer $1" -X "$2"
    -o "$STATE_DIR/resp.json" -w '%{http_code}')
  if [[ $# -ge 4 ]]; then
    args+=(-H "Content-Type: ${5:-application/json}" --data-binary "@$4")
  fi
  CODE="$(curl "${args[@]}" "$3")" || CODE=000
  BODY="$(cat "$STATE_DIR/resp.json" 2>/dev/null || true)"
}
# json EXPR: evaluates a Python expression over the parsed $BODY as `d`.
# Prints nothing and fails if $BODY is not JSON or lacks what EXPR reads.
json() { python3 -c 'import json,sys; d=json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$BODY" 2>/dev/null; }

# ----------------------------------------------------------------- version, CRDs
api "$KUBE_ADMIN_TOKEN" GET "$KUBE_SERVER/version"
if [[ "$CODE" == 200 && "$(json 'd["gitVersion"]')" == "$KUBE_K8S_VERSION" ]]; then
  pass "GET /version reports $KUBE_K8S_VERSION"
else
  fail "GET /version: HTTP $CODE $BODY"
fi

if out="$(k get crd rayjobs.ray.io rayclusters.ray.io rayservices.ray.io \
  -o 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{" "}{end}' 2>&1)" \
  && [[ "$out" == *"rayjobs.ray.io=True"* && "$out" == *"rayclusters.ray.io=True"* && "$out" == *"rayservices.ray.io=True"* ]]; then
  pass "KubeRay CRDs Established: $out"
else
  fail "KubeRay CRDs not all Established: $out"
fi

# ----------------------------------------------------------------- namespace
if out="$(k create namespace "$NS" 2>&1)"; then
  pass "created namespace $NS"
else
  fail "create namespace $NS: $out"
fi

# ----------------------------------------------------------------- valid RayJob
rayjob_manifest() { # NAME CPU
  cat <<EOF
apiVersion: ray.io/v1
kind: RayJob
metadata:
  name: $1
  namespace: $NS
spec:
  entrypoint: python -c "print('hello from sentinel')"
  shutdownAfterJobFinishes: true
  rayClusterSpec:
    headGroupSpec:
      rayStartParams: {}
      template:
        spec:
          containers:
          - name: ray-head
            image: rayproject/ray:2.9.0
            resources:
              limits:
                cpu: $2
                memory: 2Gi
EOF
}

if out="$(rayjob_manifest smoke-minimal '"1"' | k create -f - 2>&1)"; then
  got="$(k get rayjob smoke-minimal -n "$NS" \
    -o 'jsonpath={.spec.entrypoint}|{.spec.rayClusterSpec.headGroupSpec.template.spec.containers[0].resources.limits.cpu}|{.metadata.uid}' 2>&1)" || true
  if [[ "$got" == "python -c \"print('hello from sentinel')\"|1|"?* ]]; then
    pass "created RayJob $NS/smoke-minimal (ray.io/v1) and read it back: $got"
  else
    fail "RayJob read back differs: $got"
  fi
else
  fail "create valid RayJob: $out"
fi

# ----------------------------------------------------------------- invalid quantity
# POSTed raw, so the rejection is the server's (no client-side validation).
rayjob_manifest smoke-invalid '"two"' >"$STATE_DIR/invalid.yaml"
api "$KUBE_ADMIN_TOKEN" POST "$RJ_API" "$STATE_DIR/invalid.yaml" application/yaml
want_field='spec.rayClusterSpec.headGroupSpec.template.spec.containers[0].resources.limits.cpu'
if [[ "$CODE" == 422 ]] \
  && [[ "$(json 'd["reason"]')" == Invalid ]] \
  && grep -qxF "$want_field" <<<"$(json '"\n".join(c.get("field","") for c in d["details"]["causes"])')"; then
  pass "RayJob with cpu: \"two\" rejected by the server: HTTP 422 Invalid, field $want_field"
  json 'd["message"]' | detail
else
  fail "RayJob with cpu: \"two\" not rejected as expected: HTTP $CODE $BODY"
fi
api "$KUBE_ADMIN_TOKEN" GET "$RJ_API/smoke-invalid"
if [[ "$CODE" == 404 && "$(json 'd["reason"]')" == NotFound ]]; then
  pass "rejected RayJob was not stored (GET -> 404 NotFound)"
else
  fail "rejected RayJob: GET returned HTTP $CODE"
fi

# ----------------------------------------------------------------- RBAC: lambda
api "$KUBE_LAMBDA_TOKEN" GET "$RJ_API"
if [[ "$CODE" == 403 && "$(json 'd["reason"]')" == Forbidden ]]; then
  pass "sentinel-lambda token is forbidden to list rayjobs before any RBAC grant (HTTP 403)"
  json 'd["message"]' | detail
else
  fail "sentinel-lambda list rayjobs before RBAC: expected 403, got HTTP $CODE $BODY"
fi
if [[ "$(klambda auth can-i list rayjobs.ray.io -n "$NS" 2>/dev/null || true)" == no ]]; then
  pass "kubectl auth can-i (as sentinel-lambda) list rayjobs.ray.io: no"
else
  fail "kubectl auth can-i as sentinel-lambda did not say no"
fi

if out="$(k apply -f - 2>&1 <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: rayjob-reader
  namespace: $NS
rules:
- apiGroups: ["ray.io"]
  resources: ["rayjobs"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: sentinel-lambda-rayjob-reader
  namespace: $NS
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: sentinel:lambda
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: rayjob-reader
EOF
)"; then
  # The RBAC authorizer reads through an informer: allow it a moment.
  for _ in $(seq 1 50); do
    api "$KUBE_LAMBDA_TOKEN" GET "$RJ_API"
    [[ "$CODE" == 200 ]] && break
    sleep 0.2
  done
  if [[ "$CODE" == 200 ]]; then
    pass "after a Role+RoleBinding for group sentinel:lambda, the lambda lists rayjobs ($(json 'len(d["items"])') item(s))"
  else
    fail "lambda list after RBAC grant: HTTP $CODE $BODY"
  fi
  rayjob_manifest smoke-by-lambda '"1"' >"$STATE_DIR/lambda.yaml"
  api "$KUBE_LAMBDA_TOKEN" POST "$RJ_API" "$STATE_DIR/lambda.yaml" application/yaml
  if [[ "$CODE" == 403 ]]; then
    pass "the read-only grant does not let the lambda create rayjobs (HTTP 403)"
  else
    fail "lambda create with a read-only grant: expected 403, got HTTP $CODE"
  fi
else
  fail "creating Role/RoleBinding: $out"
fi

# ----------------------------------------------------------------- status subresource
status_patch='{"status":{"jobStatus":"RUNNING","jobDeploymentStatus":"Running","message":"written by smoke.sh"}}'
if out="$(k patch rayjob smoke-minimal -n "$NS" --subresource=status --type=merge -p "$status_patch" 2>&1)"; then
  got="$(k get rayjob smoke-minimal -n "$NS" -o 'jsonpath={.status.jobStatus}/{.status.jobDeploymentStatus}/{.status.message}' 2>&1)" || true
  if [[ "$got" == "RUNNING/Running/written by smoke.sh" ]]; then
    pass "status written through the /status subresource and read back: $got"
  else
    fail "status read back after /status patch: $got"
  fi
else
  fail "patch /status: $out"
fi
# With the status subresource enabled, status sent to the main resource is ignored.
printf '%s' '{"status":{"jobStatus":"FAILED"}}' >"$STATE_DIR/main-patch.json"
api "$KUBE_ADMIN_TOKEN" PATCH "$RJ_API/smoke-minimal" "$STATE_DIR/main-patch.json" application/merge-patch+json
if [[ "$CODE" == 200 && "$(json 'd["status"]["jobStatus"]')" == RUNNING ]]; then
  pass "status sent to the main resource is ignored (jobStatus stays RUNNING)"
else
  fail "status via main resource: HTTP $CODE $BODY"
fi

# ----------------------------------------------------------------- down
apiserver_pid="$KUBE_APISERVER_PID"
etcd_pid="$ETCD_PID"
if "$KUBE_TOOLS_DIR/down.sh" "$STATE_DIR" 2>&1 | detail \
  && ! kube_pid_alive "$apiserver_pid" && ! kube_pid_alive "$etcd_pid"; then
  pass "down.sh stopped kube-apiserver (pid $apiserver_pid) and etcd (pid $etcd_pid)"
else
  fail "down.sh left a process behind"
fi

printf 'smoke: %d passed, %d failed\n' "$passed" "$failed"
[[ $failed == 0 ]]
