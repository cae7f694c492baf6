// Edges of the run's lifecycle that mutation testing (npm run mutation) found unchecked: what the model check's
// caller gets for an answer at the wrong exit code, job labels without an attempt, the RUNNING record's tracking,
// rollback with no champion at all, restoring a champion with tracking off.
import { memoryCas } from '../support/fakes.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpretModelCheck, ModelCheckCrashed } from '../../core/model-check.js';
import { labelsFor } from '../../core/names.js';
import { prepareRun } from '../../core/prepare-run.js';
import { restoreChampion, rollback } from '../../core/promote.js';
import { validateSpec } from '../../core/spec.js';
import type { ObjectStore } from '../../core/ports.js';
import type { ChampionRecord, RunContext, RunRecord } from '../../core/model.js';
import { referenceSpec, referenceRun } from '../support/reference.js';

test('the model check: a refusal counts only with exit code 1; otherwise the checker crashed, by that name', () => {
  const refusal = JSON.stringify({ ok: false, errors: [{ path: ['model', 'params', 'x'], message: 'unknown' }] });
  assert.throws(() => interpretModelCheck({ exitCode: 1, stdout: refusal, stderr: '' }, 'spec.yaml'), { name: 'ValidationFailed' });
  for (const exitCode of [2, null]) {
    assert.throws(
      () => interpretModelCheck({ exitCode, stdout: refusal, stderr: 'Traceback', signal: exitCode === null ? 'SIGKILL' : null }, 'spec.yaml'),
      (e: Error) => e instanceof ModelCheckCrashed && e.name === 'ModelCheckCrashed',
    );
  }
});

test('job labels carry the attempt only when there is one', () => {
  const id = { pipeline: 'p', runId: 'r0a1b2c3d4', stage: 'train' as const };
  assert.equal('sentinel.dev/attempt' in labelsFor(id), false);
  assert.equal(labelsFor({ ...id, attempt: 2 })['sentinel.dev/attempt'], '2');
});

const spec = validateSpec(referenceSpec());
const run: RunContext = referenceRun(spec);
const memoryStore = () => {
  const data = new Map<string, unknown>();
  const store: ObjectStore = {
    getJson: async <T>(uri: string) => structuredClone(data.get(uri)) as T | undefined,
    getText: async () => undefined,
    putJson: async (uri, v) => void data.set(uri, structuredClone(v)),
    head: async (uri) => (uri === run.datasetUri ? { uri, size: 10, etag: 'e', lastModified: 0 } : undefined),
    list: async () => [],
    ...memoryCas(data),
  };
  return { data, store };
};

test("the RUNNING record holds the run's tracking from the start", async () => {
  const { data, store } = memoryStore();
  await prepareRun(run, { store, now: () => new Date('2024-06-01T00:00:01Z') });
  const rec = data.get(`s3://bkt/artifacts/breast-cancer/${run.runId}/run.json`) as RunRecord;
  assert.equal(rec.status, 'RUNNING');
  assert.ok(rec.tracking && 'off' in rec.tracking);
});

test('rollback with no champion at all is refused, naming the pipeline; restoring with tracking off serves the record as is', async () => {
  const { data, store } = memoryStore();
  const applied: unknown[] = [];
  const serving = { apply: async (_p: string, c: unknown) => void applied.push(c), status: async () => ({ state: 'RUNNING' as const, runId: 'r1' }), endpoint: () => '' };
  const deps = { serving, store, clock: { now: () => 0, sleep: async () => undefined }, now: () => new Date() };
  await assert.rejects(rollback({ artifactRoot: 's3://bkt/artifacts', pipeline: 'breast-cancer' }, deps, 1000), (e: Error) => e.name === 'ValidationFailed' && /breast-cancer/.test(e.message));
  assert.equal(await restoreChampion({ artifactRoot: 's3://bkt/artifacts', pipeline: 'breast-cancer' }, deps, 1000), undefined);
  const record: ChampionRecord = { pipeline: 'breast-cancer', current: { runId: 'r1', modelUri: 's3://m', metric: 'roc_auc', value: 0.9, promotedAt: 't', serveConfig: { name: 'breast-cancer' } } };
  data.set('s3://bkt/artifacts/breast-cancer/champion.json', record);
  assert.deepEqual(await restoreChampion({ artifactRoot: 's3://bkt/artifacts', pipeline: 'breast-cancer' }, deps, 1000), record.current);
  assert.deepEqual(applied, [{ applications: [{ name: 'breast-cancer' }] }]);
  assert.deepEqual(data.get('s3://bkt/artifacts/breast-cancer/champion.json'), record, 'not rewritten');
});
