// Event flows on the local runtime: AWS-shaped events on the local bus, routed by the project's own rules to the
// real handlers; compute is an in-memory double of Sentinel's compute port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { harness, statesEntered } from '../support/harness.js';
import { delivered, ec2Event, s3Upload } from '../support/events.js';
import { LOCAL_BUCKET } from '../../local/runtime.js';
import { LOCAL_INSTANCE_ID } from '../../local/local-cluster.js';

const publish = (h: ReturnType<typeof harness>, e: Record<string, any>) =>
  h.runtime.bus.publish([{ source: e.source, 'detail-type': e['detail-type'], detail: e.detail, resources: e.resources }]);

test('an upload under datasets/<pipeline>/ starts one run of that pipeline on that object', async () => {
  const compute = new FakeCompute();
  const h = harness(compute, new FakeServing());
  try {
    await publish(h, s3Upload(LOCAL_BUCKET, 'datasets/breast-cancer/data.csv', { size: 20, 'version-id': 'v1' }));
    assert.equal(await h.settle(), 1);
    const [exec] = [...(h.runtime as any).executions.values()];
    assert.equal((await exec.result).status, 'SUCCEEDED');
    assert.equal(exec.input.run.datasetUri, h.datasetUri);
    assert.deepEqual(exec.input.run.trigger, { kind: 's3', bucket: LOCAL_BUCKET, key: 'datasets/breast-cancer/data.csv', versionId: 'v1', sequencer: '617f08299329d189', etag: 'b1946ac92492d2347c6235b4d2611184' });
  } finally {
    await h.cleanup();
  }
});

test('uploads outside datasets/, folder markers, unknown pipelines and deletions start nothing', async () => {
  const compute = new FakeCompute();
  const h = harness(compute, new FakeServing());
  try {
    await publish(h, s3Upload(LOCAL_BUCKET, 'other/breast-cancer/data.csv'));
    await publish(h, s3Upload(LOCAL_BUCKET, 'datasets/breast-cancer/', { size: 0 }));
    await publish(h, s3Upload('someone-elses-bucket', 'datasets/breast-cancer/data.csv'));
    await assert.rejects(h.runtime.invoke('start-run', s3Upload(LOCAL_BUCKET, 'datasets/unknown-pipeline/data.csv').valueOf()), { name: 'ValidationFailed', message: /no pipeline "unknown-pipeline" is deployed/ });
    const ignored = (await h.runtime.invoke('start-run', s3Upload(LOCAL_BUCKET, 'datasets/breast-cancer/', { size: 0 }))) as { started: boolean; reason: string };
    assert.deepEqual(ignored, { started: false, reason: 'key datasets/breast-cancer/ is a folder marker or empty object' });
    assert.equal(await h.settle(), 0);
    assert.equal(compute.submits.length, 0);
    // The rule itself filters the other prefix and the other bucket; the handler filters the folder marker.
    assert.deepEqual(h.runtime.bus.log.map((l) => l.matched), [[], ['dataset-uploaded'], []]);
  } finally {
    await h.cleanup();
  }
});

test('a schedule retrains on the latest dataset, skips when nothing changed since the champion, unless forced', async () => {
  const compute = new FakeCompute();
  const h = harness(compute, new FakeServing());
  try {
    const tick = (time: string, force = false) => h.runtime.invoke('start-run', { kind: 'schedule', pipeline: 'breast-cancer', time, ...(force ? { force } : {}) }) as Promise<{ started: boolean; reason?: string; runId?: string }>;
    const first = await tick('2026-11-23T03:00:00Z');
    assert.equal(first.started, true);
    await h.settle(); // promoted: the champion was trained on data.csv
    const second = await tick('2026-11-24T03:00:00Z');
    assert.equal(second.started, false);
    assert.match(second.reason!, /nothing changed: champion r[0-9a-f]{9} was trained on .*data\.csv/);
    const forced = await tick('2026-11-24T03:00:00Z', true);
    assert.equal(forced.started, true);
    await h.settle();
    // A newer upload is what the next tick trains on.
    mkdirSync(join(h.bucket, 'datasets', 'breast-cancer'), { recursive: true });
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(h.bucket, 'datasets', 'breast-cancer', 'newer.csv'), 'a,b,target\n5,6,1\n7,8,0\n');
    const third = await tick('2026-11-25T03:00:00Z');
    assert.equal(third.started, true);
    await h.settle();
    const runs = [...(h.runtime as any).executions.values()];
    assert.match(runs.at(-1).input.run.datasetUri, /newer\.csv$/);
    const none = await h.runtime.invoke('start-run', { kind: 'schedule', pipeline: 'nothing-uploaded', time: 'x' }).catch((e: Error) => e.message);
    assert.match(String((none as { reason?: string }).reason ?? none), /no dataset uploaded under datasets\/nothing-uploaded\//);
  } finally {
    await h.cleanup();
  }
});

test('a spot warning marks the running job, evicts it, and the stage is retried as SpotInterrupted in the same folder', async () => {
  const compute = new FakeCompute({ train: [{ kind: 'hang' }, { kind: 'succeed' }] });
  const h = harness(compute, new FakeServing());
  try {
    const run = h.start('spot-event');
    // Wait for the first train attempt to be running, then the 2-minute notice arrives.
    for (let i = 0; i < 500 && !compute.submits.some((j) => j.endsWith('-train-1')); i++) await new Promise((r) => setTimeout(r, 10));
    await publish(h, ec2Event('ec2-spot-instance-interruption-warning', LOCAL_INSTANCE_ID));
    const r = await run;
    assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
    const retried = r.execution.events.filter((e) => e.type === 'StateRetried').map((e) => e.state!.name);
    assert.deepEqual(retried, ['Train']);
    const failed = r.execution.events.find((e) => e.type === 'StateFailed' && e.state?.name === 'Train');
    assert.equal(failed?.error, 'SpotInterrupted');
    assert.deepEqual(compute.submits.filter((j) => j.includes('-train-')).map((j) => j.slice(-2)), ['-1', '-2']);
    assert.equal(compute.jobs.get(compute.submits.find((j) => j.endsWith('-train-1'))!)!.state, 'STOPPED');
    const handled = h.runtime.bus.log.find((l) => l.event.source === 'sentinel.interruptions');
    assert.deepEqual((handled!.event.detail as { markedJobs: string[] }).markedJobs.map((j) => j.slice(-8)), ['-train-1']);
    assert.equal(h.runtime.interruptions.deadLetters.length, 0);
  } finally {
    await h.cleanup();
  }
});

test('EC2 events for other instances are acknowledged; unknown detail-types and undecodable messages are dead-lettered', async () => {
  const h = harness(new FakeCompute(), new FakeServing());
  try {
    await publish(h, ec2Event('ec2-spot-instance-interruption-warning', 'i-1234567890abcdef0'));
    await publish(h, ec2Event('ec2-instance-rebalance-recommendation', 'i-1234567890abcdef0'));
    const unknown = JSON.stringify(delivered({ source: 'aws.ec2', 'detail-type': 'EC2 Something New', detail: {} }));
    await h.runtime.interruptions.send(unknown);
    await h.runtime.interruptions.send('not json');
    assert.deepEqual(h.runtime.interruptions.deadLetters, [{ body: unknown, receives: 3 }, { body: 'not json', receives: 3 }]);
    assert.equal(h.runtime.invocations['handle-interruption'], 2 + 3 + 3, 'the foreign instances once each; the malformed ones until the redrive limit');
  } finally {
    await h.cleanup();
  }
});

test('fault test: every event delivered three times, out of order → one execution per trigger, one job and one completion per stage', async () => {
  const compute = new FakeCompute();
  const h = harness(compute, new FakeServing());
  h.runtime.bus.faults = { copies: 3, maxDelayMs: 40 };
  try {
    writeFileSync(join(h.bucket, 'datasets', 'breast-cancer', 'second.csv'), 'a,b,target\n1,2,1\n3,4,0\n');
    // Two uploads, each delivered three times with random delays (so copies interleave across triggers).
    await Promise.all([
      publish(h, s3Upload(LOCAL_BUCKET, 'datasets/breast-cancer/data.csv', { 'version-id': 'a' })),
      publish(h, s3Upload(LOCAL_BUCKET, 'datasets/breast-cancer/second.csv', { 'version-id': 'b' })),
    ]);
    assert.equal(await h.settle(), 2, 'one execution per trigger');
    const executions = [...(h.runtime as any).executions.values()];
    for (const e of executions) assert.equal((await e.result).status, 'SUCCEEDED');
    assert.equal(compute.submits.length, 8, 'one Ray job per stage per run');
    for (const stage of ['ingest', 'train', 'tune', 'evaluate']) assert.equal(compute.submits.filter((j) => j.includes(`-${stage}-1`)).length, 2);
    // Late copies are still in flight when the runs end: let them land, then count.
    await new Promise((r) => setTimeout(r, 200));
    await h.runtime.queue.drained();
    assert.equal(h.runtime.broker.counts.success, 8, 'one completion per stage');
    assert.equal(h.runtime.invocations['complete-stage']! >= 24, true, 'every completion event arrived three times');
    assert.equal(h.runtime.queue.deadLetters.length, 0);
    for (const e of executions) assert.deepEqual(statesEntered(e.events).filter((s: string) => s === 'Ingest'), ['Ingest']);
  } finally {
    await h.cleanup();
  }
});
