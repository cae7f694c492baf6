#!/usr/bin/env bash
# Runs every suite and prints one plain "N passed, N failed" line per suite; exits non-zero if anything failed.
#   typecheck   tsc --noEmit over the TypeScript
#   py-quality  ruff check and mypy (strict) over the SDK, the jobs and their tests
#   unit   core, handlers, patterns, ASL (node:test)
#   paths  the state machine's paths on the local interpreter with the real handlers (node:test)
#   jobs   the Python Ray workloads (pytest, real Ray)
#   infra  the SST/Pulumi stack's wiring and least privilege under Pulumi's runtime mocks, AWS adapters (node:test)
#   aws    the AWS backend of the CLI (start, runs, status, cancel) and AWS adapters against moto in server mode (node:test)
#   k8s    the KubeRay adapters, manifests, RBAC, retries, spot handling and the reaper on a real kube-apiserver + etcd
#   e2e    full local pipeline runs on a real Ray head, the CLI, Ctrl-C (node:test)
# Pass suite names to run only some: scripts/test.sh unit paths
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh || exit 1

export POWERTOOLS_LOG_LEVEL=SILENT
node="$root/node_modules/.bin/node"
out="$(mktemp -d)"
status=0
summary=()
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(typecheck py-quality unit paths infra aws k8s jobs e2e)

# node_part TAP ARGS…: one node:test run, its TAP report in TAP.
node_part() {
  local tap=$1; shift
  "$node" --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-1}" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "$@"
}

# suite_result NAME RC TAP…: the suite's one summary line, its counts summed over its runs' TAP reports.
suite_result() {
  local name=$1 rc=$2; shift 2
  local pass fail
  pass=$(awk '/^# pass /{s+=$3} END{print s+0}' "$@")
  fail=$(awk '/^# fail /{s+=$3} END{print s+0}' "$@")
  [ "$rc" -eq 0 ] || status=1
  [ "$pass" -gt 0 ] || { echo "$name: no test ran"; status=1; }
  summary+=("$name: $pass passed, $fail failed")
  echo "$name: $pass passed, $fail failed"
}

node_suite() {
  local name=$1; shift
  echo "=== $name"
  node_part "$out/$name.tap" "$@"
  suite_result "$name" $? "$out/$name.tap"
}

for suite in "${suites[@]}"; do
  case "$suite" in
    typecheck)
      echo "=== typecheck"
      if "$node" node_modules/typescript/bin/tsc --noEmit -p .; then summary+=("typecheck: ok"); else summary+=("typecheck: FAILED"); status=1; fi ;;
    py-quality)
      echo "=== py-quality"
      pass=0; fail=0
      if "$root/.venv/bin/ruff" check jobs; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
      if (cd jobs && "$root/.venv/bin/mypy"); then pass=$((pass + 1)); else fail=$((fail + 1)); fi
      [ "$fail" -eq 0 ] || status=1
      summary+=("py-quality: $pass passed, $fail failed"); echo "py-quality: $pass passed, $fail failed" ;;
    # Handlers called directly (no local runtime, so no metrics sink) would print their EMF lines; the metrics
    # tests turn Powertools Metrics back on for themselves.
    # The fast suites fail a file that outlives its tests (test/support/leak-check.ts) and a test past 120 s.
    # Unit files share nothing (own temp dirs, ephemeral ports, no fixed files): two run at a time.
    # Unit files run in one process (no per-file tsx start: 43 files took 18 s that way, 4 s in one), except the few
    # that set up Powertools or X-Ray from the process environment at load, which get their own processes.
    unit)
      shared=(); isolated=()
      for f in test/unit/*.test.ts; do
        case "$f" in test/unit/metrics.test.ts|test/unit/tracing.test.ts|test/unit/tracing-off.test.ts) isolated+=("$f") ;; *) shared+=("$f") ;; esac
      done
      echo "=== unit"
      rc=0
      POWERTOOLS_METRICS_DISABLED=true node_part "$out/unit-shared.tap" --experimental-test-isolation=none --import ./test/support/leak-check.ts --test-timeout=120000 "${shared[@]}" || rc=1
      POWERTOOLS_METRICS_DISABLED=true TEST_CONCURRENCY=2 node_part "$out/unit-isolated.tap" --import ./test/support/leak-check.ts --test-timeout=120000 "${isolated[@]}" || rc=1
      suite_result unit "$rc" "$out/unit-shared.tap" "$out/unit-isolated.tap" ;;
    paths) node_suite paths --import ./test/support/leak-check.ts --test-timeout=120000 test/paths/*.test.ts ;;
    e2e) node_suite e2e test/e2e/*.test.ts ;;
    infra) node_suite infra test/infra/*.test.ts ;;
    # The AWS backend against moto in server mode (an AWS-API server each file starts on a free port, test/support/moto.ts).
    aws) node_suite aws --import ./test/support/leak-check.ts --test-timeout=300000 test/aws/*.test.ts ;;
    k8s)
      # Builds kube-apiserver and etcd from the Go module proxy once (cached under ~/.cache/sentinel/kube).
      bash tools/kube/build.sh || { summary+=("k8s: 0 passed, 1 failed"); status=1; continue; }
      node_suite k8s test/k8s/*.test.ts test/k8s-events/*.test.ts ;;
    jobs)
      echo "=== jobs"
      (cd jobs && "$root/.venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$out/jobs.xml")
      rc=$?
      [ "$rc" -eq 0 ] || status=1
      line=$("$root/.venv/bin/python" - "$out/jobs.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 passed, 1 failed"); sys.exit()
s = root if root.tag == "testsuite" else root.find("testsuite")
tests, failures, errors, skipped = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
print(f"{tests - failures - errors - skipped} passed, {failures + errors} failed, {skipped} skipped")
PY
)
      summary+=("jobs: $line"); echo "jobs: $line" ;;
    *) echo "unknown suite $suite"; status=1 ;;
  esac
done

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
rm -rf "$out"
exit $status
