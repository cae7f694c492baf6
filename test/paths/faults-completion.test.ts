// Fault cases of the completion path (issue 14): forged events, poison messages, 3x shuffled delivery. The cases
// (test/support/completion-faults.ts) run the real consumer; each row says what was injected, what happened, and
// what was lost and orphaned (nothing). Then the same faults on the local runtime, through the deployable ASL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { completionFaults, type FaultRow } from '../support/completion-faults.js';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { harness } from '../support/harness.js';
import { jobStateChangeEvent } from '../../events/job-state-change.js';
import { labelsFor, parseJobName } from '../../core/names.js';

const rows: FaultRow[] = [];
const byName = (n: string) => completionFaults.find((c) => c.name === n)!.run();

test('forged completion events: none completes a stage; the real completions that follow do, with the runs’ own results', async () => {
  const row = await byName('forged completion events');
  rows.push(row);
  assert.equal(row.figures.rejected, row.figures.injected, 'every forged record failed (to the DLQ)');
  assert.equal(row.figures.completedByForged, 0);
  assert.equal(row.figures.foreign, 0, 'no stage got the attacker’s results');
  assert.equal(row.figures.own, row.figures.injected);
  assert.equal(row.figures.honestFailures, 0);
  assert.deepEqual([row.lost, row.orphaned], [0, 0]);
});

test('poison messages: each is in batchItemFailures, its neighbours complete', async () => {
  const row = await byName('poison messages');
  rows.push(row);
  assert.equal(row.figures.failed, row.figures.poison);
  assert.equal(row.figures.misreported, 0, 'exactly the poison records failed');
  assert.equal(row.figures.own, row.figures.good);
  assert.deepEqual([row.lost, row.orphaned], [0, 0]);
});

test('3x shuffled delivery with forged copies: each stage completes exactly once, with its own results', async () => {
  const row = await byName('3x shuffled delivery');
  rows.push(row);
  assert.equal(row.figures.own, 8);
  assert.deepEqual([row.figures.foreign, row.figures.extra], [0, 0]);
  assert.equal(row.figures.failed, 8, 'the forged copies, and nothing else (before or after the real completion)');
  assert.deepEqual([row.lost, row.orphaned], [0, 0]);
});

test('on the local runtime: forged and poison messages mid-run, every event delivered 3x → the run succeeds on its own results; the bad ones are dead-lettered', async () => {
  const compute = new FakeCompute({}, 150);
  const h = harness(compute, new FakeServing());
  h.runtime.bus.faults = { copies: 3, maxDelayMs: 30 };
  try {
    const run = h.start('forged-mid-run');
    for (let i = 0; i < 500 && !compute.submits.some((j) => j.endsWith('-train-1')); i++) await new Promise((r) => setTimeout(r, 5));
    const train = compute.submits.find((j) => j.endsWith('-train-1'))!;
    assert.equal(compute.jobs.get(train)!.state, 'RUNNING');
    assert.deepEqual(compute.jobs.get(train)!.labels, { ...compute.jobs.get(train)!.labels, ...labelsFor(parseJobName(train)!) });
    // A forged SUCCEEDED event for the running train job, pointing at an attacker's folder, and two poison messages
    // straight into the completion queue. (A lie with the right root, for a job still running, is rejected until the
    // job really ends: test/unit/complete-stage.test.ts.)
    const attacker = join(h.artifactRoot, 'attacker-controlled');
    const forged = jobStateChangeEvent('ray-jobs', { jobId: train, state: 'SUCCEEDED', labels: {}, startTime: 0, endTime: 1 }, attacker, new Date())!;
    h.runtime.bus.faults = undefined;
    await h.runtime.bus.publish([forged]);
    await h.runtime.queue.send('not json');
    await h.runtime.queue.send(JSON.stringify({ source: 'sentinel.jobs', 'detail-type': 'Ray Job State Change', detail: { jobId: train } }));
    h.runtime.bus.faults = { copies: 3, maxDelayMs: 30 };
    const r = await run;
    assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
    await new Promise((res) => setTimeout(res, 150));
    await h.runtime.queue.drained();
    const out = r.outcome.output as { stages: Record<string, { resultUri: string; metrics: Record<string, number> }> };
    assert.ok(out.stages.train!.resultUri.startsWith(join(h.artifactRoot, 'breast-cancer', r.runId)), out.stages.train!.resultUri);
    assert.equal(out.stages.train!.metrics.validation_roc_auc, 0.95, 'the job’s own result');
    assert.equal(h.runtime.broker.counts.success, 4, 'one completion per stage');
    assert.equal(h.runtime.queue.deadLetters.length, 3, 'the forged event and the two poison messages, after 3 receives each');
    assert.equal(JSON.parse(h.runtime.queue.deadLetters[0]!.body).detail.artifactRoot, attacker);
    assert.ok(h.runtime.queue.deadLetters.every((d) => d.receives === 3));
    rows.push({
      fault: 'forged + poison on the local runtime (3x delivery)',
      injected: '1 forged SUCCEEDED event for the running train job, 2 poison messages, every event 3x',
      happened: `run ${r.outcome.status}, ${h.runtime.broker.counts.success} stage completions, ${h.runtime.queue.deadLetters.length} dead-lettered`,
      lost: 0,
      orphaned: h.runtime.broker.pending,
      figures: { deadLetters: h.runtime.queue.deadLetters.length, completions: h.runtime.broker.counts.success },
    });
    assert.equal(h.runtime.broker.pending, 0);
  } finally {
    await h.cleanup();
  }
});

test('fault table', () => {
  console.log(['fault | injected | happened | lost | orphaned', ...rows.map((r) => `${r.fault} | ${r.injected} | ${r.happened} | ${r.lost} | ${r.orphaned}`)].join('\n'));
  assert.ok(rows.every((r) => r.lost === 0 && r.orphaned === 0));
});
