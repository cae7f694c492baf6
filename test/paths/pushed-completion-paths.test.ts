// Pushed completions on the deployable ASL and the real handlers: each stage job's own write of its result.json is
// announced by the local bucket as S3 Object Created, routed by the stage-result-written rule to the completion
// queue, and completes the waiting task, with the watcher never running (its interval an hour). Delivered three
// times in shuffled order, each task is still completed once. A failing job's own write of its failure record
// (failure.json) fails its task the same way, by the stage-failure-written rule. A job that dies without writing is
// left to the watcher, the safety net.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from '../support/harness.js';
import { FakeCompute, FakeServing } from '../support/fakes.js';

const HOUR = 3_600_000;

test('every stage completes through its own result.json write, the watcher never runs', async () => {
  const compute = new FakeCompute();
  const h = harness(compute, new FakeServing(), { watchIntervalMs: HOUR });
  try {
    const r = await h.start('pushed-1');
    assert.equal(r.outcome.status, 'SUCCEEDED', `${r.outcome.error}: ${r.outcome.cause}`);
    assert.equal(h.runtime.invocations['watch-jobs'] ?? 0, 0, 'the watcher did not run');
    const routed = (rule: string) => h.runtime.bus.log.filter((e) => e.matched.includes(rule));
    assert.deepEqual(
      routed('stage-result-written').map((e) => (e.event.detail as { object: { key: string } }).object.key),
      ['ingest', 'train', 'tune', 'evaluate'].map((s) => `artifacts/breast-cancer/${r.runId}/${s}/result.json`),
    );
    assert.equal(routed('job-completed').length, 0);
    assert.equal(h.runtime.broker.counts.success, 4);
    assert.equal(h.runtime.broker.pending, 0);
    assert.equal(h.runtime.queue.deadLetters.length, 0);
    // Other objects the run wrote (run.json, champion.json) were announced too, as S3 would, and matched no rule.
    assert.ok(h.runtime.bus.log.some((e) => e.event.source === 'aws.s3' && e.matched.length === 0));
  } finally {
    await h.cleanup();
  }
});

test('delivered 3 times in shuffled order, each pushed completion completes its task once', async () => {
  const compute = new FakeCompute();
  const h = harness(compute, new FakeServing(), { watchIntervalMs: HOUR });
  h.runtime.bus.faults = { copies: 3, maxDelayMs: 30 };
  try {
    const r = await h.start('pushed-dup');
    assert.equal(r.outcome.status, 'SUCCEEDED', `${r.outcome.error}: ${r.outcome.cause}`);
    await h.settle();
    assert.equal(h.runtime.broker.counts.success, 4, 'one success per stage');
    assert.equal(h.runtime.broker.counts.failure, 0);
    assert.equal(h.runtime.invocations['complete-stage'], 12, 'every copy was consumed');
    assert.equal(h.runtime.queue.deadLetters.length, 0);
  } finally {
    await h.cleanup();
  }
});

test('a job that dies without writing is completed by the watcher (the safety net)', async () => {
  const compute = new FakeCompute({ train: [{ kind: 'fail', message: 'ValidationFailed: column x is empty' }] });
  const h = harness(compute, new FakeServing(), { watchIntervalMs: 10 });
  try {
    const r = await h.start('pushed-die');
    assert.equal(r.outcome.status, 'FAILED');
    const routed = (rule: string) => h.runtime.bus.log.filter((e) => e.matched.includes(rule));
    assert.deepEqual(routed('stage-result-written').map((e) => (e.event.detail as { object: { key: string } }).object.key), [`artifacts/breast-cancer/${r.runId}/ingest/result.json`]);
    assert.ok(routed('job-completed').some((e) => (e.event.detail as { stage: string; state: string }).stage === 'train'));
    assert.equal(h.runtime.broker.counts.failure, 1);
  } finally {
    await h.cleanup();
  }
});

test('a failing job’s own failure.json fails its task by the push, with the port’s named error; the watcher never runs', async () => {
  const compute = new FakeCompute({ train: [{ kind: 'fail', message: 'Job entrypoint command failed with exit code 1\nValidationFailed: column x is empty', writesFailure: true }] });
  const h = harness(compute, new FakeServing(), { watchIntervalMs: HOUR });
  try {
    const r = await h.start('pushed-fail');
    assert.equal(r.outcome.status, 'FAILED');
    assert.equal(r.outcome.error, 'ValidationFailed');
    assert.match(r.outcome.cause!, /column x is empty/);
    assert.equal(h.runtime.invocations['watch-jobs'] ?? 0, 0, 'the watcher did not run');
    const routed = (rule: string) => h.runtime.bus.log.filter((e) => e.matched.includes(rule));
    const keys = (rule: string) => routed(rule).map((e) => (e.event.detail as { object: { key: string } }).object.key);
    assert.deepEqual(keys('stage-failure-written'), [`artifacts/breast-cancer/${r.runId}/train/failure.json`]);
    assert.deepEqual(keys('stage-result-written'), [`artifacts/breast-cancer/${r.runId}/ingest/result.json`]);
    assert.equal(routed('job-completed').length, 0);
    assert.deepEqual([h.runtime.broker.counts.success, h.runtime.broker.counts.failure, h.runtime.broker.pending], [1, 1, 0]);
    assert.equal(h.runtime.queue.deadLetters.length, 0);
  } finally {
    await h.cleanup();
  }
});
