// State-machine path tests: the deployable ASL on aws-local-stepfunctions, the real handlers, the local callback
// broker, bus and queue; compute and serving are in-memory doubles of Sentinel's own ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { harness, statesEntered } from '../support/harness.js';
import type { ChampionRecord, RunRecord } from '../../core/model.js';

const readJson = <T>(p: string) => JSON.parse(readFileSync(p, 'utf8')) as T;

test('happy path: every stage runs once, the candidate clears the floor and is promoted', async () => {
  const compute = new FakeCompute();
  const serving = new FakeServing();
  const h = harness(compute, serving);
  try {
    const r = await h.start('happy');
    assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
    assert.deepEqual(statesEntered(r.execution.events), ['PrepareRun', 'Ingest', 'Train', 'Tune', 'Evaluate', 'Gate', 'ShouldPromote', 'Promote', 'PromotionServing', 'RecordPromoted', 'Promoted']);
    assert.equal(compute.submits.length, 4);
    const out = r.outcome.output as { gate: { promote: boolean; reason: string; candidateSource: string }; promotion: { endpoint: string } };
    assert.equal(out.gate.promote, true);
    assert.match(out.gate.reason, /no champion yet; candidate roc_auc 0.96 clears the floor 0.9/);
    assert.equal(out.gate.candidateSource, 'tune'); // tune's validation metric (0.97) beat train's (0.95)
    assert.equal(out.promotion.endpoint, 'http://127.0.0.1:8000/predict');
    // The serve config points at the tuned model.
    assert.match(serving.applied[0]!.applications[0]!.args.model_uri, /\/tune\/model$/);
    const champion = readJson<ChampionRecord>(join(h.artifactRoot, 'breast-cancer', 'champion.json'));
    assert.equal(champion.current.runId, r.runId);
    const record = readJson<RunRecord>(join(h.artifactRoot, 'breast-cancer', r.runId, 'run.json'));
    assert.equal(record.status, 'SUCCEEDED');
    assert.deepEqual(record.outcome, { promoted: true, reason: out.gate.reason });
    // Every waiting task was completed through the bus → queue → consumer path, nothing left parked.
    assert.equal(h.runtime.broker.pending, 0);
    // Each stage job's write of its result.json was announced (the pushed path); the watcher's event, where it came
    // first, is the other way in (whichever finds the token first completes the task, the other finds none).
    assert.equal(h.runtime.bus.log.filter((e) => e.matched.includes('stage-result-written')).length, 4);
    assert.ok(h.runtime.bus.log.filter((e) => e.matched.includes('job-completed')).length <= 4);
  } finally {
    await h.cleanup();
  }
});

test('transient error: compute unavailable on submit is retried with backoff, then the run succeeds', async () => {
  const compute = new FakeCompute({ train: [{ kind: 'unavailable' }, { kind: 'unavailable' }, { kind: 'succeed' }] });
  const h = harness(compute, new FakeServing());
  try {
    const r = await h.start('transient');
    assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
    const retried = r.execution.events.filter((e) => e.type === 'StateRetried').map((e) => e.state!.name);
    assert.deepEqual(retried, ['Train', 'Train']);
    assert.equal(compute.submits.filter((j) => j.includes('-train-')).length, 1);
  } finally {
    await h.cleanup();
  }
});

test('spot interruption: the stage is retried as a new attempt in the same stage folder', async () => {
  const compute = new FakeCompute({ tune: [{ kind: 'interrupted' }, { kind: 'succeed' }] });
  const h = harness(compute, new FakeServing());
  try {
    const r = await h.start('spot');
    assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
    const tuneJobs = compute.submits.filter((j) => j.includes('-tune-'));
    assert.deepEqual(tuneJobs.map((j) => j.slice(-2)), ['-1', '-2']);
    const [a, b] = tuneJobs.map((j) => (compute.jobs.get(j)!.req.input as { stageUri: string }).stageUri);
    assert.equal(a, b); // same folder: the retry resumes from the checkpoint the first attempt left
  } finally {
    await h.cleanup();
  }
});

test('job failure is caught: the run fails with RayJobFailed, the job message and log tail, and is recorded', async () => {
  const compute = new FakeCompute({ train: [{ kind: 'fail', message: 'ValueError: bad params' }] });
  const h = harness(compute, new FakeServing());
  try {
    const r = await h.start('fails');
    assert.equal(r.outcome.status, 'FAILED');
    assert.equal(r.outcome.error, 'RayJobFailed');
    assert.match(r.outcome.cause!, /train job breast-cancer-r[0-9a-f]{9}-train-1 FAILED: ValueError: bad params/);
    assert.match(r.outcome.cause!, /last 30 log lines[\s\S]*Traceback: boom/);
    assert.deepEqual(statesEntered(r.execution.events).slice(-4), ['Train', 'TrainFailed', 'RecordFailure', 'Failed']);
    assert.equal(compute.submits.filter((j) => j.includes('-tune-')).length, 0, 'nothing runs after the failure');
    const record = readJson<RunRecord>(join(h.artifactRoot, 'breast-cancer', r.runId, 'run.json'));
    assert.equal(record.status, 'FAILED');
    assert.equal((record.outcome as { error: string; stage: string }).error, 'RayJobFailed');
    assert.equal((record.outcome as { stage: string }).stage, 'Train');
  } finally {
    await h.cleanup();
  }
});

test('gate says no: a candidate below the champion by the margin is not promoted, and the run says why', async () => {
  const serving = new FakeServing();
  const first = new FakeCompute({ evaluate: [{ kind: 'succeed', metrics: { candidate_roc_auc: 0.96 } }] });
  const h = harness(first, serving);
  try {
    const r1 = await h.start('champion');
    assert.equal((r1.outcome.output as { gate: { promote: boolean } }).gate.promote, true);
    // Second run: the evaluate job scores the champion on the same split; the candidate gains only 0.001 < 0.002.
    (first as unknown as { script: object }).script = { evaluate: [{ kind: 'succeed', metrics: { candidate_roc_auc: 0.961, champion_roc_auc: 0.96 } }] };
    const r2 = await h.start('challenger');
    assert.equal(r2.outcome.status, 'SUCCEEDED');
    const out = r2.outcome.output as { gate: { promote: boolean; reason: string } };
    assert.equal(out.gate.promote, false);
    assert.match(out.gate.reason, /does not beat champion 0.96 by the margin 0.002/);
    assert.deepEqual(statesEntered(r2.execution.events).slice(-3), ['ShouldPromote', 'RecordNotPromoted', 'NotPromoted']);
    assert.equal(serving.applied.length, 1, 'serving untouched');
    const champion = readJson<ChampionRecord>(join(h.artifactRoot, 'breast-cancer', 'champion.json'));
    assert.equal(champion.current.runId, r1.runId);
    // The evaluate job was told about the champion's model.
    const evalJob = [...first.jobs.values()].find((j) => j.jobId.includes(r2.runId) && j.jobId.includes('-evaluate-'))!;
    assert.equal((evalJob.req.input as { params: { champion: { runId: string } } }).params.champion.runId, r1.runId);
  } finally {
    await h.cleanup();
  }
});

test('a bad run input is rejected before any compute: missing dataset', async () => {
  const compute = new FakeCompute();
  const h = harness(compute, new FakeServing());
  try {
    const r = await h.start('no-data', undefined, join(h.bucket, 'datasets', 'missing.csv'));
    assert.equal(r.outcome.status, 'FAILED');
    assert.equal(r.outcome.error, 'ValidationFailed');
    assert.match(r.outcome.cause!, /dataset not found at .*missing\.csv/);
    assert.deepEqual(statesEntered(r.execution.events), ['PrepareRun', 'Rejected']);
    assert.equal(compute.submits.length, 0);
  } finally {
    await h.cleanup();
  }
});

test('a lost job (no heartbeat) fails its task, and the failed run stops the jobs it left running', async () => {
  const compute = new FakeCompute({ ingest: [{ kind: 'hang' }] });
  const h = harness(compute, new FakeServing(), { workflow: { heartbeatSeconds: 1 } });
  // Stop the watcher's heartbeats for this test by making heartbeat a no-op: the job is "lost".
  h.runtime.broker.heartbeat = async () => 'ok';
  try {
    const r = await h.start('lost');
    assert.equal(r.outcome.status, 'FAILED');
    assert.equal(r.outcome.error, 'States.HeartbeatTimeout');
    // Retried once: the retry finds the job still there and waits on it again (no duplicate job), then the run
    // fails and RecordFailure stops the job that was left running.
    assert.deepEqual(r.execution.events.filter((e) => e.type === 'StateRetried').map((e) => e.state!.name), ['Ingest']);
    assert.deepEqual(compute.submits.map((j) => j.slice(-9)), ['-ingest-1']);
    assert.deepEqual(compute.stops, compute.submits);
    assert.equal(compute.jobs.get(compute.submits[0]!)!.state, 'STOPPED');
  } finally {
    await h.cleanup();
  }
});

test('a repeated start with the same trigger starts one execution', async () => {
  const compute = new FakeCompute();
  const h = harness(compute, new FakeServing());
  try {
    const a = await h.start('same-request');
    const b = await h.start('same-request');
    assert.equal(a.runId, b.runId);
    assert.equal(b.alreadyStarted, true);
    assert.equal(compute.submits.length, 4);
  } finally {
    await h.cleanup();
  }
});
