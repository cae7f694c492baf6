import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalTaskBroker } from '../../local/task-broker.js';
import { LocalQueue } from '../../local/queue.js';
import { stageOutcome } from '../../core/job-status.js';
import { checkCsvHeader } from '../../core/csv-header.js';

test('task broker: tokens complete once; late, unknown and duplicate callbacks are "gone"', async () => {
  const b = new LocalTaskBroker();
  const t = b.mint();
  const waiting = b.wait(t, {});
  assert.equal(await b.heartbeat(t), 'ok');
  assert.equal(await b.success(t, { x: 1 }), 'ok');
  assert.deepEqual(await waiting, { x: 1 });
  assert.equal(await b.success(t, {}), 'gone');
  assert.equal(await b.failure('local-unknown', 'E', 'c'), 'gone');
  const t2 = b.mint();
  const failing = b.wait(t2, {});
  await b.failure(t2, 'RayJobFailed', 'why');
  await assert.rejects(failing, { name: 'RayJobFailed', message: 'why' });
  await assert.rejects(b.wait('forged', {}), { name: 'States.Runtime' });
});

test('task broker: a missing heartbeat fails the task with States.HeartbeatTimeout', async () => {
  const b = new LocalTaskBroker();
  const t = b.mint();
  const w = b.wait(t, { heartbeatSeconds: 0.05 });
  await assert.rejects(w, { name: 'States.HeartbeatTimeout' });
  assert.equal(await b.success(t, {}), 'gone');
});

test('queue: failed messages are redelivered, then dead-lettered after maxReceiveCount', async () => {
  let calls = 0;
  const q = new LocalQueue('q', async (e) => {
    calls++;
    return { batchItemFailures: [{ itemIdentifier: e.Records[0]!.messageId }] };
  }, { maxReceiveCount: 3, retryDelayMs: 1 });
  await q.send('{"a":1}');
  assert.equal(calls, 3);
  assert.deepEqual(q.deadLetters, [{ body: '{"a":1}', receives: 3 }]);
});

test('job status maps to stage outcomes and named errors', () => {
  const base = { jobId: 'j', labels: {} };
  assert.deepEqual(stageOutcome({ ...base, state: 'RUNNING' }), { kind: 'running' });
  assert.deepEqual(stageOutcome({ ...base, state: 'SUCCEEDED' }), { kind: 'succeeded' });
  assert.equal((stageOutcome({ ...base, state: 'FAILED', message: 'x' }) as any).error, 'RayJobFailed');
  assert.equal((stageOutcome({ ...base, state: 'STOPPED' }) as any).error, 'RayJobStopped');
  assert.equal((stageOutcome({ ...base, state: 'FAILED', interrupted: true }) as any).error, 'SpotInterrupted');
  const v = stageOutcome({ ...base, state: 'FAILED', message: 'logs:\nValidationFailed: column "x" has 3 NaN values\n' }) as any;
  assert.deepEqual([v.error, v.cause], ['ValidationFailed', 'column "x" has 3 NaN values']);
});

test('CSV header preflight names the file and the problem', () => {
  assert.deepEqual(checkCsvHeader('a,b,target\n', 'target', 'f.csv'), ['a', 'b', 'target']);
  assert.throws(() => checkCsvHeader('a,b\n', 'target', 'f.csv'), { message: /^f\.csv: no "target" column/ });
  assert.throws(() => checkCsvHeader('', 'target', 'f.csv'), { message: /f\.csv: the file is empty/ });
  assert.throws(() => checkCsvHeader('a,a,target', 'target', 'f.csv'), { message: /duplicate column\(s\) "a"/ });
});
