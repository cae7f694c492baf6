// Which runs the live session owns, what a run without a recorded outcome shows, and run ids too short to be a
// prefix (core/run-history.ts), at the edges mutation testing (npm run mutation) found no test for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findRun, isLive, outcomeOf } from '../../core/run-history.js';
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
