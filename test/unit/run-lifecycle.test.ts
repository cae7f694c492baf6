// The core steps of a run through their ports, with in-memory doubles: start, prepare, the watcher, the gate,
// promotion (and rollback), and the run's end. What is written, started, stopped, published and returned.
import { memoryCas, MemoryTokens } from '../support/fakes.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRun } from '../../core/start-run.js';
import { prepareRun } from '../../core/prepare-run.js';
import { watchJobs } from '../../core/watch-jobs.js';
import { evaluateGate } from '../../core/evaluate-gate.js';
import { promote, restoreChampion, rollback, waitUntilServing } from '../../core/promote.js';
import { finishRun } from '../../core/finish-run.js';
import { parseRunContext } from '../../core/run-input.js';
import { validateSpec } from '../../core/spec.js';
import { runIdFor } from '../../core/run-id.js';
import type { BusEvent, CallbackResult, Clock, ComputePort, ObjectInfo, ObjectStore, ServeStatus, ServingPort } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import type { ChampionRecord, RunContext, StageSummary } from '../../core/model.js';
import type { ServeConfig } from '../../core/serve-config.js';
import { referenceSpec } from '../support/reference.js';

const ROOT = 's3://bkt/artifacts';
const spec = validateSpec(referenceSpec());
const RUN_ID = runIdFor(spec.name, { kind: 'manual', requestId: 'x' });
const run = (extra: Partial<RunContext> = {}): RunContext => ({
  pipeline: spec.name,
  runId: RUN_ID,
  trigger: { kind: 'manual', requestId: 'x' },
  artifactRoot: ROOT,
  datasetUri: 's3://bkt/datasets/breast-cancer/d.csv',
  spec,
  requestedAt: '2024-06-01T00:00:00.000Z',
  ...extra,
});
const now = () => new Date('2024-06-01T01:00:00Z');
/** Every field of `expected` is in `actual` with that value (other fields may be there too). */
const assertIncludes = (actual: unknown, expected: Record<string, unknown>) => {
  for (const [k, v] of Object.entries(expected)) assert.deepEqual((actual as Record<string, unknown>)[k], v, k);
};

class MemoryStore implements ObjectStore {
  readonly data = new Map<string, unknown>();
  readonly getJsonVersioned = memoryCas(this.data).getJsonVersioned;
  readonly putJsonIf = memoryCas(this.data).putJsonIf;
  readonly heads = new Map<string, ObjectInfo>();
  readonly writes: string[] = [];
  async getJson<T>(uri: string) {
    return this.data.get(uri) as T | undefined;
  }
  async getText(uri: string) {
    const v = this.data.get(uri);
    return v === undefined ? undefined : JSON.stringify(v);
  }
  async putJson(uri: string, value: unknown) {
    this.writes.push(uri);
    this.data.set(uri, structuredClone(value));
  }
  async head(uri: string) {
    return this.heads.get(uri);
  }
  async list() {
    return [];
  }
}
test('start: one execution named from pipeline and run id, with the validated run as input', async () => {
  const started: Array<[string, unknown]> = [];
  const executions = { start: async (name: string, input: unknown) => (started.push([name, input]), { executionId: `arn:${name}`, alreadyStarted: started.length > 1 }) };
  const res = await startRun({ spec: referenceSpec(), trigger: { kind: 'manual', requestId: 'x' }, artifactRoot: ROOT }, { executions, now });
  assert.equal(res.runId, RUN_ID);
  assert.equal(res.executionName, `breast-cancer-${RUN_ID}`);
  assert.deepEqual([res.executionId, res.alreadyStarted], [`arn:breast-cancer-${RUN_ID}`, false]);
  assert.deepEqual(started, [[`breast-cancer-${RUN_ID}`, { run: res.run }]]);
  assert.deepEqual(res.run, { ...run({ datasetUri: spec.dataset.uri }), requestedAt: '2024-06-01T01:00:00.000Z' });
  // An uploaded object overrides the spec's dataset; a repeat is reported as already started.
  const again = await startRun({ spec: referenceSpec(), trigger: { kind: 'manual', requestId: 'x' }, artifactRoot: ROOT, datasetUri: 's3://bkt/datasets/breast-cancer/new.csv' }, { executions, now });
  assert.equal(again.run.datasetUri, 's3://bkt/datasets/breast-cancer/new.csv');
  assert.equal(again.alreadyStarted, true);
  await assert.rejects(startRun({ spec: { name: 'x' }, trigger: { kind: 'manual', requestId: 'x' }, artifactRoot: ROOT }, { executions, now }), { name: 'ValidationFailed' });
  assert.equal(started.length, 2, 'a bad spec starts nothing');
});

test('the run input schema: every path into a run is checked the same way', () => {
  const ok = run();
  assert.deepEqual(parseRunContext(ok), ok);
  assert.deepEqual(parseRunContext({ ...ok, artifactRoot: '/srv/artifacts' }).artifactRoot, '/srv/artifacts');
  assert.deepEqual(parseRunContext({ ...ok, artifactRoot: 's3://bucket' }).artifactRoot, 's3://bucket');
  for (const trigger of [
    { kind: 's3', bucket: 'bkt', key: 'k', versionId: 'v', sequencer: 's', etag: 'e' },
    { kind: 'schedule', schedule: 'nightly', time: 't' },
  ]) assert.deepEqual(parseRunContext({ ...ok, trigger }).trigger, trigger);
  const bad: Array<Record<string, unknown>> = [
    { pipeline: 'other' },
    { pipeline: '' },
    { runId: 'r123' },
    { runId: `x${RUN_ID}` },
    { artifactRoot: 'relative/path' },
    { artifactRoot: 's3://BUCKET/x' },
    { artifactRoot: 's3://ab' },
    { artifactRoot: 'gs://bucket/x' },
    { datasetUri: '' },
    { requestedAt: '' },
    { datasetEtag: 1 },
    { extra: 1 },
    { trigger: { kind: 'manual', requestId: '' } },
    { trigger: { kind: 'manual', requestId: 'x'.repeat(129) } },
    { trigger: { kind: 'manual', requestId: 'x', extra: 1 } },
    { trigger: { kind: 's3', bucket: 'ab', key: 'k' } },
    { trigger: { kind: 's3', bucket: 'bkt', key: '' } },
    { trigger: { kind: 'schedule', schedule: '', time: 't' } },
    { trigger: { kind: 'schedule', schedule: 's', time: '' } },
    { trigger: { kind: 'webhook' } },
    { spec: { ...spec, code: 'relative/code' } },
  ];
  for (const b of bad) assert.throws(() => parseRunContext({ ...ok, ...b }), { name: 'ValidationFailed' }, JSON.stringify(b));
  assert.deepEqual(parseRunContext({ ...ok, spec: { ...spec, code: '/opt/code' } }).spec.code, '/opt/code');
  assert.deepEqual(parseRunContext({ ...ok, trigger: { kind: 'manual', requestId: 'x'.repeat(128) } }).trigger, { kind: 'manual', requestId: 'x'.repeat(128) });
  assert.throws(() => parseRunContext({ ...ok, runId: 'bad' }, 'input'), (e: Error) => e.message.startsWith('input.runId'), 'the error names the field under the given root');
});

test('prepare: the dataset must exist and not be empty; the first delivery records the run, a redelivery keeps it', async () => {
  const store = new MemoryStore();
  const recordUri = `${ROOT}/breast-cancer/${RUN_ID}/run.json`;
  await assert.rejects(prepareRun(run(), { store, now }), { name: 'ValidationFailed' });
  store.heads.set(run().datasetUri, { uri: run().datasetUri, size: 0, etag: 'e0', lastModified: 1 });
  await assert.rejects(prepareRun(run(), { store, now }), { name: 'ValidationFailed' });
  assert.deepEqual(store.writes, [], 'nothing recorded for a run that cannot start');
  store.heads.set(run().datasetUri, { uri: run().datasetUri, size: 1, etag: 'e1', lastModified: 1 });
  const prepared = await prepareRun(run(), { store, now });
  assert.equal(prepared.datasetEtag, 'e1');
  for (const [k, v] of Object.entries(run())) assert.deepEqual(prepared[k as keyof RunContext], v, k);
  assertIncludes(store.data.get(recordUri), {
    pipeline: 'breast-cancer',
    runId: RUN_ID,
    status: 'RUNNING',
    trigger: { kind: 'manual', requestId: 'x' },
    datasetUri: run().datasetUri,
    startedAt: '2024-06-01T01:00:00.000Z',
  });
  await prepareRun(run(), { store, now: () => new Date('2030-01-01T00:00:00Z') });
  assert.equal((store.data.get(recordUri) as { startedAt: string }).startedAt, '2024-06-01T01:00:00.000Z');
  assert.equal(store.writes.length, 1);
  await assert.rejects(prepareRun({ ...run(), runId: 'bad' }, { store, now }), { name: 'ValidationFailed' });
});

function computeWith(jobs: JobStatus[]) {
  const stops: string[] = [];
  const selectors: Array<Record<string, string>> = [];
  const compute = {
    backend: 'ray-jobs' as const,
    list: async (sel: Record<string, string>) => (selectors.push(sel), jobs),
    stop: async (j: string) => void stops.push(j),
  } as unknown as ComputePort;
  return { compute, stops, selectors };
}
const job = (name: string, state: JobStatus['state']): JobStatus => ({ jobId: `breast-cancer-${RUN_ID}-${name}`, state, labels: {} });

test('the watcher: an event per finished job with a waiting task, a heartbeat per running one, nothing for the rest', async () => {
  const { compute, selectors } = computeWith([job('ingest-1', 'SUCCEEDED'), job('train-1', 'RUNNING'), job('tune-1', 'PENDING'), job('evaluate-1', 'FAILED'), job('train-2', 'STOPPED'), { jobId: 'not-a-stage-job', state: 'FAILED', labels: {} }]);
  const tokens = new MemoryTokens();
  for (const j of [`ingest-1`, `train-1`, `tune-1`, `evaluate-1`]) await tokens.put(`breast-cancer-${RUN_ID}-${j}`, `tok-${j}`);
  await tokens.put('not-a-stage-job', 'tok-x');
  const beats: string[] = [];
  const published: BusEvent[][] = [];
  const res = await watchJobs({
    compute,
    tokens,
    callbacks: { heartbeat: async (t: string): Promise<CallbackResult> => (beats.push(t), t === 'tok-tune-1' ? 'gone' : 'ok'), success: async () => 'ok', failure: async () => 'ok' },
    publisher: { publish: async (e) => void published.push(e) },
    now,
    artifactRoot: ROOT,
  });
  assert.deepEqual(selectors, [{ 'app.kubernetes.io/managed-by': 'sentinel' }]);
  // In flight: the four with a task waiting and the stray job with a token; train-2 (ended, nobody waits) is not.
  assert.deepEqual(res, { listed: 6, published: 2, heartbeats: 1, stopped: [], settled: 0, inFlight: 5 });
  assert.equal(published.length, 1, 'one batch');
  assert.deepEqual(published[0]!.map((e) => (e.detail as { jobId: string; state: string }).state), ['SUCCEEDED', 'FAILED']);
  assert.deepEqual(published[0]!.map((e) => (e.detail as { artifactRoot: string }).artifactRoot), [ROOT, ROOT]);
  assert.deepEqual(beats.sort(), ['tok-train-1', 'tok-tune-1']);
  assert.equal(await tokens.get(`breast-cancer-${RUN_ID}-tune-1`), undefined, 'a gone task no longer needs its token');
  assert.equal(await tokens.get(`breast-cancer-${RUN_ID}-train-1`), 'tok-train-1');
  assert.equal(await tokens.get(`breast-cancer-${RUN_ID}-ingest-1`), 'tok-ingest-1', 'the consumer releases it, not the watcher');
  // Nothing finished: nothing published (an empty PutEvents is an error on AWS).
  const idle = computeWith([job('train-1', 'RUNNING')]);
  const none: BusEvent[][] = [];
  const r2 = await watchJobs({ compute: idle.compute, tokens, callbacks: { heartbeat: async () => 'ok', success: async () => 'ok', failure: async () => 'ok' }, publisher: { publish: async (e) => void none.push(e) }, now, artifactRoot: ROOT });
  assert.deepEqual([r2, none], [{ listed: 1, published: 0, heartbeats: 1, stopped: [], settled: 0, inFlight: 1 }, []]);
});

const summary = (stage: StageSummary['stage'], metrics: Record<string, number>, model = `${stage}-model`): StageSummary => ({
  stage, jobId: `j-${stage}`, attempt: 1, resultUri: `r/${stage}`, metrics, artifacts: { model }, jobSeconds: 1,
});
const champion = (value: number, runId = 'r0000000001'): ChampionRecord => ({
  pipeline: 'breast-cancer',
  current: { runId, modelUri: 'champ', metric: 'roc_auc', value, promotedAt: 't', serveConfig: { name: 'old' } },
});

test('the gate: the candidate against the champion scored on the same split, or its recorded value, or the floor', async () => {
  const store = new MemoryStore();
  const stages = { train: summary('train', { validation_roc_auc: 0.9 }), tune: summary('tune', { validation_roc_auc: 0.95 }), evaluate: summary('evaluate', { candidate_roc_auc: 0.96, champion_roc_auc: 0.9 }) };
  const first = await evaluateGate({ run: run(), stages }, { store });
  assert.deepEqual({ ...first, reason: '' }, { metric: 'roc_auc', candidate: 0.96, promote: true, reason: '', candidateModelUri: 'tune-model', candidateSource: 'tune' });
  store.data.set(`${ROOT}/breast-cancer/champion.json`, champion(0.99));
  const scored = await evaluateGate({ run: run(), stages }, { store });
  assert.deepEqual([scored.promote, scored.champion, scored.championRunId], [true, 0.9, 'r0000000001'], 'scored on this split, not the recorded 0.99');
  const recorded = await evaluateGate({ run: run(), stages: { ...stages, evaluate: summary('evaluate', { candidate_roc_auc: 0.96 }) } }, { store });
  assert.deepEqual([recorded.promote, recorded.champion], [false, 0.99]);
  await assert.rejects(evaluateGate({ run: run(), stages: { ...stages, evaluate: summary('evaluate', { candidate_accuracy: 1 }) } }, { store }), { name: 'ValidationFailed' });
  for (const missing of ['train', 'tune', 'evaluate'] as const) {
    const partial = { ...stages };
    delete partial[missing];
    await assert.rejects(evaluateGate({ run: run(), stages: partial }, { store }), { name: 'ValidationFailed' }, missing);
  }
});

class ScriptedServing implements ServingPort {
  readonly applied: ServeConfig[] = [];
  constructor(private readonly statuses: Array<ServeStatus | Error>) {}
  async apply(_p: string, c: ServeConfig) {
    this.applied.push(c);
  }
  async status() {
    const s = this.statuses.length > 1 ? this.statuses.shift()! : this.statuses[0]!;
    if (s instanceof Error) throw s;
    return s;
  }
  endpoint(_p: string, route: string) {
    return `http://serve${route}`;
  }
}
/** A clock that advances only when slept on. */
const fakeClock = () => {
  let t = 0;
  const sleeps: number[] = [];
  const clock: Clock = { now: () => t, sleep: async (ms) => void (sleeps.push(ms), (t += ms)) };
  return { clock, sleeps };
};

test('waiting for serving: RUNNING counts only for the new run; a failed deploy or the deadline ends the wait', async () => {
  const { clock, sleeps } = fakeClock();
  const serving = new ScriptedServing([new Error('connection refused'), { state: 'RUNNING', runId: 'old' }, { state: 'DEPLOYING', runId: 'new' }, { state: 'RUNNING', runId: 'new' }]);
  await waitUntilServing('p', 'new', { serving, clock }, 10_000, 100);
  assert.deepEqual(sleeps, [100, 100, 100], 'polled until the new config serves, errors included');
  const failed = fakeClock();
  await assert.rejects(waitUntilServing('p', 'new', { serving: new ScriptedServing([{ state: 'DEPLOY_FAILED', runId: 'new', message: 'bad' }]), clock: failed.clock }, 10_000), { name: 'PromotionFailed' });
  assert.deepEqual(failed.sleeps, [], 'a failed deploy is not waited on');
  const slow = fakeClock();
  await assert.rejects(waitUntilServing('p', 'new', { serving: new ScriptedServing([{ state: 'RUNNING', runId: 'old' }]), clock: slow.clock }, 1_000, 250), { name: 'PromotionFailed' });
  assert.deepEqual(slow.sleeps, [250, 250, 250, 250], 'up to the deadline, then no more');
  const exact = fakeClock();
  await waitUntilServing('p', 'new', { serving: new ScriptedServing([{ state: 'DEPLOYING' }, { state: 'RUNNING', runId: 'new' }]), clock: exact.clock }, 250, 250);
  assert.deepEqual(exact.sleeps, [250]);
  const def = fakeClock();
  await waitUntilServing('p', 'new', { serving: new ScriptedServing([{ state: 'DEPLOYING' }, { state: 'RUNNING', runId: 'new' }]), clock: def.clock }, 10_000);
  assert.deepEqual(def.sleeps, [250], 'polls every 250 ms by default');
});

test('promotion: applies the new config, waits for it, records champion and previous; a redelivery keeps the previous', async () => {
  const store = new MemoryStore();
  const uri = `${ROOT}/breast-cancer/champion.json`;
  store.data.set(uri, champion(0.9));
  const serving = new ScriptedServing([{ state: 'RUNNING', runId: RUN_ID }]);
  const deps = { serving, store, clock: fakeClock().clock, now };
  const r = run({ datasetEtag: 'etag-1' });
  const res = await promote({ run: r, modelUri: 's3://m/new', value: 0.97 }, deps);
  assert.deepEqual(res, { endpoint: 'http://serve/predict', championRunId: RUN_ID, previousRunId: 'r0000000001', modelUri: 's3://m/new' });
  assert.equal(serving.applied.length, 1);
  const app = serving.applied[0]!.applications[0]!;
  assert.deepEqual([serving.applied[0]!.applications.length, app.args.model_uri, app.args.run_id], [1, 's3://m/new', RUN_ID]);
  const rec = store.data.get(uri) as ChampionRecord;
  assert.deepEqual(rec, {
    pipeline: 'breast-cancer',
    current: { runId: RUN_ID, modelUri: 's3://m/new', metric: 'roc_auc', value: 0.97, promotedAt: '2024-06-01T01:00:00.000Z', serveConfig: app, dataset: { uri: r.datasetUri, etag: 'etag-1' } },
    previous: champion(0.9).current,
  });
  await promote({ run: r, modelUri: 's3://m/new', value: 0.97 }, deps);
  assert.deepEqual((store.data.get(uri) as ChampionRecord).previous, champion(0.9).current, 'the real previous champion stays');
  // The first champion has no previous; a run without an etag records no dataset.
  const fresh = new MemoryStore();
  const first = await promote({ run: run(), modelUri: 'm', value: 1 }, { ...deps, store: fresh });
  assert.equal('previousRunId' in first, false);
  const firstRec = fresh.data.get(uri) as ChampionRecord;
  assert.equal('previous' in firstRec, false);
  assert.equal('dataset' in firstRec.current, false);
  // A promotion that does not come up records nothing.
  const broken = new MemoryStore();
  await assert.rejects(promote({ run: run(), modelUri: 'm', value: 1 }, { ...deps, store: broken, serving: new ScriptedServing([{ state: 'DEPLOY_FAILED' }]) }), { name: 'PromotionFailed' });
  assert.deepEqual(broken.writes, []);
});

test('rollback swaps champion and previous after the previous serves again; restore re-applies the champion', async () => {
  const store = new MemoryStore();
  const uri = `${ROOT}/breast-cancer/champion.json`;
  const prev = { ...champion(0.9, 'r0000000001').current, serveConfig: { name: 'prev-app' } };
  const cur = { ...champion(0.95, 'r0000000002').current, serveConfig: { name: 'cur-app' } };
  store.data.set(uri, { pipeline: 'breast-cancer', current: cur, previous: prev });
  const serving = new ScriptedServing([{ state: 'RUNNING', runId: 'r0000000001' }]);
  const back = await rollback({ artifactRoot: ROOT, pipeline: 'breast-cancer' }, { serving, store, clock: fakeClock().clock, now });
  assert.deepEqual(back, prev);
  assert.deepEqual(serving.applied, [{ applications: [{ name: 'prev-app' }] }]);
  assert.deepEqual(store.data.get(uri), { pipeline: 'breast-cancer', current: prev, previous: cur });
  store.data.set(uri, { pipeline: 'breast-cancer', current: cur });
  await assert.rejects(rollback({ artifactRoot: ROOT, pipeline: 'breast-cancer' }, { serving, store, clock: fakeClock().clock, now }), { name: 'ValidationFailed' });

  const restoring = new ScriptedServing([{ state: 'RUNNING', runId: 'r0000000002' }]);
  assert.deepEqual(await restoreChampion({ artifactRoot: ROOT, pipeline: 'breast-cancer' }, { serving: restoring, store, clock: fakeClock().clock, now }), cur);
  assert.deepEqual(restoring.applied, [{ applications: [{ name: 'cur-app' }] }]);
  const nothing = new ScriptedServing([{ state: 'RUNNING' }]);
  assert.equal(await restoreChampion({ artifactRoot: ROOT, pipeline: 'other' }, { serving: nothing, store, clock: fakeClock().clock, now }), undefined);
  assert.deepEqual(nothing.applied, []);
});

test("the run's end: recorded with its outcome; a failed run releases its tokens and stops what still runs", async () => {
  const store = new MemoryStore();
  const uri = `${ROOT}/breast-cancer/${RUN_ID}/run.json`;
  store.data.set(uri, { startedAt: '2024-06-01T00:00:05.000Z' });
  const { compute, stops, selectors } = computeWith([job('train-1', 'FAILED'), job('tune-1', 'RUNNING'), job('evaluate-1', 'PENDING')]);
  const tokens = new MemoryTokens();
  for (const j of ['train-1', 'tune-1', 'evaluate-1']) await tokens.put(`breast-cancer-${RUN_ID}-${j}`, 't');
  const stages = { train: summary('train', { validation_roc_auc: 0.9 }) };
  const res = await finishRun({ run: run(), stages, end: { status: 'FAILED', error: 'RayJobFailed', cause: 'boom', failedAt: 'Train' } }, { store, compute, tokens, now });
  assert.deepEqual([res.status, res.stoppedJobs], ['FAILED', [`breast-cancer-${RUN_ID}-tune-1`, `breast-cancer-${RUN_ID}-evaluate-1`]]);
  assert.deepEqual(stops, res.stoppedJobs);
  assert.deepEqual(selectors, [{ 'sentinel.dev/pipeline': 'breast-cancer', 'sentinel.dev/run': RUN_ID }]);
  assert.equal(tokens.map.size, 0);
  assertIncludes(store.data.get(uri), {
    pipeline: 'breast-cancer',
    runId: RUN_ID,
    trigger: { kind: 'manual', requestId: 'x' },
    datasetUri: run().datasetUri,
    startedAt: '2024-06-01T00:00:05.000Z',
    endedAt: '2024-06-01T01:00:00.000Z',
    status: 'FAILED',
    outcome: { error: 'RayJobFailed', cause: 'boom', stage: 'Train' },
    stages,
  });
  // Success: nothing stopped; no record before means the run's request time is its start.
  const ok = new MemoryStore();
  const quiet = computeWith([job('tune-1', 'RUNNING')]);
  const done = await finishRun({ run: run(), end: { status: 'SUCCEEDED', promoted: true, reason: 'better' } }, { store: ok, compute: quiet.compute, tokens, now });
  assert.deepEqual([done.status, done.stoppedJobs, quiet.stops, quiet.selectors], ['SUCCEEDED', [], [], []]);
  const rec = ok.data.get(uri) as Record<string, unknown>;
  assert.deepEqual([rec.startedAt, rec.outcome, 'stages' in rec], ['2024-06-01T00:00:00.000Z', { promoted: true, reason: 'better' }, false]);
  await finishRun({ run: run(), end: { status: 'FAILED', error: 'E', cause: 'c' } }, { store: ok, compute: computeWith([]).compute, tokens, now });
  assert.deepEqual((ok.data.get(uri) as Record<string, unknown>).outcome, { error: 'E', cause: 'c' });
});
