// The pure parts of the AWS run history: stage attempts read from a Step Functions execution history (the events'
// shapes as GetExecutionHistory returns them for the deployed ASL's Task states: entered, scheduled per attempt,
// failed/succeeded, exited), and what an ended execution makes of a run.json still saying RUNNING.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { jobsFromHistory, parseExecutionName, reconcile } from '../../adapters/aws/run-history.js';
import type { RunRecord } from '../../core/model.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
let id = 0;
const ev = (type: string, s: number, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({ id: ++id, previousEventId: id - 1, type: type as HistoryEvent['type'], timestamp: new Date(T0 + s * 1000), ...extra });
const entered = (name: string, s: number) => ev('TaskStateEntered', s, { stateEnteredEventDetails: { name } });
const exited = (name: string, s: number) => ev('TaskStateExited', s, { stateExitedEventDetails: { name } });

test('each TaskScheduled inside a stage state is one attempt, ended by its TaskSucceeded/TaskFailed', () => {
  id = 0;
  const events = [
    ev('ExecutionStarted', 0),
    entered('PrepareRun', 0),
    ev('TaskScheduled', 0),
    ev('TaskSucceeded', 1),
    exited('PrepareRun', 1),
    entered('Ingest', 1),
    ev('TaskScheduled', 1),
    ev('TaskSucceeded', 20),
    exited('Ingest', 20),
    entered('Train', 20),
    ev('TaskScheduled', 20),
    ev('TaskFailed', 50, { taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', error: 'SpotInterrupted', cause: 'node reclaimed' } }),
    ev('TaskScheduled', 60),
  ];
  const jobs = jobsFromHistory('breast-cancer', 'r012345678', events, 'RUNNING');
  assert.deepEqual(
    jobs.map((j) => [j.jobId, j.state, j.startTime, j.endTime, j.message]),
    [
      ['breast-cancer-r012345678-ingest-1', 'SUCCEEDED', T0 + 1000, T0 + 20_000, undefined],
      ['breast-cancer-r012345678-train-1', 'FAILED', T0 + 20_000, T0 + 50_000, 'SpotInterrupted: node reclaimed'],
      ['breast-cancer-r012345678-train-2', 'RUNNING', T0 + 60_000, undefined, undefined],
    ],
  );
  assert.equal(jobs[2]!.labels['sentinel.dev/attempt'], '2');
  // The same history once the execution was stopped: the open attempt is STOPPED at the stop time.
  const stopped = jobsFromHistory('breast-cancer', 'r012345678', events, 'ABORTED', T0 + 90_000);
  assert.equal(stopped[2]!.state, 'STOPPED');
  assert.equal(stopped[2]!.endTime, T0 + 90_000);
  // Out of order (a reversed page) reads the same.
  assert.deepEqual(jobsFromHistory('breast-cancer', 'r012345678', [...events].reverse(), 'RUNNING'), jobs);
});

test('a timed-out attempt is FAILED with States.Timeout', () => {
  id = 0;
  const jobs = jobsFromHistory('iris', 'r012345678', [entered('Tune', 0), ev('TaskScheduled', 0), ev('TaskTimedOut', 9, { taskTimedOutEventDetails: { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', error: 'States.HeartbeatTimeout' } }), exited('Tune', 9)], 'FAILED');
  assert.deepEqual(jobs.map((j) => [j.jobId, j.state, j.message]), [['iris-r012345678-tune-1', 'FAILED', 'States.HeartbeatTimeout']]);
});

const record: RunRecord = { pipeline: 'iris', runId: 'r012345678', status: 'RUNNING', trigger: { kind: 'manual', requestId: 'a' }, datasetUri: 's3://b/d.csv', startedAt: '2026-12-01T10:00:00.000Z' };
const fallback = () => ({ pipeline: 'iris', runId: 'r012345678', trigger: { kind: 'manual' as const, requestId: 'x' }, datasetUri: '' });

test('an ended execution wins over a run.json still RUNNING; a finished record is kept as it is', () => {
  const stop = new Date('2026-12-01T10:05:00Z');
  assert.deepEqual(reconcile(record, { status: 'RUNNING' }, fallback), record);
  const aborted = reconcile(record, { status: 'ABORTED', stopDate: stop }, fallback);
  assert.equal(aborted.status, 'CANCELLED');
  assert.equal(aborted.ended?.by, 'StopExecution');
  assert.equal(aborted.endedAt, stop.toISOString());
  assert.deepEqual(aborted.outcome && 'error' in aborted.outcome ? aborted.outcome.error : undefined, 'ExecutionAborted');
  const timedOut = reconcile(record, { status: 'TIMED_OUT', stopDate: stop }, fallback);
  assert.equal(timedOut.outcome && 'error' in timedOut.outcome ? timedOut.outcome.error : undefined, 'ExecutionTimedOut');
  const failed = reconcile(record, { status: 'FAILED', stopDate: stop, error: 'States.Runtime', cause: 'bad path' }, fallback);
  assert.deepEqual(failed.outcome, { error: 'States.Runtime', cause: 'bad path' });
  assert.equal(reconcile(record, { status: 'SUCCEEDED', stopDate: stop }, fallback).status, 'SUCCEEDED');
  const done: RunRecord = { ...record, status: 'SUCCEEDED', outcome: { promoted: true, reason: 'better' } };
  assert.deepEqual(reconcile(done, { status: 'SUCCEEDED' }, fallback), done);
  // No record yet: the run is built from the execution (its start) and its input.
  const bare = reconcile(undefined, { status: 'RUNNING', startDate: new Date(T0) }, fallback);
  assert.equal(bare.startedAt, new Date(T0).toISOString());
  assert.deepEqual(bare.trigger, { kind: 'manual', requestId: 'x' });
});

test('only <pipeline>-<run id> execution names are runs', () => {
  assert.deepEqual(parseExecutionName('movie-lens-r012345678'), { pipeline: 'movie-lens', runId: 'r012345678' });
  for (const n of ['r012345678', 'iris-r01234567', 'iris-r012345678-x', 'Iris-r012345678', 'iris-R0123456789']) assert.equal(parseExecutionName(n), undefined, n);
});
