// `sentinel runs` and `sentinel status` over a temporary home with hand-written records (run.json, result.json,
// champion.json, metrics.jsonl, session.json): the listing and its filters, one run's status, the live session and
// its staleness, the CLI's exit codes. No Ray: a live session's compute and serving are fakes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, statSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { LocalRunHistory } from '../../local/run-history.js';
import { findRun, listRuns, parseSince, runStatus, type LiveView } from '../../core/run-history.js';
import { addSessionRun, liveSessionFile, removeSessionFile, sessionFilePath, writeSessionFile } from '../../local/session-file.js';
import { championUri, resultUri, runRecordUri } from '../../core/artifacts.js';
import type { ChampionRecord, RunRecord, StageSummary } from '../../core/model.js';
import type { ComputePort, ServingPort } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import type { Stage } from '../../core/stages.js';
import { runsCommand } from '../../cli/runs.js';
import { statusCommand } from '../../cli/status.js';

const T0 = Date.parse('2026-12-01T12:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const NOW = T0 + 180 * 60_000;
const TOKEN = 'f'.repeat(64);

const home = mkdtempSync(join(tmpdir(), 'sentinel-status-'));
const root = join(home, 'bucket', 'artifacts');

function summary(pipeline: string, runId: string, stage: Stage, metrics: Record<string, number>, attempt = 1, details?: Record<string, unknown>): StageSummary {
  return {
    stage,
    jobId: `${pipeline}-${runId}-${stage}-${attempt}`,
    attempt,
    resultUri: resultUri(root, pipeline, runId, stage),
    metrics,
    artifacts: { model: join(root, pipeline, runId, stage, 'model') },
    ...(details ? { details } : {}),
    jobSeconds: 4.5,
  };
}

function writeRun(r: RunRecord, results: Partial<Record<Stage, Record<string, number>>> = {}) {
  const uri = runRecordUri(root, r.pipeline, r.runId);
  mkdirSync(join(uri, '..'), { recursive: true });
  writeFileSync(uri, JSON.stringify(r));
  for (const [stage, metrics] of Object.entries(results)) {
    const p = resultUri(root, r.pipeline, r.runId, stage);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, JSON.stringify({ stage, metrics, artifacts: { out: join(p, '..', 'out') } }));
  }
}

const full = (pipeline: string, runId: string, candidate: number, champion?: number) => ({
  ingest: summary(pipeline, runId, 'ingest', { rows: 569 }),
  train: summary(pipeline, runId, 'train', { validation_roc_auc: 0.99 }, 2, { resumedFromIteration: 10 }),
  tune: summary(pipeline, runId, 'tune', { validation_roc_auc: 0.995, trials: 3 }),
  evaluate: summary(pipeline, runId, 'evaluate', { candidate_roc_auc: candidate, ...(champion !== undefined ? { champion_roc_auc: champion } : {}) }),
});

const manual = (requestId: string) => ({ kind: 'manual' as const, requestId });

// Five runs of two pipelines: promoted, kept, failed in train, interrupted (RUNNING, nothing runs it), and one iris.
const PROMOTED: RunRecord = {
  pipeline: 'breast-cancer', runId: 'r000000aaa', status: 'SUCCEEDED', trigger: manual('one'), datasetUri: '/data.csv',
  startedAt: at(0), endedAt: at(2),
  outcome: { promoted: true, reason: 'no champion yet; candidate roc_auc 0.99 clears the floor 0.9' },
  stages: full('breast-cancer', 'r000000aaa', 0.99),
  tracking: { uri: 'http://127.0.0.1:5123', experimentId: '7', parentRunId: 'abc123', url: 'http://127.0.0.1:5123/#/experiments/7/runs/abc123' },
};
const KEPT: RunRecord = {
  pipeline: 'breast-cancer', runId: 'r000000bbb', status: 'SUCCEEDED', trigger: manual('two'), datasetUri: '/data.csv',
  startedAt: at(10), endedAt: at(11.5),
  outcome: { promoted: false, reason: 'candidate roc_auc 0.99 does not beat champion 0.99 by the margin 0.002' },
  stages: full('breast-cancer', 'r000000bbb', 0.99, 0.99),
};
const FAILED: RunRecord = {
  pipeline: 'breast-cancer', runId: 'r000000ccc', status: 'FAILED', trigger: manual('three'), datasetUri: '/data.csv',
  startedAt: at(20), endedAt: at(20.5),
  outcome: { error: 'ValidationFailed', cause: 'train job breast-cancer-r000000ccc-train-1 FAILED: max_depth must be ≥ 0\n--- last 30 log lines ---\n…', stage: 'Train' },
  stages: { ingest: summary('breast-cancer', 'r000000ccc', 'ingest', { rows: 569 }) },
};
const RUNNING: RunRecord = {
  pipeline: 'breast-cancer', runId: 'r000000ddd', status: 'RUNNING', trigger: manual('four'), datasetUri: '/data.csv', startedAt: at(30),
};
const IRIS: RunRecord = {
  pipeline: 'iris', runId: 'r000000eee', status: 'SUCCEEDED', trigger: manual('five'), datasetUri: '/iris.csv', startedAt: at(25), endedAt: at(26),
  outcome: { promoted: true, reason: 'no champion yet' }, stages: full('iris', 'r000000eee', 0.9),
};

const emf = (runId: string, name: string, unit: string, value: number, dims: Record<string, string> = {}) =>
  JSON.stringify({
    _aws: { Timestamp: T0, CloudWatchMetrics: [{ Namespace: 'Sentinel/local', Dimensions: [['service', 'Pipeline', ...Object.keys(dims)]], Metrics: [{ Name: name, Unit: unit }] }] },
    pipeline: 'breast-cancer', runId, service: 'sentinel', Pipeline: 'breast-cancer', ...dims, [name]: value,
  });

before(() => {
  for (const r of [PROMOTED, KEPT, FAILED, IRIS]) writeRun(r);
  // The interrupted run got as far as ingest's result (its record never caught up).
  writeRun(RUNNING, { ingest: { rows: 569 } });
  writeFileSync(championUri(root, 'breast-cancer'), JSON.stringify({
    pipeline: 'breast-cancer',
    current: { runId: PROMOTED.runId, modelUri: '/m', metric: 'roc_auc', value: 0.99, promotedAt: at(2), serveConfig: {}, registry: { model: 'breast-cancer', version: '1' } },
  } satisfies ChampionRecord));
  writeFileSync(join(root, 'breast-cancer', PROMOTED.runId, 'metrics.jsonl'), [
    emf(PROMOTED.runId, 'StageAttempts', 'Count', 1, { Stage: 'ingest' }),
    emf(PROMOTED.runId, 'StageAttempts', 'Count', 2, { Stage: 'train' }),
    emf(PROMOTED.runId, 'StageRetries', 'Count', 1, { ErrorName: 'SpotInterrupted' }),
    emf(PROMOTED.runId, 'RunDuration', 'Seconds', 120),
    emf(PROMOTED.runId, 'Promotions', 'Count', 1),
    'not json',
  ].join('\n'));
});
after(() => rmSync(home, { recursive: true, force: true }));

describe('the listing', () => {
  test('every run of the home, newest first, with its outcome kind', async () => {
    const h = new LocalRunHistory({ home });
    const rows = listRuns(await h.listRuns(), {}, undefined, NOW);
    assert.deepEqual(rows.map((r) => r.runId), ['r000000ddd', 'r000000eee', 'r000000ccc', 'r000000bbb', 'r000000aaa']);
    const by = Object.fromEntries(rows.map((r) => [r.runId, r]));
    assert.equal(by.r000000aaa!.outcome.kind, 'promoted');
    assert.equal(by.r000000bbb!.outcome.kind, 'kept');
    assert.equal(by.r000000ccc!.outcome.kind, 'failed');
    assert.equal(by.r000000ccc!.outcome.stage, 'train');
    assert.equal(by.r000000ccc!.outcome.error, 'ValidationFailed');
    assert.doesNotMatch(by.r000000ccc!.outcome.reason, /\n/, 'the cause is cut to its first line');
    assert.equal(by.r000000aaa!.durationSeconds, 120);
    // RUNNING on record with no live session: interrupted, no duration.
    assert.equal(by.r000000ddd!.status, 'INTERRUPTED');
    assert.equal(by.r000000ddd!.durationSeconds, undefined);
  });

  test('filters: pipeline, status (and promoted/kept), since a duration or an ISO time', async () => {
    const records = await new LocalRunHistory({ home }).listRuns();
    const ids = (f: Parameters<typeof listRuns>[1]) => listRuns(records, f, undefined, NOW).map((r) => r.runId);
    assert.deepEqual(ids({ pipeline: 'iris' }), ['r000000eee']);
    assert.deepEqual(ids({ pipeline: 'nope' }), []);
    assert.deepEqual(ids({ status: 'failed' }), ['r000000ccc']);
    assert.deepEqual(ids({ status: 'succeeded', pipeline: 'breast-cancer' }), ['r000000bbb', 'r000000aaa']);
    assert.deepEqual(ids({ status: 'promoted' }), ['r000000eee', 'r000000aaa']);
    assert.deepEqual(ids({ status: 'kept' }), ['r000000bbb']);
    assert.deepEqual(ids({ status: 'interrupted' }), ['r000000ddd']);
    assert.deepEqual(ids({ status: 'running' }), []);
    // NOW is T0 + 180 min: "2h40m" reaches back to T0 + 20 min.
    assert.deepEqual(ids({ since: parseSince('2h40m', NOW)! }), ['r000000ddd', 'r000000eee', 'r000000ccc']);
    assert.deepEqual(ids({ since: parseSince(at(25), NOW)! }), ['r000000ddd', 'r000000eee']);
    assert.equal(parseSince('90s', NOW), NOW - 90_000);
    assert.equal(parseSince('1d', NOW), NOW - 86_400_000);
    for (const bad of ['', 'yesterday', '3x', '10', '-5m']) assert.equal(parseSince(bad, NOW), undefined, bad);
  });

  test('a missing or partial record is skipped, not fatal', async () => {
    const h2 = mkdtempSync(join(tmpdir(), 'sentinel-status-'));
    try {
      const r = join(h2, 'bucket', 'artifacts', 'p', 'r111111111');
      mkdirSync(r, { recursive: true });
      writeFileSync(join(r, 'run.json'), '{ not json');
      mkdirSync(join(h2, 'bucket', 'artifacts', 'p', 'not-a-run'), { recursive: true });
      assert.deepEqual(await new LocalRunHistory({ home: h2 }).listRuns(), []);
    } finally {
      rmSync(h2, { recursive: true, force: true });
    }
  });
});

describe('finding a run', () => {
  test('by id or unique prefix; an ambiguous prefix lists its matches; a miss lists the nearest and the most recent', async () => {
    const records = await new LocalRunHistory({ home }).listRuns();
    const f = findRun(records, 'r000000ccc');
    assert.ok('found' in f && f.found.runId === 'r000000ccc');
    const p = findRun(records, 'r000000e');
    assert.ok('found' in p && p.found.runId === 'r000000eee');
    const a = findRun(records, 'r000000');
    assert.ok('ambiguous' in a && a.ambiguous.length === 5);
    const m = findRun(records, 'r000000ccx');
    assert.ok('missing' in m);
    assert.equal(m.nearest[0], 'r000000ccc', 'one typo away');
    assert.ok(m.recent.length > 0 && !m.recent.includes('r000000ccc'));
    assert.equal(m.recent[0], 'r000000ddd', 'most recent first');
    const none = findRun([], 'r123');
    assert.ok('missing' in none && none.nearest.length === 0 && none.recent.length === 0);
  });
});

describe('one run\'s status', () => {
  test('a promoted run: stages, attempts, gate, champion (this run), control-plane metrics, tracking, artifacts', async () => {
    const v = await runStatus(new LocalRunHistory({ home }), PROMOTED, NOW);
    assert.equal(v.status, 'SUCCEEDED');
    assert.deepEqual(v.stages.map((s) => [s.stage, s.state]), [['ingest', 'SUCCEEDED'], ['train', 'SUCCEEDED'], ['tune', 'SUCCEEDED'], ['evaluate', 'SUCCEEDED']]);
    const train = v.stages[1]!;
    assert.equal(train.attempt, 2);
    assert.equal(train.seconds, 4.5);
    assert.equal(train.metrics.validation_roc_auc, 0.99);
    assert.ok(train.notes?.some((n) => /10/.test(n)), 'resumed from its checkpoint');
    assert.equal(v.gate?.decision, 'PROMOTE');
    assert.equal(v.gate?.candidate, 0.99);
    assert.equal(v.gate?.champion, undefined);
    assert.equal(v.champion?.runId, PROMOTED.runId);
    assert.equal(v.champion?.isThisRun, true);
    assert.equal(v.champion?.registryVersion, '1');
    assert.equal(v.controlPlane?.attempts, 3);
    assert.deepEqual(v.controlPlane?.retries, { SpotInterrupted: 1 });
    assert.equal(v.controlPlane?.runSeconds, 120);
    assert.equal(v.controlPlane?.promoted, true);
    assert.ok(v.tracking && 'url' in v.tracking && v.tracking.url.includes('/runs/abc123'));
    assert.equal(v.artifactsUri, join(root, 'breast-cancer', PROMOTED.runId));
    assert.equal(v.live, undefined);
  });

  test('a kept run: the gate keeps the champion, which is another run; no metrics file, no digest', async () => {
    const v = await runStatus(new LocalRunHistory({ home }), KEPT, NOW);
    assert.equal(v.gate?.decision, 'KEEP');
    assert.equal(v.gate?.champion, 0.99);
    assert.equal(v.champion?.isThisRun, false);
    assert.equal(v.champion?.runId, PROMOTED.runId);
    assert.equal(v.controlPlane, undefined);
  });

  test('a failed run: the stage that failed (its attempt from the job named in the cause), what never ran, no gate', async () => {
    const v = await runStatus(new LocalRunHistory({ home }), FAILED, NOW);
    assert.equal(v.status, 'FAILED');
    assert.deepEqual(v.stages.map((s) => s.state), ['SUCCEEDED', 'FAILED', 'NOT_RUN', 'NOT_RUN']);
    assert.equal(v.stages[1]!.attempt, 1);
    assert.match(v.stages[1]!.error!, /ValidationFailed/);
    assert.equal(v.gate, undefined);
  });

  test('an interrupted run: what its job wrote counts, the next stage is where it stopped', async () => {
    const v = await runStatus(new LocalRunHistory({ home }), RUNNING, NOW);
    assert.equal(v.status, 'INTERRUPTED');
    assert.deepEqual(v.stages.map((s) => s.state), ['SUCCEEDED', 'INTERRUPTED', 'NOT_RUN', 'NOT_RUN']);
    assert.equal(v.stages[0]!.metrics.rows, 569);
    assert.ok(v.stages[0]!.endedAt, 'when its result was written');
  });
});

describe('the live session', () => {
  const fakeCompute = (jobs: JobStatus[]): ComputePort => ({
    backend: 'ray-jobs',
    submit: async () => ({ jobId: '', created: false }),
    get: async () => undefined,
    list: async (sel) => jobs.filter((j) => Object.entries(sel).every(([k, v]) => j.labels[k] === v)),
    logs: async () => '',
    stop: async () => undefined,
  });
  const fakeServing: ServingPort = {
    apply: async () => undefined,
    status: async () => ({ state: 'RUNNING', runId: PROMOTED.runId }),
    endpoint: (_p, route) => `http://127.0.0.1:8123${route}`,
    replicas: async () => ({ running: 2, target: 2, min: 1, max: 5, states: { RUNNING: 2 } }),
  };
  const labels = (stage: string, attempt: number) => ({ 'sentinel.dev/pipeline': 'breast-cancer', 'sentinel.dev/run': RUNNING.runId, 'sentinel.dev/stage': stage, 'sentinel.dev/attempt': String(attempt) });
  const jobs: JobStatus[] = [
    { jobId: `breast-cancer-${RUNNING.runId}-ingest-1`, state: 'SUCCEEDED', startTime: T0, endTime: T0 + 5000, labels: labels('ingest', 1) },
    { jobId: `breast-cancer-${RUNNING.runId}-train-1`, state: 'FAILED', startTime: T0 + 6000, endTime: T0 + 9000, labels: labels('train', 1), interrupted: true },
    { jobId: `breast-cancer-${RUNNING.runId}-train-2`, state: 'RUNNING', startTime: T0 + 10_000, labels: labels('train', 2) },
  ];

  test('the session file is 0600, lists the runs it started, and only its writer removes it', () => {
    const h = mkdtempSync(join(tmpdir(), 'sentinel-status-'));
    try {
      const mine = writeSessionFile(h, { dashboardUrl: 'http://127.0.0.1:1', dashboardToken: TOKEN, servePort: 8123 });
      assert.equal(statSync(sessionFilePath(h)).mode & 0o777, 0o600);
      addSessionRun(h, mine.id, 'r000000ddd');
      assert.deepEqual(liveSessionFile(h)?.runs, ['r000000ddd']);
      removeSessionFile(h, 'someone-else');
      assert.ok(existsSync(sessionFilePath(h)), 'a live session\'s file is not another\'s to remove');
      removeSessionFile(h, mine.id);
      assert.equal(existsSync(sessionFilePath(h)), false);
    } finally {
      rmSync(h, { recursive: true, force: true });
    }
  });

  test('while live: the run is RUNNING, stages from Ray\'s jobs (attempts, times), the dashboard, serving replicas; never the token', async () => {
    const s = writeSessionFile(home, { dashboardUrl: 'http://127.0.0.1:1', dashboardToken: TOKEN, servePort: 8123, mlflowUri: 'http://127.0.0.1:5999' });
    try {
      addSessionRun(home, s.id, RUNNING.runId);
      const seen: string[] = [];
      const h = new LocalRunHistory({
        home,
        probe: async (d) => (seen.push(d.token ?? ''), true),
        connect: (d) => (seen.push(d.token ?? ''), { compute: fakeCompute(jobs), serving: fakeServing }),
      });
      const live = (await h.live()) as LiveView;
      assert.equal(live.pid, process.pid);
      const rows = listRuns(await h.listRuns(), { status: 'running' }, live, NOW);
      assert.deepEqual(rows.map((r) => r.runId), [RUNNING.runId]);
      assert.ok(rows[0]!.durationSeconds! > 0, 'a running run\'s duration runs to now');

      const v = await runStatus(h, RUNNING, NOW);
      assert.equal(v.status, 'RUNNING');
      assert.deepEqual(v.stages.map((x) => x.state), ['SUCCEEDED', 'RUNNING', 'PENDING', 'PENDING']);
      assert.equal(v.stages[1]!.attempt, 2);
      assert.equal(v.stages[1]!.attempts, 2);
      assert.equal(v.stages[1]!.startedAt, new Date(T0 + 10_000).toISOString());
      assert.equal(v.stages[0]!.seconds, 5);
      assert.equal(v.live?.dashboardUrl, 'http://127.0.0.1:1');
      assert.equal(v.live?.dashboardAnswers, true);
      assert.equal(v.live?.serving?.replicas?.running, 2);
      assert.equal(v.live?.serving?.endpoint, 'http://127.0.0.1:8123/predict');
      assert.deepEqual(seen.filter((t) => t !== TOKEN), [], 'the session\'s token reaches the dashboard');
      assert.doesNotMatch(JSON.stringify(v), new RegExp(TOKEN), 'and nothing else');

      // A tracked run's MLflow link follows the live session's server (the same store on another port).
      const p = await runStatus(h, PROMOTED, NOW);
      assert.ok(p.tracking && 'liveUrl' in p.tracking && p.tracking.liveUrl?.startsWith('http://127.0.0.1:5999/'));
    } finally {
      removeSessionFile(home, s.id);
    }
  });

  test('a stale session file (its pid is dead) is ignored', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
    writeFileSync(sessionFilePath(home), JSON.stringify({ id: 'x', pid: dead, startedAt: at(0), dashboardUrl: 'http://127.0.0.1:1', servePort: 1, runs: [RUNNING.runId] }), { mode: 0o600 });
    try {
      const h = new LocalRunHistory({ home, probe: async () => assert.fail('a stale session is not probed') });
      assert.equal(await h.live(), undefined);
      const v = await runStatus(h, RUNNING, NOW);
      assert.equal(v.status, 'INTERRUPTED');
      assert.equal(v.live, undefined);
    } finally {
      rmSync(sessionFilePath(home), { force: true });
    }
  });
});

describe('the commands', () => {
  /** Runs a command in-process with stdout and stderr captured. */
  const run = async (fn: (args: string[], now?: number) => Promise<number>, ...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const [o, e] = [process.stdout.write, process.stderr.write];
    process.stdout.write = ((c: string) => (out.push(String(c)), true)) as typeof process.stdout.write;
    process.stderr.write = ((c: string) => (err.push(String(c)), true)) as typeof process.stderr.write;
    try {
      const code = await fn(args, NOW);
      return { code, out: out.join(''), err: err.join('') };
    } finally {
      process.stdout.write = o;
      process.stderr.write = e;
    }
  };

  test('exit codes: 0 listed / found, 1 failed or not found (naming ids to try), 2 usage; --json is JSON', async () => {
    assert.equal((await run(runsCommand, '--help')).code, 0);
    const listed = await run(runsCommand, '--home', home, '--json', '--pipeline', 'breast-cancer');
    assert.equal(listed.code, 0, listed.err);
    assert.deepEqual((JSON.parse(listed.out) as Array<{ runId: string }>).map((r) => r.runId), ['r000000ddd', 'r000000ccc', 'r000000bbb', 'r000000aaa']);
    const table = await run(runsCommand, '--home', home);
    assert.equal(table.code, 0);
    assert.ok(['r000000ddd', 'r000000eee', 'r000000ccc', 'r000000bbb', 'r000000aaa'].every((id) => table.out.includes(id)));
    assert.equal((await run(runsCommand, '--home', home, '--since', 'soon')).code, 2);
    assert.equal((await run(runsCommand, '--home', home, '--status', 'great')).code, 2);
    assert.equal((await run(runsCommand, '--home', home, '--what')).code, 2);
    assert.equal((await run(runsCommand, '--home', join(home, 'nothing-here'))).code, 1);

    const ok = await run(statusCommand, PROMOTED.runId, '--home', home, '--json');
    assert.equal(ok.code, 0, ok.err);
    assert.equal((JSON.parse(ok.out) as { gate: { decision: string } }).gate.decision, 'PROMOTE');
    const text = await run(statusCommand, KEPT.runId, '--home', home);
    assert.equal(text.code, 0);
    assert.ok(text.out.includes(PROMOTED.runId), 'names the champion');
    assert.equal((await run(statusCommand, FAILED.runId, '--home', home)).code, 1, 'a failed run');
    const missing = await run(statusCommand, 'r000000ccx', '--home', home);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /r000000ccc/, 'the nearest id');
    assert.match(missing.err, /sentinel runs/);
    assert.equal((await run(statusCommand, '--home', home)).code, 2);
    assert.equal((await run(statusCommand, 'a', 'b', '--home', home)).code, 2);
    assert.equal((await run(statusCommand, '--bogus')).code, 2);
    assert.equal((await run(statusCommand, '--help')).code, 0);
  });
});
