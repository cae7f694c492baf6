#!/usr/bin/env bash
# Mutation testing of core/, events/ and workflows/ against the fast suites (unit, paths): StrykerJS with the
# node:test runner in tools/mutation/ (config: stryker.config.mjs). Writes the HTML report to
# reports/mutation/index.html, then prints the score per file and folder and checks the survivors against
# test/mutation-survivors.md (tools/mutation/summary.mjs). Incremental: mutants whose code and tests did not change
# keep their last result (reports/mutation/incremental.json); `npm run mutation -- --force` runs them all.
# A script, not a test suite: it is not part of `npm test`, and its exit status says whether it ran.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
# Metrics stay on (as in the paths suite, whose metrics tests read the EMF): the runner discards the tests' output.
export PATH="$root/node_modules/.bin:$PATH" POWERTOOLS_LOG_LEVEL=SILENT
started=$(date +%s)
node tools/mutation/run.mjs run "$@"
echo "mutation: Stryker ran in $(( $(date +%s) - started )) s"
node tools/mutation/summary.mjs reports/mutation/mutation.json
