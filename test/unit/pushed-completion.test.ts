// The pushed completion (core/pushed-completion.ts through the complete-stage consumer): S3's Object Created of a
// stage's result.json completes the waiting task once the compute port reports the job terminal; a write for a job
// that is still running completes nothing; duplicates are acknowledged; keys that are not a stage's result are
// malformed. And the pattern that routes it, against AWS's sample event. A failing job's own write of its failure
// record (failure.json) fails the task of the attempt the record names, with the port's outcome: a forged write for a
// running job fails nothing, an older attempt's late write and duplicates complete nothing, a record that breaks the
// contract or speaks for another run is rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { createCompleteStageHandler } from '../../functions/complete-stage.js';
import { completeFromFailureWrite, completeFromResultWrite } from '../../core/pushed-completion.js';
import { CompletionRejected } from '../../core/complete-stage.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { FileTokenStore } from '../../local/token-store.js';
import { FakeCompute, RecordingCallbacks } from '../support/fakes.js';
import { labelsFor, parseJobName } from '../../core/names.js';
import type { Clock, JobRequest } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import { matches } from '../../events/match.js';
import { stageFailureWrittenPattern, stageResultWrittenPattern, datasetUploadedPattern } from '../../events/patterns.js';
import { routesFor } from '../../events/routes.js';
import { stageResultKey, stageWriteKey } from '../../events/object-created.js';
import { FAILURE_FILE } from '../../core/artifacts.js';
import { QUEUE_MESSAGES } from '../../events/messages.js';
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
  /** What stage_main writes when a stage fails (jobs/src/sentinel_sdk/stage_main.py): failure.json, its attempt's. */
  const writeFailure = (attempt: number, stage = 'train', over: Record<string, unknown> = {}) => {
    const d = join(artifactRoot, 'breast-cancer', RUN, stage);
    mkdirSync(d, { recursive: true });
    const reason = "ValidationFailed: column 'b' has non-numeric values";
    writeFileSync(join(d, FAILURE_FILE), JSON.stringify({ pipeline: 'breast-cancer', runId: RUN, stage, attempt, error: 'ValidationFailed', reason, time: '2026-12-02T05:30:00.000Z', ...over }));
  };
  return { root, artifactRoot, compute, tokens, callbacks, store, job, writeResult, writeFailure, deps: { compute, tokens, callbacks, store, artifactRoot } };
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

const FAILURE_KEY = `artifacts/breast-cancer/${RUN}/train/${FAILURE_FILE}`;
const TRAIN = { pipeline: 'breast-cancer', runId: RUN, stage: 'train' } as const;
/** What a failed Ray job reports: its last line, the job's own one-line reason (the port's message). */
const FAILED_ON_RAY = { message: "Job entrypoint command failed with exit code 1, last available logs: ValidationFailed: column 'b' has non-numeric values", endTime: 3000 };

test('stage-failure-written: the pattern takes a stage folder’s failure.json in our bucket, nothing else; one parser for both writes', () => {
  const p = stageFailureWrittenPattern(BUCKET);
  for (const stage of ['ingest', 'train', 'tune', 'evaluate']) assert.equal(matches(p, written(`artifacts/breast-cancer/${RUN}/${stage}/failure.json`)), true, stage);
  const no = [
    `artifacts/breast-cancer/${RUN}/tune/ray/tune/_trial_1a2b3_00000_0_eta=0.1/failure.json`, // a Ray Tune trial's own folder
    `artifacts/breast-cancer/${RUN}/tune/ray/tune/_trial_1a2b3_00000_0_eta=0.1/error.txt`, // what Tune does write for a failed trial
    `artifacts/breast-cancer/${RUN}/train/result.json`, // the result's rule, not this one
    `artifacts/breast-cancer/${RUN}/train/logs/attempt-1.log`,
    `artifacts/breast-cancer/${RUN}/deploy/failure.json`,
    `datasets/breast-cancer/${RUN}/train/failure.json`,
  ];
  for (const key of no) assert.equal(matches(p, written(key)), false, key);
  assert.equal(matches(p, written(FAILURE_KEY, 'other-bucket')), false, 'another bucket');
  assert.equal(matches(stageResultWrittenPattern(BUCKET), written(FAILURE_KEY)), false, 'the result rule does not take a failure record');
  assert.equal(routesFor({ bucket: BUCKET, pipelines: [] }).find((r) => r.name === 'stage-failure-written')?.target, 'completion-queue');
  // The completion queue's one Object Created kind accepts what either rule sends, and nothing else.
  const kind = QUEUE_MESSAGES['completion-queue'].find((k) => k.kind === 'stage-written')!;
  assert.equal(matches(kind.pattern, written(FAILURE_KEY)), true);
  assert.equal(matches(kind.pattern, written(KEY)), true);
  assert.equal(matches(kind.pattern, written(`artifacts/breast-cancer/${RUN}/train/model.json`)), false);
  assert.deepEqual(stageWriteKey(FAILURE_KEY), { ...TRAIN, file: 'failure' });
  assert.deepEqual(stageWriteKey(KEY), { ...TRAIN, file: 'result' });
  assert.equal(stageResultKey(FAILURE_KEY), undefined);
  for (const key of [`artifacts/breast-cancer/${RUN}/x/train/failure.json`, `artifacts/breast-cancer/${RUN}/train/failure.json.tmp`, `artifacts/Breast/${RUN}/train/failure.json`]) {
    assert.equal(stageWriteKey(key), undefined, key);
  }
});

test('a failure.json write fails the waiting task once, with the error the port reports (ValidationFailed naming the column)', async () => {
  const s = setup();
  const jobId = `breast-cancer-${RUN}-train-1`;
  s.job(jobId, 'FAILED', FAILED_ON_RAY);
  await s.tokens.put(jobId, 'tok');
  s.writeFailure(1);
  const h = createCompleteStageHandler({ ...s.deps, clock: fakeClock() });
  const event = written(FAILURE_KEY);
  assert.deepEqual(failures(await h(sqsOf(event), ctx)), []);
  assert.deepEqual(failures(await h(sqsOf(event, event), ctx)), [], 'duplicates find no token and are acknowledged');
  assert.equal(s.callbacks.calls.length, 1, 'failed exactly once');
  const [kind, token, error, cause] = s.callbacks.calls[0]! as [string, string, string, string];
  assert.deepEqual([kind, token, error], ['failure', 'tok', 'ValidationFailed']);
  assert.match(cause, /column 'b'/);
  assert.match(cause, new RegExp(`train job ${jobId} FAILED`));
  assert.equal(await s.tokens.get(jobId), undefined);
});

test('the failing job reported terminal a moment after its write: the consumer waits for the port, then fails the task', async () => {
  const s = setup();
  const jobId = `breast-cancer-${RUN}-train-2`;
  s.job(jobId, 'RUNNING');
  await s.tokens.put(jobId, 'tok');
  s.writeFailure(2);
  const clock = fakeClock((slept) => {
    if (slept >= 400) Object.assign(s.compute.jobs.get(jobId)!, { state: 'FAILED', ...FAILED_ON_RAY });
  });
  const r = await completeFromFailureWrite(TRAIN, { ...s.deps, clock });
  assert.deepEqual([r.completion, r.jobId, r.record?.attempt], ['failed', jobId, 2]);
  assert.ok(r.settledMs! >= 400 && r.settledMs! < 2000, `settled after ${r.settledMs} ms`);
  assert.deepEqual(s.callbacks.calls.map((c) => c.slice(0, 3)), [['failure', 'tok', 'ValidationFailed']]);
});

test('a forged failure.json for a job that is still running fails nothing: rejected (not-terminal), the token stays', async () => {
  const s = setup();
  const jobId = `breast-cancer-${RUN}-train-1`;
  s.job(jobId, 'RUNNING');
  await s.tokens.put(jobId, 'tok');
  s.writeFailure(1);
  const clock = fakeClock();
  await assert.rejects(completeFromFailureWrite(TRAIN, { ...s.deps, clock, settleMs: 3000 }), (e: unknown) => {
    assert.ok(e instanceof CompletionRejected);
    assert.deepEqual([e.check, e.jobId], ['not-terminal', jobId]);
    return true;
  });
  assert.equal(clock.slept, 3000, 'waited the settle time, no longer');
  assert.equal(s.callbacks.calls.length, 0);
  assert.equal(await s.tokens.get(jobId), 'tok', 'left for the real completion');
  const h = createCompleteStageHandler({ ...s.deps, clock: fakeClock(), settleMs: 100 });
  const event = sqsOf(written(FAILURE_KEY));
  assert.deepEqual(failures(await h(event, ctx)), event.Records.map((r) => r.messageId), 'its record fails (redriven, then dead-lettered)');
  assert.equal(s.callbacks.calls.length, 0);
  // The port decides: a failure record for a job that in fact succeeded completes its task with its result.
  Object.assign(s.compute.jobs.get(jobId)!, { state: 'SUCCEEDED', endTime: 4000 });
  s.writeResult();
  assert.deepEqual(failures(await h(event, ctx)), []);
  assert.deepEqual(s.callbacks.calls.map((c) => c.slice(0, 2)), [['success', 'tok']]);
});

test('a late failure.json of an earlier attempt completes nothing; the later attempt keeps its task', async () => {
  const s = setup();
  const first = `breast-cancer-${RUN}-train-1`;
  const second = `breast-cancer-${RUN}-train-2`;
  s.job(first, 'FAILED', FAILED_ON_RAY); // answered already (the watcher): no token
  s.job(second, 'RUNNING');
  await s.tokens.put(second, 'tok-2');
  s.writeFailure(1);
  const clock = fakeClock();
  const r = await completeFromFailureWrite(TRAIN, { ...s.deps, clock });
  assert.deepEqual([r.completion, r.jobId], ['no-waiting-task', first]);
  assert.equal(clock.slept, 0, 'no wait: nobody waits on that attempt');
  const h = createCompleteStageHandler({ ...s.deps, clock: fakeClock() });
  assert.deepEqual(failures(await h(sqsOf(written(FAILURE_KEY)), ctx)), [], 'acknowledged');
  assert.equal(s.callbacks.calls.length, 0);
  assert.equal(await s.tokens.get(second), 'tok-2');
  // Attempt 2's own record, once it has failed, fails attempt 2's task.
  Object.assign(s.compute.jobs.get(second)!, { state: 'FAILED', ...FAILED_ON_RAY });
  s.writeFailure(2);
  assert.deepEqual(failures(await h(sqsOf(written(FAILURE_KEY)), ctx)), []);
  assert.deepEqual(s.callbacks.calls.map((c) => c.slice(0, 3)), [['failure', 'tok-2', 'ValidationFailed']]);
});

test('a failure record that is missing, breaks the contract or speaks for another run is rejected (failure-record); nothing fails', async () => {
  const s = setup();
  const jobId = `breast-cancer-${RUN}-train-1`;
  s.job(jobId, 'FAILED', FAILED_ON_RAY);
  await s.tokens.put(jobId, 'tok');
  const rejected = async (why: RegExp) =>
    assert.rejects(completeFromFailureWrite(TRAIN, { ...s.deps, clock: fakeClock() }), (e: unknown) => {
      assert.ok(e instanceof CompletionRejected);
      assert.equal(e.check, 'failure-record');
      assert.match(e.message, why);
      assert.doesNotMatch(e.message, /tok/);
      return true;
    });
  await rejected(/no failure record/);
  s.writeFailure(1, 'train', { runId: 'r999999999' });
  await rejected(/runId "r999999999", its key says/);
  s.writeFailure(1, 'train', { stage: 'tune' });
  await rejected(/stage "tune"/);
  s.writeFailure(1, 'train', { attempt: 0 });
  await rejected(/attempt/);
  s.writeFailure(1, 'train', { environment: { AWS_SECRET_ACCESS_KEY: 'x' } });
  await rejected(/breaks the stage contract/);
  writeFileSync(join(s.artifactRoot, 'breast-cancer', RUN, 'train', FAILURE_FILE), '{"pipeline":');
  await rejected(/not JSON/);
  assert.equal(s.callbacks.calls.length, 0);
  assert.equal(await s.tokens.get(jobId), 'tok', 'left for the watcher');
  // Through the consumer: a failed record (the DLQ), its neighbour (a good result write) unaffected.
  s.job(`breast-cancer-${RUN}-tune-1`, 'SUCCEEDED', { endTime: 4000 });
  await s.tokens.put(`breast-cancer-${RUN}-tune-1`, 'tok-tune');
  s.writeResult('tune');
  const h = createCompleteStageHandler({ ...s.deps, clock: fakeClock() });
  const batch = sqsOf(written(FAILURE_KEY), written(`artifacts/breast-cancer/${RUN}/tune/result.json`));
  assert.deepEqual(failures(await h(batch, ctx)), [batch.Records[0]!.messageId]);
  assert.deepEqual(s.callbacks.calls.map((c) => c.slice(0, 2)), [['success', 'tok-tune']]);
});
