// The pushed completion (core/pushed-completion.ts through the complete-stage consumer): S3's Object Created of a
// stage's result.json completes the waiting task once the compute port reports the job terminal; a write for a job
// that is still running completes nothing; duplicates are acknowledged; keys that are not a stage's result are
// malformed. And the pattern that routes it, against AWS's sample event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { createCompleteStageHandler } from '../../functions/complete-stage.js';
import { completeFromResultWrite } from '../../core/pushed-completion.js';
import { CompletionRejected } from '../../core/complete-stage.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { FileTokenStore } from '../../local/token-store.js';
import { FakeCompute, RecordingCallbacks } from '../support/fakes.js';
import { labelsFor, parseJobName } from '../../core/names.js';
import type { Clock, JobRequest } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import { matches } from '../../events/match.js';
import { stageResultWrittenPattern, datasetUploadedPattern } from '../../events/patterns.js';
import { routesFor } from '../../events/routes.js';
import { stageResultKey } from '../../events/object-created.js';
import { awsSample, s3Upload, sqsOf } from '../support/events.js';

const ctx = { functionName: 'test', awsRequestId: 'r' } as Context;
const BUCKET = 'amzn-s3-demo-bucket1';
const RUN = 'r012345678';
const KEY = `artifacts/breast-cancer/${RUN}/train/result.json`;

/** A clock whose sleeps pass at once (and run `onSleep`, e.g. the job finishing meanwhile). */
function fakeClock(onSleep: (slept: number) => void = () => undefined): Clock & { slept: number } {
  let t = 1_000_000;
  const c = {
    slept: 0,
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
      c.slept += ms;
      onSleep(c.slept);
    },
  };
  return c;
}

function setup() {
  const root = mkdtempSync(join(tmpdir(), 'sentinel-pushed-'));
  const artifactRoot = join(root, 'bucket', 'artifacts');
  const compute = new FakeCompute();
  const tokens = new FileTokenStore(join(root, 't'));
  const callbacks = new RecordingCallbacks();
  const store = new LocalObjectStore();
  const job = (jobId: string, state: JobStatus['state'], extra: Partial<JobStatus> = {}) =>
    compute.jobs.set(jobId, { jobId, state, labels: labelsFor(parseJobName(jobId)!), startTime: 1000, ...extra, req: {} as JobRequest });
  const writeResult = (stage = 'train') => {
    const d = join(artifactRoot, 'breast-cancer', RUN, stage);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'result.json'), JSON.stringify({ stage, metrics: { validation_roc_auc: 0.9 }, artifacts: { model: 'm' } }));
  };
  return { root, artifactRoot, compute, tokens, callbacks, store, job, writeResult, deps: { compute, tokens, callbacks, store, artifactRoot } };
}

const written = (key = KEY, bucket = BUCKET) => s3Upload(bucket, key);
const failures = (r: unknown) => (r as SQSBatchResponse).batchItemFailures.map((f) => f.itemIdentifier);

test('stage-result-written: the pattern takes a stage folder’s result.json in our bucket, nothing else', () => {
  const p = stageResultWrittenPattern(BUCKET);
  assert.equal(matches(p, awsSample('s3-object-created')), false, 'the sample key "example-key"');
  for (const stage of ['ingest', 'train', 'tune', 'evaluate']) assert.equal(matches(p, written(`artifacts/breast-cancer/${RUN}/${stage}/result.json`)), true, stage);
  const no = [
    `artifacts/breast-cancer/${RUN}/tune/ray/tune/_trial_1a2b3_00000_0_eta=0.1/result.json`, // Ray Tune's per-trial file
    `artifacts/breast-cancer/${RUN}/train/checkpoints/train/checkpoint_000010/result.json`,
    `artifacts/breast-cancer/${RUN}/run.json`,
    `artifacts/breast-cancer/${RUN}/train/logs/attempt-1.log`,
    `datasets/breast-cancer/${RUN}/train/result.json`,
    `artifacts/breast-cancer/${RUN}/deploy/result.json`,
  ];
  for (const key of no) assert.equal(matches(p, written(key)), false, key);
  assert.equal(matches(p, written(KEY, 'other-bucket')), false, 'another bucket');
  const deleted = awsSample('s3-object-deleted');
  deleted.detail.object.key = KEY;
  deleted.detail.bucket.name = BUCKET;
  assert.equal(matches(p, deleted), false, 'Object Deleted');
  // A result write starts no run, an upload completes no stage.
  assert.equal(matches(datasetUploadedPattern(BUCKET), written()), false);
  assert.equal(matches(p, written('datasets/breast-cancer/data.csv')), false);
  assert.equal(routesFor({ bucket: BUCKET, pipelines: [] }).find((r) => r.name === 'stage-result-written')?.target, 'completion-queue');
  assert.deepEqual(stageResultKey(KEY), { pipeline: 'breast-cancer', runId: RUN, stage: 'train' });
  assert.equal(stageResultKey(`artifacts/breast-cancer/${RUN}/x/train/result.json`), undefined);
});

test('a result.json write completes the waiting task once, with the summary read from the run’s own folder', async () => {
  const s = setup();
  s.job(`breast-cancer-${RUN}-train-1`, 'FAILED', { endTime: 2000 }); // an earlier attempt, already answered
  s.job(`breast-cancer-${RUN}-train-2`, 'SUCCEEDED', { endTime: 4000 });
  await s.tokens.put(`breast-cancer-${RUN}-train-2`, 'tok');
  s.writeResult();
  const h = createCompleteStageHandler({ ...s.deps, clock: fakeClock() });
  const event = written();
  assert.deepEqual(failures(await h(sqsOf(event), ctx)), []);
  assert.deepEqual(failures(await h(sqsOf(event, event), ctx)), [], 'duplicates are acknowledged');
  assert.equal(s.callbacks.calls.length, 1, 'completed exactly once');
  const [kind, token, output] = s.callbacks.calls[0]!;
  assert.deepEqual([kind, token], ['success', 'tok']);
  const o = output as { jobId: string; attempt: number; resultUri: string; metrics: Record<string, number>; jobSeconds: number };
  assert.deepEqual([o.jobId, o.attempt, o.resultUri, o.metrics, o.jobSeconds], [`breast-cancer-${RUN}-train-2`, 2, join(s.artifactRoot, 'breast-cancer', RUN, 'train', 'result.json'), { validation_roc_auc: 0.9 }, 3]);
  assert.equal(await s.tokens.get(`breast-cancer-${RUN}-train-2`), undefined);
});

test('the job reported terminal a moment after its write: the consumer waits for the port, then completes', async () => {
  const s = setup();
  const jobId = `breast-cancer-${RUN}-train-1`;
  s.job(jobId, 'RUNNING');
  await s.tokens.put(jobId, 'tok');
  s.writeResult();
  const clock = fakeClock((slept) => {
    if (slept >= 600) Object.assign(s.compute.jobs.get(jobId)!, { state: 'SUCCEEDED', endTime: 5000 });
  });
  const r = await completeFromResultWrite({ pipeline: 'breast-cancer', runId: RUN, stage: 'train' }, { ...s.deps, clock });
  assert.equal(r.completion, 'completed');
  assert.equal(r.jobId, jobId);
  assert.ok(r.settledMs! >= 600 && r.settledMs! < 2000, `settled after ${r.settledMs} ms`);
  assert.deepEqual(s.callbacks.calls.map((c) => c[0]), ['success']);
});

test('a forged write for a job that is still running completes nothing: rejected (not-terminal), the token stays', async () => {
  const s = setup();
  const jobId = `breast-cancer-${RUN}-train-1`;
  s.job(jobId, 'RUNNING');
  await s.tokens.put(jobId, 'tok');
  s.writeResult(); // even with a result in place
  const clock = fakeClock();
  await assert.rejects(completeFromResultWrite({ pipeline: 'breast-cancer', runId: RUN, stage: 'train' }, { ...s.deps, clock, settleMs: 3000 }), (e: unknown) => {
    assert.ok(e instanceof CompletionRejected);
    assert.deepEqual([e.check, e.jobId], ['not-terminal', jobId]);
    return true;
  });
  assert.equal(clock.slept, 3000, 'waited the settle time, no longer');
  assert.equal(s.callbacks.calls.length, 0);
  assert.equal(await s.tokens.get(jobId), 'tok', 'left for the real completion');
  // Through the consumer: its record fails (redelivered, then dead-lettered), nothing is sent.
  const h = createCompleteStageHandler({ ...s.deps, clock: fakeClock(), settleMs: 100 });
  const event = sqsOf(written());
  assert.deepEqual(failures(await h(event, ctx)), event.Records.map((r) => r.messageId));
  assert.equal(s.callbacks.calls.length, 0);
});

test('a write for a stage nobody waits on, or for a job that ended otherwise, is answered by the port’s state', async () => {
  const s = setup();
  const h = createCompleteStageHandler({ ...s.deps, clock: fakeClock() });
  assert.deepEqual(failures(await h(sqsOf(written()), ctx)), [], 'no job: nothing waits, acknowledged');
  const idle = `breast-cancer-${RUN}-train-1`;
  s.job(idle, 'SUCCEEDED', { endTime: 3000 }); // finished and already answered (no token)
  assert.deepEqual(failures(await h(sqsOf(written()), ctx)), []);
  assert.equal(s.callbacks.calls.length, 0);
  // A job that wrote its result and then failed (e.g. on exit): its task fails with the named error, not a success.
  const tune = `breast-cancer-${RUN}-tune-1`;
  s.job(tune, 'FAILED', { message: 'exit code 1', endTime: 3000 });
  await s.tokens.put(tune, 'tok-tune');
  s.writeResult('tune');
  assert.deepEqual(failures(await h(sqsOf(written(`artifacts/breast-cancer/${RUN}/tune/result.json`)), ctx)), []);
  assert.deepEqual(s.callbacks.calls.map((c) => c.slice(0, 3)), [['failure', 'tok-tune', 'RayJobFailed']]);
});

test('keys that are not a stage’s result are malformed on the completion queue (DLQ), even in the pattern’s shape', async () => {
  const s = setup();
  const h = createCompleteStageHandler({ ...s.deps, clock: fakeClock() });
  // Matches the rule's wildcard (artifacts/*/r*/train/result.json) but is not a stage folder: refused by the schema.
  const odd = sqsOf(written(`artifacts/breast-cancer/r012345678/x/y/train/result.json`), written(`artifacts/Breast/${RUN}/train/result.json`));
  assert.deepEqual(failures(await h(odd, ctx)), odd.Records.map((r) => r.messageId));
  // No rule of the completion queue sends dataset uploads.
  const upload = sqsOf(written('datasets/breast-cancer/data.csv'));
  assert.deepEqual(failures(await h(upload, ctx)), upload.Records.map((r) => r.messageId));
  assert.equal(s.callbacks.calls.length, 0);
});

test('the wait for a job to be reported terminal stays within the invocation’s remaining time', async () => {
  const s = setup();
  const jobId = `breast-cancer-${RUN}-train-1`;
  s.job(jobId, 'RUNNING');
  await s.tokens.put(jobId, 'tok');
  s.writeResult();
  const clock = fakeClock();
  const h = createCompleteStageHandler({ ...s.deps, clock });
  const shortCtx = { ...ctx, getRemainingTimeInMillis: () => 15_400 } as Context; // 15 s are kept for the rest
  const event = sqsOf(written());
  assert.deepEqual(failures(await h(event, shortCtx)), event.Records.map((r) => r.messageId));
  assert.equal(clock.slept, 400, 'waited what the invocation could spare');
  assert.equal(s.callbacks.calls.length, 0);
});
