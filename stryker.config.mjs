// Mutation testing of the control plane's domain code (`npm run mutation`; README "Mutation testing").
// Each mutant runs only the test files that executed its code (the tap runner's per-file coverage), fastest first
// being the unit files, and stops at the first failing file. Incremental: mutants whose code and covering tests
// did not change keep their earlier result (reports/mutation/incremental.json); `npm run mutation -- --force`
// runs them all again.
//
// A quick check of a few mutants against a few test files, apart from the full run's report:
//   SENTINEL_MUTATION_TESTS=test/unit/inputs.test.ts SENTINEL_MUTATION_DIR=reports/mutation-check \
//     node tools/mutation/run.mjs run --mutate core/csv-header.ts:6-14
const tests = process.env.SENTINEL_MUTATION_TESTS?.split(',') ?? ['test/unit/*.test.ts', 'test/paths/*.test.ts'];
const dir = process.env.SENTINEL_MUTATION_DIR ?? 'reports/mutation';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  // tools/mutation/node-test-runner.mjs: per-file coverage, then one process per mutant over the files that cover it.
  testRunner: 'node-test',
  plugins: ['./tools/mutation/node-test-runner.mjs', './tools/mutation/live-reporter.mjs'],
  nodeTest: {
    // The fast suites (scripts/test.sh unit paths).
    testFiles: tests,
    nodeArgs: ['--import', 'tsx'],
  },
  mutate: ['core/**/*.ts', 'events/**/*.ts', 'workflows/**/*.ts'],
  // tools/mutation/run.mjs loads Stryker through a link and --preserve-symlinks; Stryker forks its test runner
  // and checker processes with these arguments only (not its own), and without them the worker sees its real path, takes itself
  // for an import rather than the main module, and exits at once.
  testRunnerNodeArgs: ['--preserve-symlinks', '--preserve-symlinks-main'],
  checkerNodeArgs: ['--preserve-symlinks', '--preserve-symlinks-main'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 10000,
  dryRunTimeoutMinutes: 20,
  timeoutFactor: 2,
  // A fresh worker process every so many mutants (each mutant loads the project's modules anew).
  maxTestRunnerReuse: 40,
  incremental: true,
  incrementalFile: `${dir}/incremental.json`,
  // live: each mutant's result as it completes (reports/mutation/live.jsonl; tools/mutation/live-reporter.mjs).
  reporters: ['html', 'json', 'clear-text', 'progress', 'live'],
  htmlReporter: { fileName: `${dir}/index.html` },
  jsonReporter: { fileName: `${dir}/mutation.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false, reportScoreTable: true },
  thresholds: { high: 90, low: 85, break: null },
  // Its own sandbox folder per report folder: a run removes its temp folder when done, and a check may run alongside.
  tempDirName: dir === 'reports/mutation' ? '.mutation-tmp' : `${dir}/.tmp`,
  cleanTempDir: 'always',
  ignorePatterns: ['.venv', '.sentinel', '.cache', 'reports', 'dist', 'out', '**/.mypy_cache', '**/.ruff_cache', '**/__pycache__', '**/.pytest_cache'],
};
