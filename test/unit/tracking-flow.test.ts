// The control plane's side of experiment tracking and the model registry (core/tracking.ts and the states that use
// it), against an in-memory MLflow: what ends up in the tracking server (runs, tags, params, versions, the
// `champion` alias) and what the run sees back. The real server is in test/e2e/mlflow.test.ts.
import { memoryCas } from '../support/fakes.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelVersionInfo, ObjectInfo, ObjectStore, TrackingPort, TrackingRun } from '../../core/ports.js';
import type { Champion, ChampionRecord, RunContext, StageSummaries } from '../../core/model.js';
import { validateSpec } from '../../core/spec.js';
import { runIdFor } from '../../core/run-id.js';
import { notePipelineRun, openPipelineRun, readChampion, registerChampion, registryChampion, TRACKING_OFF_NOTE } from '../../core/tracking.js';
import { prepareRun } from '../../core/prepare-run.js';
import { evaluateGate } from '../../core/evaluate-gate.js';
import { finishRun } from '../../core/finish-run.js';
import { promote, restoreChampion, rollback } from '../../core/promote.js';
import { referenceSpec } from '../support/reference.js';

/** An MLflow server in memory; filters are the `tags.\`k\` = 'v'` conjunctions core writes. */
class MemoryMlflow implements TrackingPort {
  readonly uri = 'http://mlflow.test:5000/';
  experiments = new Map<string, string>();
  runs: Array<TrackingRun & { experimentId: string; params: Record<string, string>; ended?: string }> = [];
  models = new Map<string, { description: string; versions: ModelVersionInfo[] }>();
  aliases = new Map<string, string>();
  calls: string[] = [];
  failing = false;
  private check(call: string) {
    this.calls.push(call);
    if (this.failing) throw new Error('connection refused');
  }
  async experimentId(name: string) {
    this.check('experimentId');
    if (!this.experiments.has(name)) this.experiments.set(name, String(this.experiments.size + 1));
    return this.experiments.get(name)!;
  }
  async findRuns(experimentId: string, filter: string, maxResults = 100) {
    this.check('findRuns');
    const clauses = [...filter.matchAll(/tags\.`([^`]+)` = '((?:[^'\\]|\\.)*)'/g)].map((m) => [m[1]!, m[2]!.replace(/\\'/g, "'")] as const);
    assert.ok(clauses.length > 0, `a filter core can write: ${filter}`);
    return this.runs.filter((r) => r.experimentId === experimentId && clauses.every(([k, v]) => r.tags[k] === v)).slice(0, maxResults);
  }
  async createRun(experimentId: string, name: string, tags: Record<string, string>) {
    this.check('createRun');
    const runId = `mlrun${this.runs.length + 1}`;
    this.runs.push({ runId, name, status: 'RUNNING', tags: { ...tags }, experimentId, params: {} });
    return runId;
  }
  async log(runId: string, data: { params?: Record<string, string>; tags?: Record<string, string> }) {
    this.check('log');
    const r = this.runs.find((x) => x.runId === runId)!;
    Object.assign(r.params, data.params);
    Object.assign(r.tags, data.tags);
  }
  async endRun(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED') {
    this.check('endRun');
    this.runs.find((x) => x.runId === runId)!.ended = status;
  }
  async ensureModel(name: string, description: string) {
    this.check('ensureModel');
    if (!this.models.has(name)) this.models.set(name, { description, versions: [] });
  }
  async versions(model: string) {
    this.check('versions');
    return this.models.get(model)?.versions ?? [];
  }
  async createVersion(req: { model: string; source: string; runId: string; tags: Record<string, string>; description?: string }) {
    this.check('createVersion');
    const m = this.models.get(req.model)!;
    const v: ModelVersionInfo = { model: req.model, version: String(m.versions.length + 1), source: req.source, runId: req.runId, tags: { ...req.tags }, aliases: [] };
    m.versions.push(v);
    return v;
  }
  async setAlias(model: string, alias: string, version: string) {
    this.check('setAlias');
    this.aliases.set(`${model}@${alias}`, version);
  }
  async byAlias(model: string, alias: string) {
    this.check('byAlias');
    const version = this.aliases.get(`${model}@${alias}`);
    return this.models.get(model)?.versions.find((v) => v.version === version);
  }
  run(runId: string) {
    return this.runs.find((r) => r.runId === runId)!;
  }
}

class MemoryStore implements ObjectStore {
  readonly data = new Map<string, unknown>();
  readonly getJsonVersioned = memoryCas(this.data).getJsonVersioned;
  readonly putJsonIf = memoryCas(this.data).putJsonIf;
  readonly heads = new Map<string, ObjectInfo>();
  async getJson<T>(uri: string) {
    return structuredClone(this.data.get(uri)) as T | undefined;
  }
  async getText(uri: string) {
    const v = this.data.get(uri);
    return v === undefined ? undefined : JSON.stringify(v);
  }
  async putJson(uri: string, value: unknown) {
    this.data.set(uri, structuredClone(value));
  }
  async head(uri: string) {
    return this.heads.get(uri);
  }
  async list() {
    return [];
  }
}

const ROOT = 's3://bkt/artifacts';
const spec = validateSpec(referenceSpec());
const RUN_ID = runIdFor(spec.name, { kind: 'manual', requestId: 'x' });
const DATASET = 's3://bkt/datasets/breast-cancer/d.csv';
const run = (extra: Partial<RunContext> = {}): RunContext => ({
  pipeline: spec.name,
  runId: RUN_ID,
  trigger: { kind: 'manual', requestId: 'x' },
  artifactRoot: ROOT,
  datasetUri: DATASET,
  spec,
  requestedAt: '2024-06-01T00:00:00.000Z',
  ...extra,
});
const now = () => new Date('2024-06-01T01:00:00Z');
const CHAMPION_URI = `${ROOT}/breast-cancer/champion.json`;
const champion = (runId: string, value: number, extra: Partial<Champion> = {}): Champion => ({
  runId,
  modelUri: `s3://m/${runId}`,
  metric: 'roc_auc',
  value,
  promotedAt: '2024-05-01T00:00:00.000Z',
  serveConfig: { name: 'breast-cancer' },
  ...extra,
});
const tracked = (ml: MemoryMlflow, parentRunId: string): RunContext['tracking'] => ({ uri: ml.uri, experimentId: '1', parentRunId, url: 'u' });

test('the pipeline run: opened once per Sentinel run with its lineage and the spec as params; a redelivery finds it', async () => {
  const ml = new MemoryMlflow();
  const r = run({ datasetEtag: 'etag-1', trigger: { kind: 'schedule', schedule: 'nightly', time: 't' } });
  const t = await openPipelineRun(ml, r);
  assert.equal(ml.runs.length, 1);
  const created = ml.run(t.parentRunId);
  assert.deepEqual([created.name, ml.experiments.get('breast-cancer')], [RUN_ID, t.experimentId], 'named after the run, in the pipeline\'s experiment');
  for (const [k, v] of Object.entries({
    'sentinel.kind': 'pipeline-run',
    'sentinel.runId': RUN_ID,
    'sentinel.pipeline': 'breast-cancer',
    'sentinel.executionName': `breast-cancer-${RUN_ID}`,
    'sentinel.image': spec.image,
    'sentinel.datasetUri': DATASET,
    'sentinel.trigger': 'schedule',
    'sentinel.datasetEtag': 'etag-1',
    'mlflow.source.type': 'JOB',
    'mlflow.source.name': `sentinel breast-cancer-${RUN_ID}`,
  })) assert.equal(created.tags[k], v, k);
  assert.match(created.tags['mlflow.note.content']!, new RegExp(RUN_ID));
  assert.equal(created.params['gate.metric'], spec.gate.metric);
  for (const k of ['task', 'model.module', 'dataset.target', 'dataset.split.test', 'train.iterations', 'train.numWorkers', 'tune.numSamples', 'tune.maxIterations', 'gate.mode'])
    assert.ok(k in created.params, `param ${k}`);
  assert.ok(Object.keys(created.params).some((k) => k.startsWith('tune.searchSpace.')));
  assert.equal(created.params['task'], spec.task);
  assert.deepEqual(t, { uri: ml.uri, experimentId: t.experimentId, parentRunId: t.parentRunId, url: `http://mlflow.test:5000/#/experiments/${t.experimentId}/runs/${t.parentRunId}` });

  const logs = ml.calls.filter((c) => c === 'log').length;
  assert.deepEqual(await openPipelineRun(ml, r), t, 'the same run again');
  assert.equal(ml.runs.length, 1);
  assert.equal(ml.calls.filter((c) => c === 'log').length, logs, 'nothing logged twice');
  // Another Sentinel run of the same pipeline gets its own; without a dataset etag there is no etag tag.
  const other = await openPipelineRun(ml, run({ runId: 'r000000abc' }));
  assert.notEqual(other.parentRunId, t.parentRunId);
  assert.equal('sentinel.datasetEtag' in ml.run(other.parentRunId).tags, false);
});

test('prepare: a tracking server opens the pipeline run; none, or one that fails, leaves the run untracked with the reason', async () => {
  const store = new MemoryStore();
  store.heads.set(DATASET, { uri: DATASET, size: 10, etag: 'e1', lastModified: 0 });
  const ml = new MemoryMlflow();
  const on = await prepareRun(run(), { store, now, tracking: ml });
  assert.ok(on.tracking && 'parentRunId' in on.tracking);
  assert.equal(ml.run(on.tracking.parentRunId).tags['sentinel.datasetEtag'], 'e1');
  // Already tracked (a redelivery carrying the tracking): nothing new is opened.
  const again = await prepareRun(on, { store, now, tracking: ml });
  assert.deepEqual(again.tracking, on.tracking);
  assert.equal(ml.runs.length, 1);
  // Three runs prepared side by side: room for all of them (the run-slot queue is core/run-slots.ts's test).
  const three = { ...spec, maxConcurrentRuns: 3 };
  const off = await prepareRun(run({ runId: 'r000000abc', spec: three }), { store, now });
  assert.deepEqual(off.tracking, { off: TRACKING_OFF_NOTE });
  ml.failing = true;
  const failed = await prepareRun(run({ runId: 'r000000abd', spec: three }), { store, now, tracking: ml });
  assert.ok(failed.tracking && 'off' in failed.tracking);
  assert.match(failed.tracking.off, /mlflow\.test/);
  assert.match(failed.tracking.off, /connection refused/);
});

test('noting the pipeline run: tags and the end go to a tracked run; an untracked run calls nothing', async () => {
  const ml = new MemoryMlflow();
  const id = await ml.createRun('1', 'x', {});
  await notePipelineRun(ml, run({ tracking: tracked(ml, id) }), { a: '1' });
  assert.deepEqual([ml.run(id).tags, ml.run(id).ended], [{ a: '1' }, undefined]);
  assert.equal(ml.calls.includes('endRun'), false, 'not ended without an end');
  await notePipelineRun(ml, run({ tracking: tracked(ml, id) }), { b: '2' }, 'FAILED');
  assert.deepEqual([ml.run(id).tags, ml.run(id).ended], [{ a: '1', b: '2' }, 'FAILED']);
  const calls = ml.calls.length;
  await notePipelineRun(ml, run({ tracking: { off: 'x' } }), { c: '3' }, 'FINISHED');
  await notePipelineRun(ml, run(), { c: '3' }, 'FINISHED');
  assert.equal(ml.calls.length, calls);
});

test('registering a champion: one version per Sentinel run, from the MLflow run that logged its model, and the alias on it', async () => {
  const ml = new MemoryMlflow();
  const exp = await ml.experimentId('breast-cancer');
  const producer = await ml.createRun(exp, 'train', { 'sentinel.modelUri': 's3://m/r1' });
  const c1 = champion('r1', 0.91);
  const reg = await registerChampion(ml, 'breast-cancer', c1);
  assert.deepEqual(reg, { model: 'breast-cancer', version: '1' });
  const [v1] = ml.models.get('breast-cancer')!.versions;
  assert.deepEqual([v1!.source, v1!.runId], [`runs:/${producer}/model`, producer]);
  assert.deepEqual(v1!.tags, { 'sentinel.runId': 'r1', 'sentinel.modelUri': 's3://m/r1', 'sentinel.metric': 'roc_auc', 'sentinel.value': '0.91', 'sentinel.promotedAt': c1.promotedAt });
  assert.equal(ml.aliases.get('breast-cancer@champion'), '1');
  assert.match(ml.models.get('breast-cancer')!.description, /breast-cancer/);
  assert.deepEqual(await registryChampion(ml, 'breast-cancer'), { model: 'breast-cancer', version: '1', runId: 'r1', modelUri: 's3://m/r1', metric: 'roc_auc', value: 0.91 });

  // A model folder whose URI has a quote is still found by it.
  const quoted = await ml.createRun(exp, 'train', { 'sentinel.modelUri': "s3://m/it's" });
  await registerChampion(ml, 'breast-cancer', champion('rq', 0.5, { modelUri: "s3://m/it's" }));
  assert.equal(ml.models.get('breast-cancer')!.versions.at(-1)!.source, `runs:/${quoted}/model`);
  await ml.setAlias('breast-cancer', 'champion', '1');
  ml.models.get('breast-cancer')!.versions.pop();

  // Idempotent: the same champion again finds its version.
  assert.deepEqual(await registerChampion(ml, 'breast-cancer', c1), reg);
  assert.equal(ml.models.get('breast-cancer')!.versions.length, 1);

  // No run logged the model: the version comes from the pipeline run, or from one opened for it (tracking was off).
  const parent = await ml.createRun(exp, 'r2', { 'sentinel.kind': 'pipeline-run', 'sentinel.runId': 'r2' });
  assert.deepEqual(await registerChampion(ml, 'breast-cancer', champion('r2', 0.92)), { model: 'breast-cancer', version: '2' });
  assert.equal(ml.models.get('breast-cancer')!.versions[1]!.source, `runs:/${parent}/model`);
  const runsBefore = ml.runs.length;
  await registerChampion(ml, 'breast-cancer', champion("r'3", 0.93));
  assert.equal(ml.runs.length, runsBefore + 1, 'a run opened for it');
  const opened = ml.runs.at(-1)!;
  assert.deepEqual([opened.tags['sentinel.kind'], opened.tags['sentinel.runId'], opened.tags['sentinel.pipeline']], ['pipeline-run', "r'3", 'breast-cancer']);
  assert.equal(ml.models.get('breast-cancer')!.versions[2]!.source, `runs:/${opened.runId}/model`);
  assert.equal(ml.aliases.get('breast-cancer@champion'), '3');
});

test("the registry's champion: a version without Sentinel's tags is none; metric and value only when recorded", async () => {
  const ml = new MemoryMlflow();
  assert.equal(await registryChampion(ml, 'breast-cancer'), undefined, 'no model yet');
  await ml.ensureModel('breast-cancer', 'd');
  const bare = await ml.createVersion({ model: 'breast-cancer', source: 's', runId: 'x', tags: { 'sentinel.runId': 'r1' } });
  await ml.setAlias('breast-cancer', 'champion', bare.version);
  assert.equal(await registryChampion(ml, 'breast-cancer'), undefined, 'no model folder');
  const noRun = await ml.createVersion({ model: 'breast-cancer', source: 's', runId: 'x', tags: { 'sentinel.modelUri': 's3://m' } });
  await ml.setAlias('breast-cancer', 'champion', noRun.version);
  assert.equal(await registryChampion(ml, 'breast-cancer'), undefined, 'no Sentinel run');
  const partial = await ml.createVersion({ model: 'breast-cancer', source: 's', runId: 'x', tags: { 'sentinel.runId': 'r1', 'sentinel.modelUri': 's3://m', 'sentinel.value': 'n/a' } });
  await ml.setAlias('breast-cancer', 'champion', partial.version);
  assert.deepEqual(await registryChampion(ml, 'breast-cancer'), { model: 'breast-cancer', version: partial.version, runId: 'r1', modelUri: 's3://m' });
});

test('reading the champion: champion.json without tracking; the registry with it, set from champion.json when the two differ', async () => {
  const record: ChampionRecord = { pipeline: 'breast-cancer', current: champion('r1', 0.9) };
  assert.deepEqual(await readChampion(record, undefined, 'breast-cancer'), { runId: 'r1', modelUri: 's3://m/r1', value: 0.9, source: 'champion.json' });
  assert.equal(await readChampion(undefined, undefined, 'breast-cancer'), undefined);
  const ml = new MemoryMlflow();
  assert.equal(await readChampion(undefined, ml, 'breast-cancer'), undefined, 'neither has one');

  // The registry has none yet: set from champion.json, said so.
  const set = await readChampion(record, ml, 'breast-cancer');
  assert.deepEqual({ ...set, note: undefined }, { runId: 'r1', modelUri: 's3://m/r1', value: 0.9, source: 'registry', version: '1', note: undefined });
  assert.match(set!.note!, /unset/);
  assert.equal(ml.aliases.get('breast-cancer@champion'), '1');
  // Now they agree: read from the registry, no note.
  assert.deepEqual(await readChampion(record, ml, 'breast-cancer'), { runId: 'r1', modelUri: 's3://m/r1', value: 0.9, source: 'registry', version: '1' });
  // champion.json moved on (the registry was down at a promotion): champion.json wins and the alias follows.
  const moved: ChampionRecord = { pipeline: 'breast-cancer', current: champion('r2', 0.95), previous: record.current };
  const fixed = await readChampion(moved, ml, 'breast-cancer');
  assert.deepEqual([fixed!.runId, fixed!.source, fixed!.version], ['r2', 'registry', '2']);
  assert.match(fixed!.note!, /r1/);
  assert.equal(ml.aliases.get('breast-cancer@champion'), '2');
  // Only the registry knows one (no champion.json): its value; without a recorded value, NaN (no comparison).
  assert.deepEqual(await readChampion(undefined, ml, 'breast-cancer'), { runId: 'r2', modelUri: 's3://m/r2', value: 0.95, source: 'registry', version: '2' });
  ml.models.get('breast-cancer')!.versions[1]!.tags['sentinel.value'] = 'x';
  assert.ok(Number.isNaN((await readChampion(undefined, ml, 'breast-cancer'))!.value));
  assert.equal((await readChampion(moved, ml, 'breast-cancer'))!.value, 0.95, "champion.json's value when the registry has none");
  // The registry down: champion.json, with the reason.
  ml.failing = true;
  const down = await readChampion(moved, ml, 'breast-cancer');
  assert.deepEqual([down!.runId, down!.source], ['r2', 'champion.json']);
  assert.match(down!.note!, /connection refused/);
});

const stages = (candidate: number, championScore?: number, scoredRunId?: string): StageSummaries => ({
  train: { stage: 'train', jobId: 'j1', attempt: 1, metrics: { [`validation_${spec.gate.metric}`]: 0.9 }, artifacts: { model: 's3://m/train' } },
  tune: { stage: 'tune', jobId: 'j2', attempt: 1, metrics: { [`validation_${spec.gate.metric}`]: 0.8 }, artifacts: { model: 's3://m/tune' } },
  evaluate: {
    stage: 'evaluate',
    jobId: 'j3',
    attempt: 1,
    metrics: { [`candidate_${spec.gate.metric}`]: candidate, ...(championScore === undefined ? {} : { [`champion_${spec.gate.metric}`]: championScore }) },
    artifacts: {},
    ...(scoredRunId ? { details: { champion: { runId: scoredRunId } } } : {}),
  },
}) as unknown as StageSummaries;

test("the gate: the champion's fresh score counts only when the evaluate job scored that champion; the decision lands on the pipeline run", async () => {
  const store = new MemoryStore();
  store.data.set(CHAMPION_URI, { pipeline: 'breast-cancer', current: champion('r1', 0.5, { metric: spec.gate.metric }) } satisfies ChampionRecord);
  const ml = new MemoryMlflow();
  const parent = await ml.createRun('1', 'p', {});
  const r = run({ tracking: tracked(ml, parent) });
  // Scored r1 (the champion read): its fresh 0.99 beats the candidate.
  const kept = await evaluateGate({ run: r, stages: stages(0.9, 0.99, 'r1') }, { store, tracking: ml });
  assert.equal(kept.promote, false);
  assert.deepEqual([kept.championRunId, kept.championSource, kept.championVersion], ['r1', 'registry', '1']);
  assert.match(kept.championNote!, /champion\.json/);
  assert.equal(ml.run(parent).tags['sentinel.gate'], 'KEEP');
  assert.equal(ml.run(parent).tags['sentinel.gate.reason'], kept.reason);
  // Scored another run: the champion's recorded 0.5 counts, the candidate wins.
  const promoted = await evaluateGate({ run: r, stages: stages(0.9, 0.99, 'r-other') }, { store, tracking: ml });
  assert.equal(promoted.promote, true);
  assert.equal(ml.run(parent).tags['sentinel.gate'], 'PROMOTE');
  assert.equal('championNote' in promoted, false, 'registry and champion.json agree now');
  // Without tracking: champion.json, no version, no note, nothing sent anywhere.
  const calls = ml.calls.length;
  const plain = await evaluateGate({ run: r, stages: stages(0.9, 0.99) }, { store });
  assert.deepEqual([plain.promote, plain.championSource, 'championVersion' in plain, 'championNote' in plain], [false, 'champion.json', false, false]);
  assert.equal(ml.calls.length, calls);
  // A tracking server that fails does not fail the gate.
  ml.failing = true;
  const down = await evaluateGate({ run: r, stages: stages(0.9, 0.99, 'r1') }, { store, tracking: ml });
  assert.deepEqual([down.promote, down.championSource], [false, 'champion.json']);
});

test('finishing: the pipeline run ends FINISHED or FAILED with the outcome as tags; a failing server does not fail the run', async () => {
  const ml = new MemoryMlflow();
  const compute = { list: async () => [], stop: async () => undefined } as never;
  const tokens = { delete: async () => undefined } as never;
  const deps = (store = new MemoryStore()) => ({ store, compute, tokens, now, tracking: ml });
  const ok = await ml.createRun('1', 'ok', {});
  await finishRun({ run: run({ tracking: tracked(ml, ok) }), end: { status: 'SUCCEEDED', promoted: true, reason: 'r' } }, deps());
  assert.deepEqual([ml.run(ok).ended, ml.run(ok).tags], ['FINISHED', { 'sentinel.status': 'SUCCEEDED' }]);
  const bad = await ml.createRun('1', 'bad', {});
  const cause = 'x'.repeat(6000);
  await finishRun({ run: run({ tracking: tracked(ml, bad) }), end: { status: 'FAILED', error: 'RayJobFailed', cause, failedAt: 'Train' } }, deps());
  const t = ml.run(bad).tags;
  assert.equal(ml.run(bad).ended, 'FAILED');
  assert.deepEqual([t['sentinel.status'], t['sentinel.failedAt']], ['FAILED', 'Train']);
  assert.equal(t['sentinel.error'], `RayJobFailed: ${cause}`.slice(0, 5000), 'error and cause, cut to 5,000 characters');
  const noStage = await ml.createRun('1', 'nostage', {});
  await finishRun({ run: run({ tracking: tracked(ml, noStage) }), end: { status: 'FAILED', error: 'E', cause: 'c' } }, deps());
  assert.deepEqual(ml.run(noStage).tags, { 'sentinel.status': 'FAILED', 'sentinel.error': 'E: c' });
  ml.failing = true;
  const res = await finishRun({ run: run({ tracking: tracked(ml, ok) }), end: { status: 'SUCCEEDED', promoted: false, reason: 'r' } }, deps());
  assert.equal(res.status, 'SUCCEEDED');
});

test('promotion with a registry: the version lands in champion.json and on the pipeline run; a failing registry is reported, not fatal', async () => {
  const clock = { now: () => 0, sleep: async () => undefined };
  const running = (runId: string) => ({ apply: async () => undefined, status: async () => ({ state: 'RUNNING' as const, runId }), endpoint: (_p: string, route: string) => `http://serve${route}` });
  const store = new MemoryStore();
  const ml = new MemoryMlflow();
  const parent = await ml.createRun('1', 'p', {});
  const r = run({ tracking: tracked(ml, parent) });
  const res = await promote({ run: r, modelUri: 's3://m/new', value: 0.97 }, { serving: running(RUN_ID), store, clock, now, tracking: ml });
  assert.deepEqual(res.registry, { model: 'breast-cancer', version: '1' });
  assert.equal(res.registryError, undefined);
  const rec = (await store.getJson<ChampionRecord>(CHAMPION_URI))!;
  assert.deepEqual(rec.current.registry, { model: 'breast-cancer', version: '1' });
  assert.deepEqual([ml.run(parent).tags['sentinel.promoted'], ml.run(parent).tags['sentinel.registry.version']], ['true', '1']);
  assert.equal(ml.aliases.get('breast-cancer@champion'), '1');

  // A second champion, then rollback: the alias moves back to the first one's version.
  const second = run({ runId: 'r000000abc', tracking: tracked(ml, parent) });
  await promote({ run: second, modelUri: 's3://m/second', value: 0.98 }, { serving: running('r000000abc'), store, clock, now, tracking: ml });
  assert.equal(ml.aliases.get('breast-cancer@champion'), '2');
  const back = await rollback({ artifactRoot: ROOT, pipeline: 'breast-cancer' }, { serving: running(RUN_ID), store, clock, now, tracking: ml }, 1000);
  assert.deepEqual([back.runId, back.registry], [RUN_ID, { model: 'breast-cancer', version: '1' }]);
  assert.equal(ml.aliases.get('breast-cancer@champion'), '1');

  // Restoring on a fresh head: the registry follows the record; champion.json is rewritten only for a new version.
  ml.aliases.clear();
  const restored = await restoreChampion({ artifactRoot: ROOT, pipeline: 'breast-cancer' }, { serving: running(RUN_ID), store, clock, now, tracking: ml }, 1000);
  assert.deepEqual([restored!.runId, restored!.registry], [RUN_ID, { model: 'breast-cancer', version: '1' }]);
  assert.equal(ml.aliases.get('breast-cancer@champion'), '1');
  const plainStore = new MemoryStore();
  plainStore.data.set(CHAMPION_URI, { pipeline: 'breast-cancer', current: champion('r9', 0.9) } satisfies ChampionRecord);
  const synced = await restoreChampion({ artifactRoot: ROOT, pipeline: 'breast-cancer' }, { serving: running('r9'), store: plainStore, clock, now, tracking: ml }, 1000);
  assert.deepEqual(synced!.registry, { model: 'breast-cancer', version: '3' });
  assert.deepEqual((await plainStore.getJson<ChampionRecord>(CHAMPION_URI))!.current.registry, { model: 'breast-cancer', version: '3' }, 'the new version recorded');

  // The registry down: serving and champion.json still switch; the error is in the result.
  ml.failing = true;
  const third = run({ runId: 'r000000abd', tracking: tracked(ml, parent) });
  const down = await promote({ run: third, modelUri: 's3://m/third', value: 0.99 }, { serving: running('r000000abd'), store, clock, now, tracking: ml });
  assert.match(down.registryError!, /connection refused/);
  assert.equal('registry' in down, false);
  assert.equal((await store.getJson<ChampionRecord>(CHAMPION_URI))!.current.runId, 'r000000abd');
  assert.equal((await store.getJson<ChampionRecord>(CHAMPION_URI))!.current.registry, undefined);
});
