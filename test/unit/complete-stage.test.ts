// core/complete-stage.ts through its ports: what the waiting task is sent for each terminal job, what happens to
// the parked token, and what the caller is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeStage } from '../../core/complete-stage.js';
import type { ComputePort, ObjectStore, TaskCallbacks, TokenStore, CallbackResult } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import type { JobIdentity } from '../../core/names.js';

const ROOT = 's3://b/artifacts';
const identity: JobIdentity = { pipeline: 'churn', runId: 'r0123456789'.slice(0, 10), stage: 'train', attempt: 2 };
const JOB = 'churn-r012345678-train-2';
const RESULT_URI = `${ROOT}/churn/r012345678/train/result.json`;

function ports(opts: { result?: string; logs?: () => Promise<string>; answer?: CallbackResult; token?: string } = {}) {
  const tokens = new Map<string, string>(opts.token === undefined ? [[JOB, 'tok']] : opts.token ? [[JOB, opts.token]] : []);
  const calls: Array<{ kind: string; token: string; error?: string; cause?: string; output?: unknown }> = [];
  const logRequests: Array<[string, number]> = [];
  const reads: string[] = [];
  const tokenStore: TokenStore = {
    put: async (j, t) => void tokens.set(j, t),
    get: async (j) => tokens.get(j),
    delete: async (j) => void tokens.delete(j),
  };
  const callbacks: TaskCallbacks = {
    success: async (token, output) => (calls.push({ kind: 'success', token, output }), opts.answer ?? 'ok'),
    failure: async (token, error, cause) => (calls.push({ kind: 'failure', token, error, cause }), opts.answer ?? 'ok'),
    heartbeat: async () => 'ok',
  };
  const compute = {
    logs: async (jobId: string, lines: number) => (logRequests.push([jobId, lines]), opts.logs ? opts.logs() : 'line 1\nline 2'),
  } as unknown as ComputePort;
  const store = {
    getText: async (uri: string) => (reads.push(uri), opts.result),
  } as unknown as ObjectStore;
  return { deps: { compute, tokens: tokenStore, callbacks, store }, tokens, calls, logRequests, reads };
}
const job = (status: Partial<JobStatus>) => ({ status: { jobId: JOB, state: 'SUCCEEDED' as const, labels: {}, ...status }, identity, artifactRoot: ROOT });
const goodResult = JSON.stringify({ stage: 'train', metrics: { validation_roc_auc: 0.9 }, artifacts: { model: 'm' }, details: { best: 3 } });

test('a succeeded job sends its stage summary from result.json, and the token is released', async () => {
  const p = ports({ result: goodResult });
  assert.equal(await completeStage(job({ startTime: 1_000, endTime: 4_500 }), p.deps), 'completed');
  assert.deepEqual(p.reads, [RESULT_URI]);
  assert.deepEqual(p.calls, [
    {
      kind: 'success',
      token: 'tok',
      output: {
        stage: 'train',
        jobId: JOB,
        attempt: 2,
        resultUri: RESULT_URI,
        metrics: { validation_roc_auc: 0.9 },
        artifacts: { model: 'm' },
        details: { best: 3 },
        jobSeconds: 3.5,
      },
    },
  ]);
  assert.equal(p.tokens.has(JOB), false);
  assert.deepEqual(p.logRequests, [], 'a success needs no logs');
  // Without details in the result, the summary has none (not an empty one).
  const q = ports({ result: JSON.stringify({ stage: 'train', metrics: {}, artifacts: {} }) });
  await completeStage(job({}), q.deps);
  assert.equal('details' in (q.calls[0]!.output as object), false);
});

test('no parked token: nothing is sent (a duplicate or foreign event); a running job is left waiting', async () => {
  const none = ports({ token: '' });
  assert.equal(await completeStage(job({ state: 'FAILED' }), none.deps), 'no-waiting-task');
  assert.deepEqual(none.calls, []);
  const running = ports({});
  assert.equal(await completeStage(job({ state: 'RUNNING' }), running.deps), 'still-running');
  assert.deepEqual(running.calls, []);
  assert.equal(running.tokens.get(JOB), 'tok', 'the token stays for the real completion');
});

test('a failed job fails the task with its named error, message and log tail; the token is released', async () => {
  const p = ports({ logs: async () => 'Traceback\nValueError: boom' });
  assert.equal(await completeStage(job({ state: 'FAILED', message: 'exit code 1' }), p.deps), 'failed');
  assert.deepEqual(p.logRequests, [[JOB, 30]]);
  const [call] = p.calls;
  assert.deepEqual([call!.kind, call!.token, call!.error], ['failure', 'tok', 'RayJobFailed']);
  assert.ok(call!.cause!.includes('exit code 1'), 'the job message is in the cause');
  assert.ok(call!.cause!.endsWith('Traceback\nValueError: boom'), 'the log tail ends the cause');
  assert.ok(call!.cause!.includes(JOB));
  assert.equal(p.tokens.has(JOB), false);
  // A stopped job and an interrupted one are named as such.
  const stopped = ports({});
  await completeStage(job({ state: 'STOPPED' }), stopped.deps);
  assert.equal(stopped.calls[0]!.error, 'RayJobStopped');
  const spot = ports({});
  await completeStage(job({ state: 'FAILED', interrupted: true }), spot.deps);
  assert.equal(spot.calls[0]!.error, 'SpotInterrupted');
});

test('a failing log fetch still reports the failure', async () => {
  const p = ports({ logs: async () => Promise.reject(new Error('dashboard down')) });
  assert.equal(await completeStage(job({ state: 'FAILED', message: 'OOM' }), p.deps), 'failed');
  assert.equal(p.calls.length, 1);
  assert.deepEqual([p.calls[0]!.kind, p.calls[0]!.error], ['failure', 'RayJobFailed']);
  assert.ok(p.calls[0]!.cause!.includes('OOM'));
  assert.ok(p.calls[0]!.cause!.includes('dashboard down'), 'the cause says why there are no logs');
  assert.equal(p.tokens.has(JOB), false);
});

test("a failure cause is cut to Step Functions' 32,768 characters, keeping its end", async () => {
  const huge = 'x'.repeat(40_000) + 'THE END';
  const p = ports({ logs: async () => huge });
  await completeStage(job({ state: 'FAILED' }), p.deps);
  const cause = p.calls[0]!.cause!;
  assert.equal(cause.length, 32_768);
  assert.ok(cause.endsWith('THE END'));
  // Exactly at the limit: untouched.
  const head = ports({ logs: async () => '' });
  await completeStage(job({ state: 'FAILED' }), head.deps);
  const prefix = head.calls[0]!.cause!.length;
  const exact = ports({ logs: async () => 'y'.repeat(32_768 - prefix) });
  await completeStage(job({ state: 'FAILED' }), exact.deps);
  assert.equal(exact.calls[0]!.cause!.length, 32_768);
  assert.ok(exact.calls[0]!.cause!.startsWith('train job'), 'not cut');
});

test('a succeeded job without a valid result.json fails the task as RayJobFailed', async () => {
  for (const result of [undefined, 'not json', JSON.stringify({ stage: 'train', metrics: { a: 'high' }, artifacts: {} }), JSON.stringify({ stage: 'tune', metrics: {}, artifacts: {} })]) {
    const p = ports({ result });
    assert.equal(await completeStage(job({}), p.deps), 'failed', String(result));
    assert.deepEqual([p.calls[0]!.kind, p.calls[0]!.error], ['failure', 'RayJobFailed']);
    assert.ok(p.calls[0]!.cause!.includes(RESULT_URI), 'the cause says where the result was looked for');
    assert.equal(p.tokens.has(JOB), false);
  }
});

test('a task already gone (timed out, completed) counts as done: the token is released either way', async () => {
  const ok = ports({ result: goodResult, answer: 'gone' });
  assert.equal(await completeStage(job({}), ok.deps), 'task-gone');
  assert.equal(ok.tokens.has(JOB), false);
  const failed = ports({ answer: 'gone' });
  assert.equal(await completeStage(job({ state: 'FAILED' }), failed.deps), 'task-gone');
  assert.equal(failed.tokens.has(JOB), false);
});
