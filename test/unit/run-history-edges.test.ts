// Which runs the live session owns, what a run without a recorded outcome shows, and run ids too short to be a
// prefix (core/run-history.ts), at the edges mutation testing (npm run mutation) found no test for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findRun, isLive, listRuns, outcomeOf, withWaitingRuns } from '../../core/run-history.js';
import { WAITER_STALE_MS, type RunSlots } from '../../core/run-slots.js';
import type { RunRecord } from '../../core/model.js';

const record = (runId: string, status: RunRecord['status'], startedAt = '2024-06-01T10:00:00.000Z', extra: Partial<RunRecord> = {}): RunRecord => ({
  pipeline: 'p',
  runId,
  status,
  trigger: { kind: 'manual', requestId: 'x' },
  datasetUri: 's3://b/d.csv',
  startedAt,
  ...extra,
});
const live = (extra: object = {}) => ({ dashboardUrl: 'http://127.0.0.1:8265', dashboardAnswers: true, ...extra });

test('a running record is live when the session started it, or started while the session was up, or the session says nothing', () => {
  const r = record('r000000001', 'RUNNING');
  assert.equal(isLive(r, undefined), false, 'no session');
  assert.equal(isLive(r, live()), true, 'a session that lists nothing owns every running record');
  assert.equal(isLive(r, live({ runs: ['r000000001'] })), true);
  assert.equal(isLive(r, live({ runs: ['r000000002'] })), false);
  assert.equal(isLive(r, live({ startedAt: '2024-06-01T10:00:00.000Z' })), true, 'started as the session did');
  assert.equal(isLive(r, live({ startedAt: '2024-06-01T09:00:00.000Z' })), true, 'started after the session');
  assert.equal(isLive(r, live({ startedAt: '2024-06-01T11:00:00.000Z' })), false, 'started before the session');
  assert.equal(isLive(r, live({ runs: [], startedAt: '2024-06-01T11:00:00.000Z' })), false);
  assert.equal(isLive(record('r000000001', 'SUCCEEDED'), live()), false, 'an ended run is never live');
});

test('a finished record without an outcome: failed if it failed, else kept', () => {
  assert.equal(outcomeOf(record('r000000001', 'FAILED'), undefined).kind, 'failed');
  assert.equal(outcomeOf(record('r000000001', 'SUCCEEDED'), undefined).kind, 'kept');
  const failed = outcomeOf(record('r000000001', 'FAILED', undefined, { outcome: { error: 'RayJobFailed', cause: 'boom\nTraceback …' } }), undefined);
  assert.deepEqual([failed.kind, failed.error, failed.reason], ['failed', 'RayJobFailed', 'boom']);
});

test('a run id shorter than three characters is no prefix: it finds nothing, even when one run starts with it', () => {
  const records = [record('r000000001', 'SUCCEEDED'), record('rabc000002', 'SUCCEEDED')];
  assert.deepEqual(findRun(records, 'r000'), { found: records[0] });
  const short = findRun(records, 'ra');
  assert.ok('missing' in short);
  assert.ok(!('found' in short));
});

test('waiting runs: one with no record is listed QUEUED from its queue entry, a placeholder record is marked, an ended one and a stopped waiter are not', () => {
  const now = new Date('2024-06-01T10:10:00.000Z');
  const seen = (ago: number) => new Date(now.getTime() - ago).toISOString();
  const slots: RunSlots = {
    pipeline: 'p',
    maxConcurrentRuns: 1,
    holders: [{ runId: 'r000000001', priority: 0, since: seen(300_000) }],
    waiters: [
      { runId: 'r000000003', priority: 0, enqueuedAt: seen(60_000), lastSeen: seen(1000), behindAtEnqueue: [], trigger: { kind: 'schedule', schedule: 'nightly', time: seen(60_000) }, datasetUri: 's3://b/x.csv' },
      { runId: 'r000000002', priority: 5, enqueuedAt: seen(30_000), lastSeen: seen(2000), behindAtEnqueue: [] },
      { runId: 'r000000004', priority: 0, enqueuedAt: seen(120_000), lastSeen: seen(1000), behindAtEnqueue: [] },
      { runId: 'r000000009', priority: 9, enqueuedAt: seen(WAITER_STALE_MS + 60_000), lastSeen: seen(WAITER_STALE_MS + 1), behindAtEnqueue: [] },
    ],
  };
  const records = [
    record('r000000001', 'RUNNING', seen(300_000)),
    record('r000000002', 'RUNNING', seen(30_000)), // a deployed execution's placeholder: no run.json yet
    record('r000000004', 'CANCELLED', seen(120_000)), // stopped while queued, not released yet
  ];
  const merged = withWaitingRuns(records, [slots], now);
  const rows = listRuns(merged, {}, live(), now.getTime());
  const by = Object.fromEntries(rows.map((r) => [r.runId, r]));
  assert.deepEqual(Object.keys(by).sort(), ['r000000001', 'r000000002', 'r000000003', 'r000000004'], 'the stopped waiter (not seen for WAITER_STALE_MS) is not listed');
  assert.equal(by.r000000001!.status, 'RUNNING');
  assert.equal(by.r000000004!.status, 'CANCELLED', 'an ended record is never marked');
  assert.deepEqual([by.r000000002!.status, by.r000000002!.waiting?.position, by.r000000002!.waiting?.ahead], ['QUEUED', 1, []], 'priority 5 first');
  assert.deepEqual([by.r000000003!.status, by.r000000003!.waiting?.position, by.r000000003!.waiting?.ahead], ['QUEUED', 3, ['r000000002', 'r000000004']]);
  assert.equal(by.r000000003!.trigger, 'schedule', 'made from its queue entry');
  assert.equal(merged.find((r) => r.runId === 'r000000003')?.datasetUri, 's3://b/x.csv');
  assert.equal(by.r000000003!.startedAt, seen(60_000));
  assert.equal(by.r000000003!.durationSeconds, 60, 'how long it has waited');
  assert.equal(by.r000000003!.outcome.reason, 'waiting for a run slot: position 3, behind r000000002, r000000004; 1/1 slot held by r000000001');
  assert.deepEqual(listRuns(merged, { status: 'queued' }, live(), now.getTime()).map((r) => r.runId), ['r000000002', 'r000000003']);
  assert.equal(outcomeOf(record('r000000002', 'RUNNING'), live()).kind, 'running', 'without the queue, the same record is running');
});
