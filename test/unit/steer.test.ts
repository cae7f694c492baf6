// The ABANDONED rule (core/abandoned.ts) and the resume plan (core/resume.ts): which runs a later command marks,
// which stages a resumed run reuses, and that repeating a resume finds the run it started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endedRecord, findAbandoned } from '../../core/abandoned.js';
import { planResume, resumeRequestId } from '../../core/resume.js';
import { runIdFor } from '../../core/run-id.js';
import type { RunRecord } from '../../core/model.js';

const rec = (runId: string, status: RunRecord['status'], startedAt = '2026-12-01T10:00:00.000Z'): RunRecord => ({
  pipeline: 'iris', runId, status, trigger: { kind: 'manual', requestId: runId }, datasetUri: '/d.csv', startedAt,
});

test('a RUNNING run whose session pid is dead is abandoned, naming the pid; finished runs are left alone', () => {
  const found = findAbandoned([rec('r000000001', 'RUNNING'), rec('r000000002', 'SUCCEEDED'), rec('r000000003', 'FAILED')], {
    pid: 4242, alive: false, startedAt: '2026-12-01T09:59:00.000Z', runs: ['r000000001'],
  });
  assert.deepEqual(found.map((a) => a.record.runId), ['r000000001']);
  assert.match(found[0]!.reason, /4242/);
});

test('a live session owns the runs it lists and any that started after it; an older RUNNING run is abandoned', () => {
  const session = { pid: 7, alive: true, startedAt: '2026-12-01T10:00:00.000Z', runs: ['r000000001'] };
  const found = findAbandoned(
    [rec('r000000001', 'RUNNING', '2026-12-01T09:00:00.000Z'), rec('r000000002', 'RUNNING', '2026-12-01T10:00:05.000Z'), rec('r000000003', 'RUNNING', '2026-12-01T09:30:00.000Z')],
    session,
  );
  assert.deepEqual(found.map((a) => a.record.runId), ['r000000003']);
});

test('with no session file every RUNNING run is abandoned; the ended record carries status, when, who and the stage', () => {
  const found = findAbandoned([rec('r000000001', 'RUNNING')], undefined);
  assert.equal(found.length, 1);
  const ended = endedRecord(found[0]!.record, 'ABANDONED', { by: 'sentinel runs', at: '2026-12-01T11:00:00.000Z', reason: found[0]!.reason }, 'train');
  assert.equal(ended.status, 'ABANDONED');
  assert.equal(ended.endedAt, '2026-12-01T11:00:00.000Z');
  assert.deepEqual(ended.ended?.by, 'sentinel runs');
  assert.deepEqual(ended.outcome, { error: 'RunAbandoned', cause: found[0]!.reason, stage: 'train' });
});

const src = (status: RunRecord['status'], ok: string[]) => ({
  record: rec('r00000000a', status),
  results: Object.fromEntries(['ingest', 'train', 'tune', 'evaluate'].filter((s) => ok.includes(s) || s === 'tune').map((s) => [s, { uri: `/a/${s}/result.json`, ok: ok.includes(s) }])),
  stageUri: (s: string) => `/a/${s}`,
});

test('resume reuses the finished stages in order and continues the first unfinished one from its checkpoints', () => {
  const plan = planResume(src('CANCELLED', ['ingest']), () => undefined);
  assert.equal(plan.kind, 'start');
  if (plan.kind !== 'start') return;
  assert.deepEqual(plan.reused, ['ingest']);
  assert.equal(plan.continueAt, 'train');
  assert.deepEqual(plan.resume.reuse, { ingest: '/a/ingest/result.json' });
  assert.deepEqual(plan.resume.checkpoints, { train: '/a/train' });
  assert.equal(plan.resume.attempt, 1);
  assert.equal(plan.runId, runIdFor('iris', { kind: 'manual', requestId: resumeRequestId('r00000000a', 1) }));
});

test('a stage after an unfinished one is not reused, even with a result; evaluate has no checkpoints', () => {
  const plan = planResume(src('FAILED', ['ingest', 'train', 'evaluate']), () => undefined);
  assert.equal(plan.kind, 'start');
  if (plan.kind !== 'start') return;
  assert.deepEqual(plan.reused, ['ingest', 'train']);
  assert.equal(plan.continueAt, 'tune');
  const late = planResume(src('FAILED', ['ingest', 'train', 'tune']), () => undefined);
  assert.ok(late.kind === 'start' && late.continueAt === 'evaluate' && Object.keys(late.resume.checkpoints).length === 0);
});

test('repeating a resume finds the run it started; after that resume failed, the next attempt gets a new id', () => {
  const first = planResume(src('ABANDONED', ['ingest']), () => undefined);
  assert.ok(first.kind === 'start');
  const again = planResume(src('ABANDONED', ['ingest']), (id) => (id === first.runId ? rec(id, 'RUNNING') : undefined));
  assert.deepEqual(again.kind === 'existing' && again.runId, first.runId);
  const next = planResume(src('ABANDONED', ['ingest']), (id) => (id === first.runId ? rec(id, 'FAILED') : undefined));
  assert.ok(next.kind === 'start' && next.runId !== first.runId && next.resume.attempt === 2);
});

test('a running or succeeded run is not resumed, with the error named', () => {
  const running = planResume(src('RUNNING', []), () => undefined);
  assert.ok(running.kind === 'refused' && running.error === 'StillRunning' && /sentinel cancel/.test(running.reason));
  const done = planResume(src('SUCCEEDED', ['ingest', 'train', 'tune', 'evaluate']), () => undefined);
  assert.ok(done.kind === 'refused' && done.error === 'NothingToResume');
});
