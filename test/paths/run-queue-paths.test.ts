// Per-pipeline run limit (spec maxConcurrentRuns, core/run-slots.ts) on the deployable ASL and the real interpreter:
// three runs of one pipeline started at once with maxConcurrentRuns 1 run one after another, the waiting ones in
// priority order, none lost, and the run.json of each that waited says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { harness, referenceSpec, statesEntered } from '../support/harness.js';
import type { RunRecord } from '../../core/model.js';
import { LocalRunHistory } from '../../local/run-history.js';
import { listRuns, runStatus, type RunRow } from '../../core/run-history.js';
import { printStatus } from '../../cli/status.js';
import { every } from '../support/every.js';

const readJson = <T>(p: string) => JSON.parse(readFileSync(p, 'utf8')) as T;

test('three runs started at once with maxConcurrentRuns 1: one at a time, waiting runs by priority, none lost', async () => {
  // 300 ms per Ray job: a run takes over a second, so the other two are queued while the first runs.
  const h = harness(new FakeCompute({}, 300), new FakeServing());
  // What `sentinel runs` and `sentinel status` show meanwhile, read from the home as the CLI reads it.
  const seen: RunRow[][] = [];
  let statusText: string[] | undefined;
  const watcher = every(50, async () => {
    const history = new LocalRunHistory({ home: h.home });
    const records = await history.listRuns();
    const rows = listRuns(records, {}, undefined, Date.now());
    seen.push(rows);
    const queued = records.find((r) => r.waiting && r.waiting.position === 2);
    if (queued && !statusText) {
      const lines: string[] = [];
      printStatus(await runStatus(history, queued, Date.now()), Date.now(), (s) => void lines.push(s));
      statusText = lines;
    }
  });
  try {
    const t0 = Date.now();
    const runs = await Promise.all(
      ([['low', 0], ['mid', 1], ['high', 5]] as const).map(([name, priority]) => h.start(`queue-${name}`, { ...referenceSpec(), maxConcurrentRuns: 1, priority }).then((r) => ({ ...r, name, priority }))),
    );
    const wallMs = Date.now() - t0;
    await watcher.stop();
    for (const r of runs) assert.equal(r.outcome.status, 'SUCCEEDED', `${r.name}: ${JSON.stringify(r.outcome)}`);
    const records = runs.map((r) => ({ ...r, record: readJson<RunRecord>(join(h.artifactRoot, 'breast-cancer', r.runId, 'run.json')) }));
    for (const r of records) assert.ok(['SUCCEEDED'].includes(r.record.status), `${r.name} run.json ${r.record.status}`);
    // One after another: each run's record starts (slot taken) after the previous one ended.
    const byStart = [...records].sort((a, b) => Date.parse(a.record.startedAt) - Date.parse(b.record.startedAt));
    for (let i = 1; i < byStart.length; i++) {
      assert.ok(Date.parse(byStart[i]!.record.startedAt) >= Date.parse(byStart[i - 1]!.record.endedAt!), `${byStart[i]!.name} started before ${byStart[i - 1]!.name} ended`);
    }
    // Whichever took the slot first, the two that waited went in priority order (higher first).
    const waited = byStart.slice(1);
    assert.ok(waited[0]!.priority > waited[1]!.priority, `waiting runs ran as ${waited.map((w) => w.name).join(', ')}`);
    // Their run.json says they waited, behind which run, and for how long.
    for (const w of waited) {
      assert.ok(w.record.queued, `${w.name} run.json has no queued note`);
      assert.ok(w.record.queued.waitedMs > 0);
      assert.ok(w.record.queued.behindAtEnqueue.includes(byStart[0]!.runId), `${w.name} was behind ${w.record.queued.behindAtEnqueue.join(', ')}`);
    }
    assert.equal(byStart[0]!.record.queued, undefined);
    // The wait is PrepareRun retrying RunQueued; nothing else started before the slot was taken.
    const retries = waited.map((w) => w.execution.events.filter((e) => e.type === 'StateRetried' && e.state?.name === 'PrepareRun').length);
    for (const n of retries) assert.ok(n >= 1);
    for (const r of runs) assert.deepEqual(statesEntered(r.execution.events).filter((s) => s !== 'PrepareRun').slice(0, 4), ['Ingest', 'Train', 'Tune', 'Evaluate']);
    // The slot record is empty again: every run released its slot.
    const slots = readJson<{ holders: unknown[]; waiters: unknown[] }>(join(h.artifactRoot, 'breast-cancer', 'run-slots.json'));
    assert.deepEqual([slots.holders.length, slots.waiters.length], [0, 0]);
    // While they waited, the listing showed them QUEUED (no run.json yet), in queue order, behind the holder.
    const both = seen.find((rows) => rows.filter((r) => r.status === 'QUEUED').length === 2);
    assert.ok(both, `never saw two QUEUED runs; statuses seen: ${[...new Set(seen.map((rows) => rows.map((r) => r.status).join(',')))].join(' | ')}`);
    const queued = both.filter((r) => r.status === 'QUEUED').sort((a, b) => a.waiting!.position - b.waiting!.position);
    assert.deepEqual(queued.map((r) => [r.waiting!.position, r.waiting!.priority]), [[1, Math.max(waited[0]!.priority, waited[1]!.priority)], [2, Math.min(waited[0]!.priority, waited[1]!.priority)]]);
    assert.deepEqual(queued[1]!.waiting!.ahead, [queued[0]!.runId]);
    assert.deepEqual(queued[0]!.waiting!.heldBy, [byStart[0]!.runId]);
    assert.equal(queued[0]!.outcome.reason, `waiting for a run slot: position 1, next; 1/1 slot held by ${byStart[0]!.runId}`);
    assert.equal(queued[0]!.trigger, 'manual');
    // (No live session is passed here, so the holder's RUNNING record reads INTERRUPTED; never QUEUED.)
    assert.equal(both.find((r) => r.runId === byStart[0]!.runId)?.status, 'INTERRUPTED', 'the holder is listed from its run.json');
    // `sentinel status` of the second in line says where it is.
    assert.ok(statusText, 'status was never taken of a run at position 2');
    assert.match(statusText[0]!, /QUEUED/);
    assert.match(statusText.join('\n'), new RegExp(`outcome +queued: waiting for a run slot: position 2, behind ${queued[0]!.runId}; 1/1 slot held by`));
    assert.match(statusText.join('\n'), /queued +since .*priority \d+; last asked for a slot/);
    // And once all ended, nothing is QUEUED.
    const after = listRuns(await new LocalRunHistory({ home: h.home }).listRuns(), {}, undefined, Date.now());
    assert.deepEqual(after.map((r) => r.status), ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    console.log(
      `run queue: 3 runs, maxConcurrentRuns 1, wall ${wallMs} ms; order ${byStart.map((r) => `${r.name}(p${r.priority})`).join(' → ')}; ` +
        `waited ${waited.map((w) => `${w.name} ${w.record.queued!.waitedMs} ms`).join(', ')}; PrepareRun retries ${retries.join(', ')}`,
    );
  } finally {
    await watcher.stop();
    await h.cleanup();
  }
});

test('maxConcurrentRuns 2: two of three run side by side, the third waits for a slot', async () => {
  const h = harness(new FakeCompute({}, 300), new FakeServing());
  try {
    const runs = await Promise.all(['a', 'b', 'c'].map((n) => h.start(`pair-${n}`, { ...referenceSpec(), maxConcurrentRuns: 2 })));
    for (const r of runs) assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
    const records = runs.map((r) => readJson<RunRecord>(join(h.artifactRoot, 'breast-cancer', r.runId, 'run.json')));
    assert.equal(records.filter((r) => r.queued).length, 1);
    const [x, y] = records.filter((r) => !r.queued);
    assert.ok(Date.parse(x!.startedAt) < Date.parse(y!.endedAt!) && Date.parse(y!.startedAt) < Date.parse(x!.endedAt!), 'the first two overlapped');
  } finally {
    await h.cleanup();
  }
});
