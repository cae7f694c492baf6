// A StrykerJS test runner for node:test files run through tsx: `testRunner: 'node-test'` (stryker.config.mjs).
//
// Why not @stryker-mutator/tap-runner: it runs every covering test *file* in its own Node process per mutant, and
// on this 2-core machine loading tsx and the instrumented code costs seconds per process; with the paths suite
// in the mix a full run was estimated at about five hours. This runner:
//   - dry run: one process per test file, with per-test.mjs naming the running top-level test, so coverage is
//     per test (`<file>#<test name>`), not per file. What runs outside any test (module loading) counts as covered
//     by every test of that file: such a "static" mutant runs the tests of the files that load its module, not
//     the whole suite (Stryker's default for static mutants, which made a full run take hours here);
//   - mutant runs: in a long-lived worker process (worker.mjs) that runs only the tests that executed the mutant,
//     the quickest files first, stopping at the first failure. A mutant that loading a file executes (module-level
//     code: schemas, tables) gets fresh instances of every project module (hooks.mjs, `?gen=N`), so that code runs
//     with the mutant active; the others reuse the modules already loaded and only switch the active mutant, as
//     Stryker's own in-process runners do. node_modules load once per worker. node:test's `test` is a recording shim there
//     (node-test-shim.mjs); the dry run uses the real node:test. Stryker restarts the worker every
//     `maxTestRunnerReuse` mutants and after a timeout.
// A test file that fails to load under a mutant fails the run as it would in `npm test`: killed.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { glob } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commonTokens, declareClassPlugin, PluginKind } from '@stryker-mutator/api/plugin';
import { DryRunStatus, determineHitLimitReached, MutantRunStatus, TestStatus, toMutantRunResult } from '@stryker-mutator/api/test-runner';

const here = fileURLToPath(new URL('.', import.meta.url));
const HOOK = join(here, 'hook.cjs');
const PER_TEST = join(here, 'per-test.mjs');
const REPORTER = join(here, 'reporter.mjs');
const RUN_FILES = join(here, 'run-files.mjs');
const WORKER = join(here, 'worker.mjs');
/** In the sandbox (the working directory of every runner process). */
const DRY_RUN_FILE = '.stryker-node-test-dry-run.json';

export const strykerValidationSchema = {
  $schema: 'http://json-schema.org/draft-07/schema',
  type: 'object',
  properties: {
    nodeTest: {
      type: 'object',
      description: 'Options of the node-test runner (tools/mutation/node-test-runner.mjs)',
      properties: {
        testFiles: { type: 'array', items: { type: 'string' }, description: 'Globs of node:test files' },
        nodeArgs: { type: 'array', items: { type: 'string' }, description: 'Node arguments before the files (e.g. --import tsx)' },
      },
      additionalProperties: false,
    },
  },
};

const fileOf = (id) => id.slice(0, id.indexOf('#'));
const nameOf = (id) => id.slice(id.indexOf('#') + 1);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

class NodeTestRunner {
  static inject = [commonTokens.options, commonTokens.logger];
  /** test file → its dry-run time (ms): the quick files run first. */
  fileTimes = new Map();
  /** test file → ids of the mutants its loading runs. */
  loaded = new Map();
  files = [];

  constructor(options, log) {
    this.options = { testFiles: ['test/**/*.test.ts'], nodeArgs: ['--import', 'tsx'], ...options.nodeTest };
    this.log = log;
  }

  capabilities() {
    return { reloadEnvironment: true };
  }

  async init() {
    const seen = new Set();
    for (const pattern of this.options.testFiles) {
      const found = [];
      for await (const f of glob(pattern)) found.push(f);
      for (const f of found.sort()) if (!seen.has(f)) (seen.add(f), this.files.push(f));
    }
    if (!this.files.length) throw new Error(`no test files match ${JSON.stringify(this.options.testFiles)}`);
  }

  async dryRun(options) {
    const files = options.testFiles?.length ? options.testFiles : this.files;
    const tests = [];
    const perTest = {};
    for (const file of files) {
      const r = await this.spawnRun([file], { dryRun: true, bail: false });
      if (r.hitLimit) return r.hitLimit;
      if (r.error) return { status: DryRunStatus.Error, errorMessage: `${file}: ${r.error}` };
      this.fileTimes.set(file, r.ms);
      for (const [id, cov] of Object.entries(r.coverage?.perTest ?? {})) perTest[id] = cov;
      // Code run outside any test (module loading, mostly) can only affect the files whose process ran it: count it
      // as covered by every test of this file, so such a mutant runs this file's tests, not the whole suite.
      const loaded = r.coverage?.static ?? {};
      this.loaded.set(file, new Set(Object.keys(loaded)));
      for (const t of r.result.tests) perTest[t.id] = { ...loaded, ...perTest[t.id] };
      for (const t of r.result.tests) {
        const failure = r.result.failed.find((f) => f.id === t.id);
        tests.push(
          failure
            ? { id: t.id, name: t.id, fileName: file, status: TestStatus.Failed, timeSpentMs: t.ms, failureMessage: `${failure.name}: ${failure.message}` }
            : { id: t.id, name: t.id, fileName: file, status: TestStatus.Success, timeSpentMs: t.ms },
        );
        perTest[t.id] ??= {};
      }
    }
    // For the runner processes that test mutants (this one may not be among them): file times, and which mutants
    // each file's loading runs (those need fresh modules; the rest can reuse the loaded ones).
    const loadedByFile = Object.fromEntries([...this.loaded].map(([f, ids]) => [f, [...ids]]));
    writeFileSync(DRY_RUN_FILE, JSON.stringify({ fileTimes: Object.fromEntries(this.fileTimes), loadedByFile }));
    return { status: DryRunStatus.Complete, tests, mutantCoverage: { static: {}, perTest } };
  }

  readDryRun() {
    if (this.dryRunRead) return;
    this.dryRunRead = true;
    try {
      const d = JSON.parse(readFileSync(DRY_RUN_FILE, 'utf8'));
      for (const [f, ms] of Object.entries(d.fileTimes)) if (!this.fileTimes.has(f)) this.fileTimes.set(f, ms);
      for (const [f, ids] of Object.entries(d.loadedByFile)) if (!this.loaded.has(f)) this.loaded.set(f, new Set(ids));
    } catch {
      // No dry-run record: every mutant gets fresh modules (slower, same results).
    }
  }

  async mutantRun(options) {
    this.readDryRun();
    const ids = options.testFilter;
    const files = (ids ? [...new Set(ids.map(fileOf))] : [...this.files]).sort((a, b) => (this.fileTimes.get(a) ?? Infinity) - (this.fileTimes.get(b) ?? Infinity));
    const r = await this.inWorker({
      activeMutant: options.activeMutant.id,
      hitLimit: options.hitLimit,
      bail: !options.disableBail,
      files,
      names: ids ? [...new Set(ids.map(nameOf))] : undefined,
      // Fresh modules when loading one of these files runs the mutant (or nothing is known about it).
      fresh: files.some((f) => !this.loaded.has(f) || this.loaded.get(f).has(options.activeMutant.id)),
    });
    const hit = determineHitLimitReached(r.hitCount, options.hitLimit);
    if (hit) return toMutantRunResult(hit);
    if (r.error) return { status: MutantRunStatus.Error, errorMessage: r.error };
    const tests = r.tests.map((t) => {
      const failure = r.failed.find((f) => f.id === t.id);
      return failure
        ? { id: t.id, name: t.id, status: TestStatus.Failed, timeSpentMs: t.ms, failureMessage: `${failure.name}: ${failure.message}` }
        : { id: t.id, name: t.id, status: TestStatus.Success, timeSpentMs: t.ms };
    });
    // A test file that fails to load under this mutant fails the suite as it would in `npm test`: killed.
    for (const f of r.failed.filter((f) => !tests.some((t) => t.id === f.id))) {
      tests.push({ id: ids?.find((i) => fileOf(i) === fileOf(f.id)) ?? f.id, name: f.id, status: TestStatus.Failed, timeSpentMs: 0, failureMessage: `${f.name}: ${f.message}` });
    }
    return toMutantRunResult({ status: DryRunStatus.Complete, tests });
  }

  /** The long-lived worker process (worker.mjs), started on first use; one request at a time. */
  inWorker(request) {
    if (!this.worker) {
      this.worker = fork(WORKER, [], {
        execArgv: ['-r', HOOK, ...this.options.nodeArgs],
        env: { ...process.env, SENTINEL_STRYKER_WORKER: 'true' },
        stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      });
      this.ready = new Promise((res, rej) => {
        this.worker.once('message', (m) => (m.ready ? res() : rej(new Error('worker did not start'))));
        this.worker.once('exit', (code) => rej(new Error(`worker exited with ${code}`)));
      });
      this.seq = 0;
    }
    const id = ++this.seq;
    return this.ready.then(
      () =>
        new Promise((res) => {
          const onMessage = (m) => {
            if (m.id !== id) return;
            this.worker.off('message', onMessage);
            this.worker.off('exit', onExit);
            res(m.error ? { error: m.error } : m.result);
          };
          const onExit = (code, signal) => {
            this.worker.off('message', onMessage);
            this.worker = undefined;
            // The worker died under this mutant (a crash, process.exit): the suite would fail too.
            res({ tests: [], failed: [{ id: `${request.files[0]}#`, name: request.files[0], message: `worker exited with ${signal ?? code}` }] });
          };
          this.worker.on('message', onMessage);
          this.worker.on('exit', onExit);
          this.worker.send({ id, ...request });
        }),
    );
  }

  async dispose() {
    this.worker?.kill('SIGKILL');
    this.worker = undefined;
  }

  /** One Node process running `files` (only the tests named, if any); resolves with results, coverage and time. */
  spawnRun(files, { activeMutant, hitLimit, dryRun = false, bail, names }) {
    const dir = mkdtempSync(join(tmpdir(), 'stryker-node-test-'));
    const resultFile = join(dir, 'result.json');
    const coverageFile = join(dir, 'coverage.json');
    const env = {
      ...process.env,
      SENTINEL_STRYKER_RESULT: resultFile,
      SENTINEL_STRYKER_COVERAGE: coverageFile,
      SENTINEL_STRYKER_BAIL: String(bail),
      SENTINEL_STRYKER_DRY_RUN: String(dryRun),
      SENTINEL_STRYKER_FILE: files[0],
    };
    delete env.__STRYKER_ACTIVE_MUTANT__;
    if (activeMutant !== undefined) env.__STRYKER_ACTIVE_MUTANT__ = activeMutant;
    if (hitLimit) env.SENTINEL_STRYKER_HIT_LIMIT = String(hitLimit);
    const args = [
      '-r', HOOK,
      ...(dryRun ? ['--import', PER_TEST] : []),
      ...this.options.nodeArgs,
      `--test-reporter=${REPORTER}`,
      ...(names ?? []).map((n) => `--test-name-pattern=^${escape(n)}$`),
      RUN_FILES,
      ...files,
    ];
    const started = Date.now();
    return new Promise((resolve) => {
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      const stderr = [];
      child.stderr.on('data', (c) => stderr.push(c));
      child.on('close', (code, signal) => {
        const ms = Date.now() - started;
        const read = (f) => {
          try {
            return JSON.parse(readFileSync(f, 'utf8'));
          } catch {
            return undefined;
          }
        };
        const result = read(resultFile);
        const ns = read(coverageFile);
        rmSync(dir, { recursive: true, force: true });
        const hit = determineHitLimitReached(ns?.hitCount, hitLimit);
        if (hit) return resolve({ hitLimit: hit, ms });
        if (!result) {
          const tail = Buffer.concat(stderr).toString().split('\n').slice(-15).join('\n');
          return resolve({ error: `exited with ${signal ?? code} before reporting: ${tail}`, ms });
        }
        resolve({ result, coverage: ns?.mutantCoverage, ms });
      });
    });
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.TestRunner, 'node-test', NodeTestRunner)];
