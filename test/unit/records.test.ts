// What callers and `sentinel status` read back, found unchecked by mutation testing (npm run mutation): the field a
// gate input error names, the tracking a run record keeps, and MLflow model links with and without a version.
import { memoryCas } from '../support/fakes.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, pickCandidate } from '../../core/gate.js';
import { finishRun } from '../../core/finish-run.js';
import { modelUrl } from '../../core/tracking.js';
import { validateSpec } from '../../core/spec.js';
import type { ObjectStore } from '../../core/ports.js';
import type { RunContext, RunRecord } from '../../core/model.js';
import { referenceSpec, referenceRun } from '../support/reference.js';

const spec = validateSpec(referenceSpec());
const where = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    assert.equal((e as Error).name, 'ValidationFailed');
    return (e as { where?: string }).where;
  }
  assert.fail('no error');
};

test('gate inputs that are missing or not numbers name the stage or metrics at fault', () => {
  const key = `validation_${spec.gate.metric}`;
  const ok = { metrics: { [key]: 0.9 }, artifacts: { model: 's3://m' } };
  assert.equal(where(() => pickCandidate(spec.gate, { metrics: {}, artifacts: { model: 's3://m' } }, ok)), 'stages.train');
  assert.equal(where(() => pickCandidate(spec.gate, { metrics: { [key]: 0.9 }, artifacts: {} }, ok)), 'stages.train');
  assert.equal(where(() => pickCandidate(spec.gate, ok, { metrics: {}, artifacts: { model: 's3://m' } })), 'stages.tune');
  assert.equal(where(() => pickCandidate(spec.gate, ok, { metrics: { [key]: 0.9 }, artifacts: {} })), 'stages.tune');
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) assert.equal(where(() => decide(spec.gate, bad, 0.5)), 'evaluate.metrics');
});

test("the run record keeps the run's tracking (a link, or why it is off) for status to show", async () => {
  const puts = new Map<string, unknown>();
  const store: ObjectStore = {
    getJson: async <T>(uri: string) => puts.get(uri) as T | undefined,
    getText: async () => undefined,
    putJson: async (uri, v) => void puts.set(uri, structuredClone(v)),
    head: async () => undefined,
    list: async () => [],
    ...memoryCas(puts),
  };
  const run: RunContext = referenceRun(spec);
  const deps = { store, compute: { list: async () => [] } as never, tokens: {} as never, now: () => new Date('2024-06-01T01:00:00Z') };
  const uri = `s3://bkt/artifacts/breast-cancer/${run.runId}/run.json`;
  for (const tracking of [{ uri: 'http://ml', experimentId: '1', parentRunId: 'p', url: 'http://ml/#/experiments/1/runs/p' }, { off: 'tracking off: none configured' }]) {
    await finishRun({ run: { ...run, tracking }, end: { status: 'SUCCEEDED', promoted: false, reason: 'kept' } }, deps);
    assert.deepEqual((puts.get(uri) as RunRecord).tracking, tracking);
  }
  await finishRun({ run, end: { status: 'SUCCEEDED', promoted: false, reason: 'kept' } }, deps);
  assert.equal('tracking' in (puts.get(uri) as RunRecord), false);
});

test('MLflow model links: the model page, or one version of it', () => {
  assert.equal(modelUrl('http://ml:5000/', 'breast cancer'), 'http://ml:5000/#/models/breast%20cancer');
  assert.equal(modelUrl('http://ml:5000', 'm', '3'), 'http://ml:5000/#/models/m/versions/3');
  assert.equal(modelUrl('http://ml:5000//', 'm'), 'http://ml:5000/#/models/m');
});
