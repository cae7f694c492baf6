// Edges of what the control plane accepts, found untested by mutation testing (npm run mutation): a dataset's header,
// tune's grace period against its iterations, the gate's inputs and the champion value it compares with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCsvHeader } from '../../core/csv-header.js';
import { TuneParamsSchema } from '../../core/contract.js';
import { evaluateGate } from '../../core/evaluate-gate.js';
import { validateSpec } from '../../core/spec.js';
import type { ObjectStore } from '../../core/ports.js';
import type { ChampionRecord, RunContext, StageSummaries } from '../../core/model.js';
import { referenceSpec, referenceRun } from '../support/reference.js';

test('a CSV header: quoted names lose their quotes, whole names only; quotes inside a name stay', () => {
  assert.deepEqual(checkCsvHeader('"mean radius","target",x\n', 'target', 'd'), ['mean radius', 'target', 'x']);
  assert.deepEqual(checkCsvHeader('\uFEFFtarget, size "cm" ,"a"b\r\n', 'target', 'd'), ['target', 'size "cm"', '"a"b']);
  for (const bad of ['', '\n', '   \r\n', 'a,b,a\n', 'x,y\n', 'target\n']) {
    assert.throws(() => checkCsvHeader(bad, 'target', 's3://b/d.csv'), (e: Error & { where?: string }) => e.name === 'ValidationFailed' && e.where === 's3://b/d.csv', JSON.stringify(bad));
  }
});

test("tune's grace period may equal its longest trial, not exceed it", () => {
  const params = (gracePeriod: number) => ({
    dataUri: 's3://b/d',
    target: 'target',
    task: 'binary',
    metric: 'roc_auc',
    mode: 'max',
    model: { module: 'pkg.model' },
    searchSpace: { max_depth: { type: 'randint', lower: 2, upper: 8 } },
    numSamples: 4,
    maxIterations: 10,
    gracePeriod,
  });
  assert.equal(TuneParamsSchema.safeParse(params(10)).success, true);
  assert.equal(TuneParamsSchema.safeParse(params(9)).success, true);
  const r = TuneParamsSchema.safeParse(params(11));
  assert.equal(r.success, false);
  assert.deepEqual(r.error!.issues.map((i) => i.path.join('.')), ['gracePeriod']);
});

const spec = validateSpec(referenceSpec());
const m = spec.gate.metric;
const run: RunContext = referenceRun(spec);
const storeWith = (record?: ChampionRecord): ObjectStore => ({
  getJson: async <T>() => structuredClone(record) as T | undefined,
  getText: async () => undefined,
  putJson: async () => undefined,
  head: async () => undefined,
  list: async () => [],
  getJsonVersioned: async <T>() => (record ? { value: structuredClone(record) as T, version: 'v' } : undefined),
  putJsonIf: async () => 'ok' as const,
});
const summaries = (evaluate?: Record<string, number>): StageSummaries =>
  ({
    train: { stage: 'train', jobId: 'j1', attempt: 1, metrics: { [`validation_${m}`]: 0.9 }, artifacts: { model: 's3://m/train' } },
    tune: { stage: 'tune', jobId: 'j2', attempt: 1, metrics: { [`validation_${m}`]: 0.8 }, artifacts: { model: 's3://m/tune' } },
    ...(evaluate ? { evaluate: { stage: 'evaluate', jobId: 'j3', attempt: 1, metrics: evaluate, artifacts: {} } } : {}),
  }) as unknown as StageSummaries;

test('the gate needs every stage and the candidate score, naming where each is missing', async () => {
  const where = async (stages: StageSummaries) => {
    const e = await evaluateGate({ run, stages }, { store: storeWith() }).then(
      () => undefined,
      (e: Error & { where?: string }) => e,
    );
    assert.equal(e?.name, 'ValidationFailed');
    return e.where;
  };
  assert.equal(await where(summaries()), 'stages');
  const { train: _t, ...noTrain } = summaries({ [`candidate_${m}`]: 0.9 });
  assert.equal(await where(noTrain as StageSummaries), 'stages');
  const { tune: _u, ...noTune } = summaries({ [`candidate_${m}`]: 0.9 });
  assert.equal(await where(noTune as StageSummaries), 'stages');
  assert.equal(await where(summaries({ [`champion_${m}`]: 0.9 })), 'stages.evaluate.metrics');
});

test("with no fresh score for the champion, the gate compares with the value recorded at its promotion", async () => {
  const record: ChampionRecord = {
    pipeline: spec.name,
    current: { runId: 'r0000000001', modelUri: 's3://m/old', metric: m, value: 0.99, promotedAt: '2024-05-01T00:00:00.000Z', serveConfig: {} },
  };
  const kept = await evaluateGate({ run, stages: summaries({ [`candidate_${m}`]: 0.95 }) }, { store: storeWith(record) });
  assert.deepEqual([kept.promote, kept.champion, kept.championRunId], [false, 0.99, 'r0000000001']);
  const fresh = await evaluateGate({ run, stages: summaries({ [`candidate_${m}`]: 0.95, [`champion_${m}`]: 0.5 }) }, { store: storeWith(record) });
  assert.deepEqual([fresh.promote, fresh.champion], [true, 0.5]);
});
