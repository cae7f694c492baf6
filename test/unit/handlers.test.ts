// Handlers are thin: they validate the event (naming the bad field) and call core. Here with in-memory ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { createSubmitStageHandler } from '../../functions/submit-stage.js';
import { createCompleteStageHandler } from '../../functions/complete-stage.js';
import { createPromoteHandler } from '../../functions/promote.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { FileTokenStore } from '../../local/token-store.js';
import { FakeCompute, FakeServing, RecordingCallbacks } from '../support/fakes.js';
import { referenceSpec } from '../support/reference.js';
import { validateSpec } from '../../core/spec.js';
import { systemClock, type TaskCallbacks } from '../../core/ports.js';
import { jobStateChangeEvent } from '../../events/job-state-change.js';
import { labelsFor, parseJobName } from '../../core/names.js';
import type { JobStatus } from '../../core/job-status.js';
import type { JobRequest } from '../../core/ports.js';
import { sqsOf } from '../support/events.js';

const ctx = { functionName: 'test', awsRequestId: 'r' } as Context;
const dir = () => mkdtempSync(join(tmpdir(), 'sentinel-h-'));
const run = (root: string) => ({
  pipeline: 'breast-cancer',
  runId: 'r0123456789'.slice(0, 10),
  trigger: { kind: 'manual', requestId: 'x' },
  artifactRoot: root,
  datasetUri: join(root, 'd.csv'),
  spec: validateSpec(referenceSpec()),
  requestedAt: new Date(0).toISOString(),
});

test('submit-stage: a malformed event fails with ValidationFailed naming the field; nothing is submitted', async () => {
  const root = dir();
  const compute = new FakeCompute();
  const h = createSubmitStageHandler({ compute, tokens: new FileTokenStore(join(root, 't')), store: new LocalObjectStore() });
  await assert.rejects(h({ taskToken: 't', stage: 'deploy', run: run(root) }, ctx), { name: 'ValidationFailed', message: /submit-stage\.stage/ });
  await assert.rejects(h({ taskToken: 't', stage: 'train', run: { ...run(root), runId: 'bad' } }, ctx), { message: /submit-stage\.run\.runId/ });
  await assert.rejects(h({ stage: 'ingest', run: run(root) }, ctx), { message: /submit-stage\.taskToken: is required/ });
  assert.equal(compute.submits.length, 0);
});

test('submit-stage: the input reaches the job as data, and a redelivery does not submit twice', async () => {
  const root = dir();
  const compute = new FakeCompute({ ingest: [{ kind: 'hang' }] });
  const tokens = new FileTokenStore(join(root, 't'));
  const h = createSubmitStageHandler({ compute, tokens, store: new LocalObjectStore() });
  const a = (await h({ taskToken: 'tok-1', stage: 'ingest', run: run(root) }, ctx)) as { jobId: string; created: boolean };
  const b = (await h({ taskToken: 'tok-2', stage: 'ingest', run: run(root) }, ctx)) as { jobId: string; created: boolean };
  assert.equal(a.jobId, b.jobId);
  assert.deepEqual([a.created, b.created], [true, false]);
  assert.equal(compute.submits.length, 1);
  assert.equal(await tokens.get(a.jobId), 'tok-2', 'the redelivered task is the one that waits');
  const req = compute.jobs.get(a.jobId)!.req;
  assert.equal(req.module, 'sentinel_jobs.ingest');
  assert.deepEqual((req.input as { params: { datasetUri: string } }).params.datasetUri, join(root, 'd.csv'));
  assert.equal(req.pythonPath, undefined, 'no spec.code, no PYTHONPATH of its own');
});

test('submit-stage: spec.code reaches the job request as its PYTHONPATH', async () => {
  const root = dir();
  const compute = new FakeCompute({ ingest: [{ kind: 'hang' }] });
  const h = createSubmitStageHandler({ compute, tokens: new FileTokenStore(join(root, 't')), store: new LocalObjectStore() });
  const r = run(root);
  const withCode = { ...r, spec: { ...r.spec, code: '/opt/pipelines/churn' } };
  const a = (await h({ taskToken: 'tok', stage: 'ingest', run: withCode }, ctx)) as { jobId: string };
  assert.equal(compute.jobs.get(a.jobId)!.req.pythonPath, '/opt/pipelines/churn');
});

/** A job that ended on the fake compute port, with the labels submit gives it. */
function ended(compute: FakeCompute, jobId: string, state: JobStatus['state'] = 'SUCCEEDED', extra: Partial<JobStatus> = {}) {
  compute.jobs.set(jobId, { jobId, state, labels: labelsFor(parseJobName(jobId)!), ...extra, req: {} as JobRequest });
}

test('complete-stage: success reads result.json; duplicates are acknowledged; garbage fails its record; a missing result fails the task', async () => {
  const root = dir();
  const tokens = new FileTokenStore(join(root, 't'));
  const callbacks = new RecordingCallbacks();
  const compute = new FakeCompute();
  const h = createCompleteStageHandler({ compute, tokens, callbacks, store: new LocalObjectStore(), artifactRoot: root });
  const jobId = 'breast-cancer-r012345678-train-1';
  ended(compute, jobId, 'SUCCEEDED', { startTime: 1000, endTime: 4000 });
  const stageDir = join(root, 'breast-cancer', 'r012345678', 'train');
  mkdirSync(stageDir, { recursive: true });
  writeFileSync(join(stageDir, 'result.json'), JSON.stringify({ stage: 'train', metrics: { validation_roc_auc: 0.9 }, artifacts: { model: 'm' } }));
  await tokens.put(jobId, 'tok');
  const ev = jobStateChangeEvent('ray-jobs', { jobId, state: 'SUCCEEDED', labels: {}, startTime: 1000, endTime: 4000 }, root, new Date())!;
  const ids = (r: unknown) => (r as SQSBatchResponse).batchItemFailures.map((f) => f.itemIdentifier);
  const r1 = await h(sqsOf(ev), ctx);
  const r2 = await h(sqsOf(ev), ctx); // duplicate delivery
  assert.deepEqual([ids(r1), ids(r2)], [[], []]);
  const junk = sqsOf('not json', { source: 'sentinel.jobs', 'detail-type': 'Ray Job State Change', detail: { jobId } });
  assert.deepEqual(ids(await h(junk, ctx)), junk.Records.map((r) => r.messageId), 'malformed records fail (and are redriven to the DLQ)');
  assert.equal(callbacks.calls.length, 1, 'one completion for one job');
  const [kind, token, output] = callbacks.calls[0]!;
  assert.deepEqual([kind, token], ['success', 'tok']);
  assert.equal((output as { jobSeconds: number }).jobSeconds, 3);
  assert.equal(await tokens.get(jobId), undefined);

  const jobId2 = 'breast-cancer-r012345678-tune-1';
  ended(compute, jobId2);
  await tokens.put(jobId2, 'tok2');
  const ev2 = jobStateChangeEvent('ray-jobs', { jobId: jobId2, state: 'SUCCEEDED', labels: {} }, root, new Date())!;
  await h(sqsOf(ev2), ctx);
  assert.deepEqual(callbacks.calls[1]!.slice(0, 3), ['failure', 'tok2', 'RayJobFailed']);
  assert.match(String(callbacks.calls[1]![3]), /succeeded but wrote no result at .*tune\/result\.json/);
});

test('complete-stage: a result.json that breaks the contract (or is for another stage) fails the task naming what is wrong', async () => {
  const root = dir();
  const tokens = new FileTokenStore(join(root, 't'));
  const callbacks = new RecordingCallbacks();
  const compute = new FakeCompute();
  const h = createCompleteStageHandler({ compute, tokens, callbacks, store: new LocalObjectStore(), artifactRoot: root });
  const cases: Array<[string, string, RegExp]> = [
    ['train', JSON.stringify({ stage: 'train', metrics: { validation_roc_auc: 'high' }, artifacts: {} }), /breaks the stage contract: .*train\/result\.json\.metrics\.validation_roc_auc: /],
    ['tune', JSON.stringify({ stage: 'tune', metrics: {}, artifacts: {}, surprise: 1 }), /breaks the stage contract: .*unknown field\(s\) "surprise"/],
    ['evaluate', JSON.stringify({ stage: 'train', metrics: {}, artifacts: {} }), /is for stage "train", not "evaluate"/],
    ['ingest', '{"stage": "ingest", "metrics": {"rows": NaN}', /is not JSON/],
  ];
  for (const [stage, body, why] of cases) {
    const jobId = `breast-cancer-r012345678-${stage}-1`;
    ended(compute, jobId);
    const stageDir = join(root, 'breast-cancer', 'r012345678', stage);
    mkdirSync(stageDir, { recursive: true });
    writeFileSync(join(stageDir, 'result.json'), body);
    await tokens.put(jobId, `tok-${stage}`);
    const ev = jobStateChangeEvent('ray-jobs', { jobId, state: 'SUCCEEDED', labels: {} }, root, new Date())!;
    assert.deepEqual(await h(sqsOf(ev), ctx), { batchItemFailures: [] });
    const call = callbacks.calls.at(-1)!;
    assert.deepEqual(call.slice(0, 3), ['failure', `tok-${stage}`, 'RayJobFailed'], stage);
    assert.match(String(call[3]), why);
  }
});

test('complete-stage: a consumer error is reported as a partial batch failure for that message only', async () => {
  const root = dir();
  const tokens = new FileTokenStore(join(root, 't'));
  const broken: TaskCallbacks = { success: async () => { throw new Error('throttled'); }, failure: async () => 'ok', heartbeat: async () => 'ok' };
  const compute = new FakeCompute();
  const h = createCompleteStageHandler({ compute, tokens, callbacks: broken, store: new LocalObjectStore(), artifactRoot: root });
  const jobId = 'breast-cancer-r012345678-ingest-1';
  ended(compute, jobId);
  const stageDir = join(root, 'breast-cancer', 'r012345678', 'ingest');
  mkdirSync(stageDir, { recursive: true });
  writeFileSync(join(stageDir, 'result.json'), JSON.stringify({ stage: 'ingest', metrics: {}, artifacts: {} }));
  await tokens.put(jobId, 'tok');
  const ev = jobStateChangeEvent('ray-jobs', { jobId, state: 'SUCCEEDED', labels: {} }, root, new Date())!;
  const batch = sqsOf(ev, ev);
  const res = await h(batch, ctx);
  assert.deepEqual(res, { batchItemFailures: batch.Records.map((r) => ({ itemIdentifier: r.messageId })) });
  assert.equal(await tokens.get(jobId), 'tok', 'the token stays until the callback went through');
});

test('promote: waits for the new config (not the old one still RUNNING), records champion and previous; times out clearly', async () => {
  const root = dir();
  const store = new LocalObjectStore();
  const serving = new FakeServing();
  const h = createPromoteHandler({ serving, store, clock: systemClock, now: () => new Date(), readyTimeoutMs: 2000 });
  const r1 = run(root);
  await h({ run: r1, modelUri: '/m1', value: 0.95 }, ctx);
  const r2 = { ...r1, runId: 'r99999999a'.slice(0, 10) };
  const res = (await h({ run: r2, modelUri: '/m2', value: 0.97 }, ctx)) as { previousRunId: string };
  assert.equal(res.previousRunId, r1.runId);
  const rec = await store.getJson<{ current: { runId: string }; previous: { runId: string } }>(join(root, 'breast-cancer', 'champion.json'));
  assert.deepEqual([rec!.current.runId, rec!.previous.runId], [r2.runId, r1.runId]);

  // Serving stuck on the old run: each call returns at once; the state machine's loop hands the progress back after
  // the wait it asked for, until the timeout (here a clock that moves only when the test says so).
  const applied: string[] = [];
  const stuck = { apply: async (_p: string, c: { applications: Array<{ args: { run_id: string } }> }) => void applied.push(c.applications[0]!.args.run_id), status: async () => ({ state: 'RUNNING' as const, runId: r2.runId }), endpoint: () => '' };
  let t = 0;
  const clock = { now: () => t, sleep: async (ms: number) => void (t += ms) };
  const h2 = createPromoteHandler({ serving: stuck as never, store, clock, now: () => new Date(), readyTimeoutMs: 1200 });
  const r3 = { ...r1, runId: 'r33333333c' };
  let step = (await h2({ run: r3, modelUri: '/m', value: 1 }, ctx)) as { done: boolean; waitSeconds: number; progress: { polls: number } };
  assert.equal(step.done, false);
  assert.ok(Number.isInteger(step.waitSeconds) && step.waitSeconds >= 1);
  t += 600;
  step = (await h2({ run: r3, modelUri: '/m', value: 1, progress: step.progress } as never, ctx)) as typeof step;
  assert.deepEqual([step.done, step.progress.polls], [false, 1]);
  t += 600;
  await assert.rejects(h2({ run: r3, modelUri: '/m', value: 1, progress: step.progress } as never, ctx), { name: 'PromotionTimedOut', message: /not RUNNING after 1 s \(promotionTimeout 1 s, 2 checks; last state RUNNING \(still serving r99999999a\)\)/ });
  // The champion was not switched, and its config went back behind the route.
  const after = await store.getJson<{ current: { runId: string } }>(join(root, 'breast-cancer', 'champion.json'));
  assert.equal(after!.current.runId, r2.runId);
  assert.deepEqual(applied, [r3.runId, r2.runId]);
  // Bad progress is refused with the field at fault.
  await assert.rejects(h2({ run: r3, modelUri: '/m', value: 1, progress: { ...step.progress, polls: -1 } } as never, ctx), (e: Error) => e.name === 'ValidationFailed' && /progress\.polls/.test(e.message));
  const failing = createPromoteHandler({ serving: new FakeServing('fail'), store, clock: systemClock, now: () => new Date() });
  await assert.rejects(failing({ run: r1, modelUri: '/m', value: 1 }, ctx), { name: 'PromotionFailed', message: /failed to deploy \(DEPLOY_FAILED: replica crashed\)/ });
});
