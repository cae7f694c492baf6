// Preloaded (-r) into each test process by node-test-runner.mjs: sets up Stryker's global namespace (hit limit
// against mutants that loop forever) and, at exit, writes what the instrumented code recorded (mutant coverage in
// a dry run, the hit count) where the runner reads it.
const { writeFileSync } = require('node:fs');

const ns = (globalThis.__stryker__ = globalThis.__stryker__ || {});
const limit = process.env.SENTINEL_STRYKER_HIT_LIMIT;
if (limit) {
  ns.hitLimit = Number(limit);
  ns.hitCount = 0;
}
process.on('exit', () => {
  const out = process.env.SENTINEL_STRYKER_COVERAGE;
  if (!out) return;
  const data = { hitCount: ns.hitCount };
  if (process.env.SENTINEL_STRYKER_DRY_RUN === 'true') data.mutantCoverage = ns.mutantCoverage;
  writeFileSync(out, JSON.stringify(data));
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(128 + 1));
