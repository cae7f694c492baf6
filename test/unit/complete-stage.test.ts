// core/complete-stage.ts through its ports: what the waiting task is sent for each terminal job, what happens to
// the parked token, and what the caller is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeStage, CompletionRejected, type CompletionClaim } from '../../core/complete-stage.js';
import type { ComputePort, ObjectStore, TaskCallbacks, TokenStore, CallbackResult } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import { labelsFor, type JobIdentity } from '../../core/names.js';

const ROOT = 's3://b/artifacts';
const identity: JobIdentity = { pipeline: 'churn', runId: 'r0123456789'.slice(0, 10), stage: 'train', attempt: 2 };
const JOB = 'churn-r012345678-train-2';
const RESULT_URI = `${ROOT}/churn/r012345678/train/result.json`;

/** The job as the compute port reports it; `status` overrides (undefined: no such job). */
type PortJob = Partial<JobStatus> | undefined;

function ports(opts: { result?: string; logs?: () => Promise<string>; answer?: CallbackResult; token?: string; job?: PortJob } = {}) {
  const tokens = new Map<string, string>(opts.token === undefined ? [[JOB, 'tok']] : opts.token ? [[JOB, opts.token]] : []);
  const calls: Array<{ kind: string; token: string; error?: string; cause?: string; output?: unknown }> = [];
  const logRequests: Array<[string, number]> = [];
  const reads: string[] = [];
  const gets: string[] = [];
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
  const portJob: JobStatus | undefined = 'job' in opts && opts.job === undefined ? undefined : { jobId: JOB, state: 'SUCCEEDED', labels: labelsFor(identity), ...opts.job };
  const compute = {
    backend: 'kuberay',
    get: async (jobId: string) => (gets.push(jobId), jobId === JOB ? portJob : undefined),
    logs: async (jobId: string, lines: number) => (logRequests.push([jobId, lines]), opts.logs ? opts.logs() : 'line 1\nline 2'),
  } as unknown as ComputePort;
  const store = {
    getText: async (uri: string) => (reads.push(uri), opts.result),
  } as unknown as ObjectStore;
  return { deps: { compute, tokens: tokenStore, callbacks, store, artifactRoot: ROOT }, tokens, calls, logRequests, reads, gets };
}
/** What an event claims; by default the same as the port's job. */
const claim = (c: Partial<CompletionClaim> = {}): CompletionClaim => ({ jobId: JOB, state: 'SUCCEEDED', identity, artifactRoot: ROOT, ...c });
/** A port job in `state`, and the event that honestly reports it. */
const honest = (job: Partial<JobStatus>, o: Parameters<typeof ports>[0] = {}) => ({ p: ports({ ...o, job }), c: claim({ state: job.state ?? 'SUCCEEDED' }) });
const complete = async (x: { p: ReturnType<typeof ports>; c: CompletionClaim }) => (await completeStage(x.c, x.p.deps)).completion;
const goodResult = JSON.stringify({ stage: 'train', metrics: { validation_roc_auc: 0.9 }, artifacts: { model: 'm' }, details: { best: 3 } });

test('a succeeded job sends its stage summary from result.json, and the token is released', async () => {
  const p = ports({ result: goodResult, job: { startTime: 1_000, endTime: 4_500 } });
  assert.equal((await completeStage(claim(), p.deps)).completion, 'completed');
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
  await completeStage(claim(), q.deps);
  assert.equal('details' in (q.calls[0]!.output as object), false);
});

test('no parked token: nothing is sent (a duplicate or foreign event); a job still running is left waiting', async () => {
  const none = ports({ token: '', job: { state: 'FAILED' } });
  assert.equal((await completeStage(claim({ state: 'FAILED' }), none.deps)).completion, 'no-waiting-task');
  assert.deepEqual(none.calls, []);
  const running = ports({ job: { state: 'RUNNING' } });
  await assert.rejects(completeStage(claim({ state: 'RUNNING' }), running.deps), { name: 'CompletionRejected', check: 'not-terminal' });
  assert.deepEqual(running.calls, []);
  assert.equal(running.tokens.get(JOB), 'tok', 'the token stays for the real completion');
});

test('a failed job fails the task with its named error, message and log tail; the token is released', async () => {
  const x = honest({ state: 'FAILED', message: 'exit code 1' }, { logs: async () => 'Traceback\nValueError: boom' });
  const p = x.p;
  assert.equal(await complete(x), 'failed');
  assert.deepEqual(p.logRequests, [[JOB, 30]]);
  const [call] = p.calls;
  assert.deepEqual([call!.kind, call!.token, call!.error], ['failure', 'tok', 'RayJobFailed']);
  assert.ok(call!.cause!.includes('exit code 1'), 'the job message is in the cause');
  assert.ok(call!.cause!.endsWith('Traceback\nValueError: boom'), 'the log tail ends the cause');
  assert.ok(call!.cause!.includes(JOB));
  assert.equal(p.tokens.has(JOB), false);
  // A stopped job and an interrupted one are named as such.
  const stopped = honest({ state: 'STOPPED' });
  await complete(stopped);
  assert.equal(stopped.p.calls[0]!.error, 'RayJobStopped');
  const spot = honest({ state: 'FAILED', interrupted: true });
  await complete(spot);
  assert.equal(spot.p.calls[0]!.error, 'SpotInterrupted', 'the interruption mark is the port\'s, not the event\'s');
});

test('a failing log fetch still reports the failure', async () => {
  const x = honest({ state: 'FAILED', message: 'OOM' }, { logs: async () => Promise.reject(new Error('dashboard down')) });
  const p = x.p;
  assert.equal(await complete(x), 'failed');
  assert.equal(p.calls.length, 1);
  assert.deepEqual([p.calls[0]!.kind, p.calls[0]!.error], ['failure', 'RayJobFailed']);
  assert.ok(p.calls[0]!.cause!.includes('OOM'));
  assert.ok(p.calls[0]!.cause!.includes('dashboard down'), 'the cause says why there are no logs');
  assert.equal(p.tokens.has(JOB), false);
});

test("a failure cause is cut to Step Functions' 32,768 characters, keeping its end", async () => {
  const huge = 'x'.repeat(40_000) + 'THE END';
  const x = honest({ state: 'FAILED' }, { logs: async () => huge });
  await complete(x);
  const cause = x.p.calls[0]!.cause!;
  assert.equal(cause.length, 32_768);
  assert.ok(cause.endsWith('THE END'));
  // Exactly at the limit: untouched.
  const head = honest({ state: 'FAILED' }, { logs: async () => '' });
  await complete(head);
  const prefix = head.p.calls[0]!.cause!.length;
  const exact = honest({ state: 'FAILED' }, { logs: async () => 'y'.repeat(32_768 - prefix) });
  await complete(exact);
  assert.equal(exact.p.calls[0]!.cause!.length, 32_768);
  assert.ok(exact.p.calls[0]!.cause!.startsWith('train job'), 'not cut');
});

test('a succeeded job without a valid result.json fails the task as RayJobFailed', async () => {
  for (const result of [undefined, 'not json', JSON.stringify({ stage: 'train', metrics: { a: 'high' }, artifacts: {} }), JSON.stringify({ stage: 'tune', metrics: {}, artifacts: {} })]) {
    const p = ports({ result });
    assert.equal((await completeStage(claim(), p.deps)).completion, 'failed', String(result));
    assert.deepEqual([p.calls[0]!.kind, p.calls[0]!.error], ['failure', 'RayJobFailed']);
    assert.ok(p.calls[0]!.cause!.includes(RESULT_URI), 'the cause says where the result was looked for');
    assert.equal(p.tokens.has(JOB), false);
  }
});

test('a task already gone (timed out, completed) counts as done: the token is released either way', async () => {
  const ok = ports({ result: goodResult, answer: 'gone' });
  assert.equal((await completeStage(claim(), ok.deps)).completion, 'task-gone');
  assert.equal(ok.tokens.has(JOB), false);
  const failed = honest({ state: 'FAILED' }, { answer: 'gone' });
  assert.equal(await complete(failed), 'task-gone');
  assert.equal(failed.p.tokens.has(JOB), false);
});

// ---- verified completions (issue 14): an event is a claim, checked against the compute port ----------------------

const attackerResult = JSON.stringify({ stage: 'train', metrics: { validation_roc_auc: 1 }, artifacts: { model: 's3://b/artifacts/attacker-controlled/model' } });

test("a forged SUCCEEDED event naming another root: rejected before any read or callback; the token waits for the real job", async () => {
  const p = ports({ result: attackerResult, job: { state: 'RUNNING' } });
  await assert.rejects(completeStage(claim({ artifactRoot: 's3://b/artifacts/attacker-controlled' }), p.deps), (e: CompletionRejected) => {
    assert.equal(e.name, 'CompletionRejected');
    assert.equal(e.check, 'artifact-root');
    assert.equal(e.jobId, JOB);
    assert.ok(!e.message.includes('tok'), 'no token in the error');
    return true;
  });
  assert.deepEqual([p.calls, p.reads], [[], []]);
  assert.equal(p.tokens.get(JOB), 'tok');
});

test('each check names itself: job name, identity, missing job, labels, not terminal, another state', async () => {
  const cases: Array<[string, Parameters<typeof ports>[0], Partial<CompletionClaim>]> = [
    ['identity', {}, { identity: { ...identity, runId: 'r999999999' } }],
    ['identity', {}, { identity: { ...identity, attempt: 1 } }],
    ['job-missing', { job: undefined }, {}],
    ['labels', { job: { labels: { ...labelsFor(identity), 'sentinel.dev/run': 'r999999999' } } }, {}],
    ['labels', { job: { labels: {} } }, {}],
    ['not-terminal', { job: { state: 'RUNNING' } }, {}],
    ['not-terminal', { job: { state: 'PENDING' } }, {}],
    ['state', { job: { state: 'FAILED' } }, {}],
  ];
  for (const [check, o, c] of cases) {
    const p = ports({ ...o, result: goodResult });
    await assert.rejects(completeStage(claim(c), p.deps), (e: CompletionRejected) => e.name === 'CompletionRejected' && e.check === check, check);
    assert.deepEqual(p.calls, [], `${check}: no callback`);
    assert.equal(p.tokens.get(JOB), 'tok', `${check}: the token stays`);
  }
  const bad = ports({});
  const foreign = { ...bad.deps, tokens: { ...bad.deps.tokens, get: async () => 'tok' } };
  await assert.rejects(completeStage(claim({ jobId: 'not-a-stage-job' }), foreign), { name: 'CompletionRejected', check: 'job-name' });
});

test("the result is read from the run's own stage folder under the deployment's root, whatever the event names", async () => {
  const p = ports({ result: goodResult });
  const { artifactRoot: _none, ...noRoot } = claim();
  assert.equal((await completeStage(noRoot, p.deps)).completion, 'completed');
  assert.deepEqual(p.reads, [RESULT_URI]);
  // The same root written differently (a trailing slash) is the same root.
  const q = ports({ result: goodResult });
  assert.equal((await completeStage(claim({ artifactRoot: `${ROOT}/` }), q.deps)).completion, 'completed');
  assert.deepEqual(q.reads, [RESULT_URI]);
});

test("the outcome is the port's job: its message, times and interruption, not the event's", async () => {
  const p = ports({ job: { state: 'FAILED', message: 'real: exit 137', interrupted: true, startTime: 0, endTime: 10 } });
  const r = await completeStage(claim({ state: 'FAILED' }), p.deps);
  assert.equal(r.completion, 'failed');
  assert.equal(p.calls[0]!.error, 'SpotInterrupted');
  assert.ok(p.calls[0]!.cause!.includes('real: exit 137'));
  assert.deepEqual([r.job?.endTime, r.identity], [10, identity]);
});
