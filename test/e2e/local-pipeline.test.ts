// End to end on real Ray: the deployable state machine on the local interpreter, a Ray head on 127.0.0.1, the real
// jobs, Ray Serve answering POST /predict. Small budgets keep it to a few minutes on 2 cores.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { LocalSession } from '../../local/session.js';
import { referenceSpec, repoRoot } from '../support/harness.js';
import { postJson, sampleRows } from '../../cli/predict.js';
import { freePort } from '../../local/ray-head.js';
import type { PipelineSpecInput } from '../../core/spec.js';
import { hasCheckpoint, spotWarning } from '../../cli/simulate.js';
import { LOCAL_INSTANCE_ID } from '../../local/local-cluster.js';
import { FAILURE_FILE, stageUri } from '../../core/artifacts.js';

const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');

function smallSpec(mutate: (s: any) => void = () => undefined): PipelineSpecInput {
  const s = referenceSpec() as any;
  s.stages.train.iterations = 20;
  s.stages.train.checkpointEvery = 5;
  Object.assign(s.stages.tune, { numSamples: 3, maxConcurrent: 2, maxIterations: 12, gracePeriod: 3 });
  mutate(s);
  return s;
}

describe('local pipeline on real Ray', () => {
  let session: LocalSession;
  let home: string;
  let port: number;
  const writeSpec = (name: string, spec: PipelineSpecInput) => {
    const p = join(home, name);
    writeFileSync(p, stringify(spec));
    return session.loadSpec(p);
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'sentinel-e2e-'));
    port = await freePort();
    session = await LocalSession.open({ home, pythonEnv, servePort: port });
  });
  after(async () => {
    await session?.close();
  });

  test('a full run ends with a served model answering POST /predict; a second run keeps a champion it does not beat', async () => {
    const spec = writeSpec('small.yaml', smallSpec());
    const dataset = await session.prepareDataset(spec);
    const first = await session.report(await session.start(spec, dataset, 'e2e-1'), spec);
    assert.equal(first.outcome.status, 'SUCCEEDED', `${first.outcome.error}: ${first.outcome.cause}`);
    assert.deepEqual(first.stages.map((s) => s.stage), ['ingest', 'train', 'tune', 'evaluate']);
    assert.equal(first.stages[0]!.metrics.rows, 569);
    assert.ok(first.stages[1]!.metrics.validation_roc_auc! > 0.9);
    assert.ok(first.stages[2]!.metrics.trials === 3);
    assert.equal(first.gate?.promote, true);
    assert.ok(first.transitions <= 40, `${first.transitions} transitions`);
    assert.ok(existsSync(join(first.artifactsDir, 'tune', 'curves.svg')));
    const manifest = JSON.parse(readFileSync(join(first.artifactsDir, 'ingest', 'manifest.json'), 'utf8'));
    assert.match(JSON.stringify(manifest), /[0-9a-f]{64}/, 'manifest carries a SHA-256 content hash');

    const url = `http://127.0.0.1:${port}/predict`;
    assert.equal(first.promotion?.endpoint, url);
    const rows = sampleRows(dataset, 'target', 5);
    const res = await postJson(url, { rows });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const body = res.body as { predictions: number[]; probabilities: number[]; model: { runId: string } };
    assert.equal(body.predictions.length, 5);
    assert.ok(body.probabilities.every((p) => p >= 0 && p <= 1));
    assert.equal(body.model.runId, first.runId);
    const bad = await postJson(url, { rows: [{ mean_radius: 'x' }] });
    assert.equal(bad.status, 400);

    // Same data, same budget: the candidate cannot beat the champion by the margin, so the champion keeps serving.
    const second = await session.report(await session.start(spec, dataset, 'e2e-2'), spec);
    assert.equal(second.outcome.status, 'SUCCEEDED');
    assert.equal(second.gate?.promote, false);
    assert.match(second.gate!.reason, /does not beat champion/);
    assert.ok(second.stages[3]!.metrics.champion_roc_auc !== undefined, 'the champion was scored on the same split');
    const still = (await postJson(url, { rows })).body as { model: { runId: string } };
    assert.equal(still.model.runId, first.runId);
  });

  test('a malformed dataset fails in ingest with ValidationFailed naming the column; nothing trains', async () => {
    const spec = writeSpec('small.yaml', smallSpec());
    const csv = join(home, 'broken.csv');
    writeFileSync(csv, ['a,b,target', ...Array.from({ length: 60 }, (_, i) => `${i},${i % 7 === 0 ? 'oops' : i},${i % 2}`)].join('\n'));
    const dataset = await session.prepareDataset(spec, csv);
    const r = await session.report(await session.start(spec, dataset, 'e2e-bad-data'), spec);
    assert.equal(r.outcome.status, 'FAILED');
    assert.equal(r.outcome.error, 'ValidationFailed');
    assert.match(r.outcome.cause!, /"?b"?/);
    const jobs = await session.runtime.compute.list({ 'sentinel.dev/run': r.runId });
    assert.deepEqual(jobs.map((j) => j.labels['sentinel.dev/stage']), ['ingest']);
    assert.equal(r.record?.status, 'FAILED');
    // The ingest job's own failure record names its attempt, and the local bucket announced it to the
    // stage-failure-written rule (the pushed failure; the watcher may answer first here, both are verified).
    const record = JSON.parse(readFileSync(join(stageUri(session.artifactRoot, spec.name, r.runId, 'ingest'), FAILURE_FILE), 'utf8'));
    assert.deepEqual([record.runId, record.stage, record.attempt, record.error], [r.runId, 'ingest', 1, 'ValidationFailed']);
    assert.match(record.reason, /^ValidationFailed: .*b/);
    const key = `artifacts/${spec.name}/${r.runId}/ingest/${FAILURE_FILE}`;
    assert.ok(session.runtime.bus.log.some((e) => e.matched.includes('stage-failure-written') && (e.event.detail as { object: { key: string } }).object.key === key), `${key} routed`);
  });

  test('a failing Ray job fails the run with its named error and the tail of its log', async () => {
    // Past the CLI's precheck (the session starts the run directly): the train job itself refuses the params.
    const spec = writeSpec('bad-params.yaml', smallSpec((s) => (s.model.params = { max_depth: -5 })));
    const dataset = await session.prepareDataset(spec);
    const r = await session.report(await session.start(spec, dataset, 'e2e-bad-job'), spec);
    assert.equal(r.outcome.status, 'FAILED');
    assert.equal(r.outcome.error, 'ValidationFailed');
    assert.match(r.outcome.cause!, /params\.model\.params\.max_depth/);
    assert.match(r.outcome.cause!, /train job .*-train-1 FAILED/);
    assert.match(r.outcome.cause!, /last 30 log lines/);
    assert.match(r.outcome.cause!, /max_depth/);
  });

  test('a spot interruption during train: the job is marked and evicted, the stage retried, and it resumes from its checkpoint', async () => {
    const spec = writeSpec('spot.yaml', smallSpec((s) => Object.assign(s.stages.train, { iterations: 60, checkpointEvery: 5 })));
    const dataset = await session.prepareDataset(spec);
    const started = await session.start(spec, dataset, 'e2e-spot');
    const dir = stageUri(session.artifactRoot, spec.name, started.runId, 'train');
    let done = false;
    void started.execution.result.then(() => (done = true));
    while (!hasCheckpoint(dir) && !done) await new Promise((r) => setTimeout(r, 200));
    assert.equal(done, false, 'train finished before its first checkpoint');
    await session.runtime.bus.publish([spotWarning(LOCAL_INSTANCE_ID)]);
    const r = await session.report(started, spec);
    assert.equal(r.outcome.status, 'SUCCEEDED', `${r.outcome.error}: ${r.outcome.cause}`);
    const train = r.stages.find((s) => s.stage === 'train')!;
    assert.equal(train.attempt, 2);
    assert.ok(Number((train.details as { resumedFromIteration: number }).resumedFromIteration) >= 5, JSON.stringify(train.details));
    assert.equal(train.metrics.iterations, 60);
    const failed = started.execution.events.find((e) => e.type === 'StateFailed' && e.state?.name === 'Train');
    assert.equal(failed?.error, 'SpotInterrupted');
  });
});
