// events/: the EventBridge matcher's semantics matcher by matcher, the job state change event both ways, and the
// routes and schedules of a deployment; core/job-status.ts: how a job's state becomes a stage outcome.
import { runEventsPattern } from '../../events/run-events.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matches } from '../../events/match.js';
import { jobFromDetail, jobStateChangeEvent, JobStateChangeDetailSchema, JOB_EVENT_DETAIL_TYPE, JOB_EVENT_SOURCE } from '../../events/job-state-change.js';
import { routesFor, schedulesFor } from '../../events/routes.js';
import { datasetUploadedPattern, instanceStateChangePattern, jobCompletedPattern, patterns, spotInterruptionPattern, stageFailureWrittenPattern, stageResultWrittenPattern, DATASETS_PREFIX } from '../../events/patterns.js';
import { isTerminal, jobSeconds, stageOutcome, JOB_STATES, TERMINAL_STATES } from '../../core/job-status.js';

const m = (pattern: Parameters<typeof matches>[0], event: unknown) => matches(pattern, event);

test('exact values, exists, and missing fields', () => {
  assert.equal(m({ a: ['x'] }, { a: 'x' }), true);
  assert.equal(m({ a: ['x'] }, { a: 'y' }), false);
  assert.equal(m({ a: ['x'] }, {}), false);
  assert.equal(m({ a: [1] }, { a: '1' }), false, 'types matter');
  assert.equal(m({ a: [null] }, { a: null }), true);
  assert.equal(m({ a: ['x', 'y'] }, { a: 'y' }), true, 'any listed value');
  assert.equal(m({ a: [{ exists: true }] }, { a: 0 }), true);
  assert.equal(m({ a: [{ exists: true }] }, {}), false);
  assert.equal(m({ a: [{ exists: false }] }, {}), true);
  assert.equal(m({ a: [{ exists: false }] }, { a: 'x' }), false);
  assert.equal(m({}, { a: 1 }), true, 'an empty pattern matches everything');
  assert.equal(m({ a: ['x'] }, 'not an object'), false);
  assert.equal(m({ a: [{ exists: false }] }, null), true);
  // Nested patterns need an object there.
  assert.equal(m({ d: { k: ['v'] } }, { d: { k: 'v' } }), true);
  assert.equal(m({ d: { k: ['v'] } }, { d: 'k' }), false);
  assert.equal(m({ d: { k: [{ exists: false }] } }, { d: ['k'] }), true, 'a non-object is treated as empty');
  assert.equal(m({ d: { k: ['v'] } }, { d: { k: 'w' } }), false);
});

test('prefix, suffix, equals-ignore-case and their case-insensitive forms; strings only', () => {
  assert.equal(m({ k: [{ prefix: 'data' }] }, { k: 'datasets/x' }), true);
  assert.equal(m({ k: [{ prefix: 'data' }] }, { k: 'Datasets/x' }), false);
  assert.equal(m({ k: [{ prefix: 'data' }] }, { k: 'x/data' }), false);
  assert.equal(m({ k: [{ prefix: '1' }] }, { k: 12 }), false);
  assert.equal(m({ k: [{ prefix: { 'equals-ignore-case': 'DATA' } }] }, { k: 'datasets' }), true);
  assert.equal(m({ k: [{ prefix: { 'equals-ignore-case': 'DATA' } }] }, { k: 'xdata' }), false);
  assert.equal(m({ k: [{ prefix: { 'equals-ignore-case': '1' } }] }, { k: 12 }), false);
  assert.equal(m({ k: [{ suffix: '.csv' }] }, { k: 'a.csv' }), true);
  assert.equal(m({ k: [{ suffix: '.csv' }] }, { k: 'a.CSV' }), false);
  assert.equal(m({ k: [{ suffix: '.csv' }] }, { k: 'a.csv.gz' }), false);
  assert.equal(m({ k: [{ suffix: '2' }] }, { k: 12 }), false);
  assert.equal(m({ k: [{ suffix: { 'equals-ignore-case': '.CSV' } }] }, { k: 'a.csv' }), true);
  assert.equal(m({ k: [{ suffix: { 'equals-ignore-case': '.CSV' } }] }, { k: 'a.csvx' }), false);
  assert.equal(m({ k: [{ suffix: { 'equals-ignore-case': '2' } }] }, { k: 12 }), false);
  assert.equal(m({ k: [{ 'equals-ignore-case': 'PutObject' }] }, { k: 'PUTOBJECT' }), true);
  assert.equal(m({ k: [{ 'equals-ignore-case': 'PutObject' }] }, { k: 'PutObjects' }), false);
  assert.equal(m({ k: [{ 'equals-ignore-case': '1' }] }, { k: 1 }), false);
  assert.equal(m({ k: [{ prefix: 'a' }] }, {}), false, 'a missing field matches no content filter');
});

test('wildcards match whole values, with * for any run and everything else literal', () => {
  assert.equal(m({ k: [{ wildcard: 'datasets/*/x.csv' }] }, { k: 'datasets/a/b/x.csv' }), true);
  assert.equal(m({ k: [{ wildcard: 'datasets/*.csv' }] }, { k: 'datasets/a.csv.bak' }), false, 'anchored at the end');
  assert.equal(m({ k: [{ wildcard: '*.csv' }] }, { k: 'a.csv' }), true);
  assert.equal(m({ k: [{ wildcard: 'a.csv' }] }, { k: 'abcsv' }), false, '. is literal');
  assert.equal(m({ k: [{ wildcard: 'a+(b)' }] }, { k: 'a+(b)' }), true);
  assert.equal(m({ k: [{ wildcard: 'x*' }] }, { k: 'ax' }), false, 'anchored at the start');
  assert.equal(m({ k: [{ wildcard: 'a*b' }] }, { k: 'a\nb' }), true, '* spans newlines');
  assert.equal(m({ k: [{ wildcard: '1*' }] }, { k: 12 }), false);
});

test('numeric ranges: every bound must hold; non-numbers never match', () => {
  const n = (ops: unknown[], v: unknown) => m({ k: [{ numeric: ops }] }, { k: v });
  assert.equal(n(['>', 0], 1), true);
  assert.equal(n(['>', 0], 0), false);
  assert.equal(n(['>=', 0], 0), true);
  assert.equal(n(['>=', 0], -1), false);
  assert.equal(n(['<', 5], 5), false);
  assert.equal(n(['<', 5], 4), true);
  assert.equal(n(['<=', 5], 5), true);
  assert.equal(n(['<=', 5], 6), false);
  assert.equal(n(['=', 3], 3), true);
  assert.equal(n(['=', 3], 4), false);
  assert.equal(n(['>', 0, '<=', 10], 10), true);
  assert.equal(n(['>', 0, '<=', 10], 11), false);
  assert.equal(n(['>', 0, '<=', 10], 0), false);
  assert.equal(n(['>', 0], '1'), false);
  assert.equal(n(['~', 0], 1), false, 'an unknown operator never holds');
  assert.equal(n([], 1), true, 'no bounds');
});

test('anything-but: a value, a list, or a content filter', () => {
  assert.equal(m({ k: [{ 'anything-but': 'x' }] }, { k: 'y' }), true);
  assert.equal(m({ k: [{ 'anything-but': 'x' }] }, { k: 'x' }), false);
  assert.equal(m({ k: [{ 'anything-but': ['x', 'y'] }] }, { k: 'y' }), false);
  assert.equal(m({ k: [{ 'anything-but': ['x', 'y'] }] }, { k: 'z' }), true);
  assert.equal(m({ k: [{ 'anything-but': { prefix: 'Put' } }] }, { k: 'CopyObject' }), true);
  assert.equal(m({ k: [{ 'anything-but': { suffix: '.tmp' } }] }, { k: 'a.tmp' }), false);
  assert.equal(m({ k: [{ 'anything-but': 'x' }] }, {}), false, 'a missing field is not "anything but"');
  assert.throws(() => m({ k: [{ 'something-else': 1 }] }, { k: 1 }), 'an unknown matcher is an error, not a silent no');
});

test('arrays in the event match on any element; an empty array is like a missing field; $or needs one alternative', () => {
  assert.equal(m({ t: ['b'] }, { t: ['a', 'b'] }), true);
  assert.equal(m({ t: ['c'] }, { t: ['a', 'b'] }), false);
  assert.equal(m({ t: [{ exists: false }] }, { t: [] }), true);
  assert.equal(m({ t: [{ exists: true }] }, { t: [] }), false);
  assert.equal(m({ t: [{ prefix: 'a' }] }, { t: ['xa', 'ab'] }), true);
  assert.equal(m({ $or: [{ a: ['1'] }, { b: ['2'] }] }, { b: '2' }), true);
  assert.equal(m({ $or: [{ a: ['1'] }, { b: ['2'] }] }, { a: '2', b: '1' }), false);
  assert.equal(m({ c: ['3'], $or: [{ a: ['1'] }, { b: ['2'] }] }, { a: '1', c: '4' }), false, '$or and the other fields');
  assert.equal(m({ c: ['3'], $or: [{ a: ['1'] }, { b: ['2'] }] }, { a: '1', c: '3' }), true);
  assert.equal(m({ s: ['x'], d: { k: ['v'] } }, { s: 'x', d: { k: 'w' } }), false, 'every field must match');
});

test("the deployment's patterns: uploads of the bucket under datasets/, spot and rebalance, instances going away", () => {
  const upload = (bucket: string, key: string) => ({ source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: bucket }, object: { key } } });
  assert.equal(m(datasetUploadedPattern('b'), upload('b', 'datasets/p/x.csv')), true);
  assert.equal(m(datasetUploadedPattern('b'), upload('other', 'datasets/p/x.csv')), false);
  assert.equal(m(datasetUploadedPattern('b'), upload('b', 'models/p/x.csv')), false);
  assert.equal(m(datasetUploadedPattern('b'), { ...upload('b', 'datasets/p/x.csv'), 'detail-type': 'Object Deleted' }), false);
  assert.equal(m(datasetUploadedPattern('b'), { ...upload('b', 'datasets/p/x.csv'), source: 'aws.ec2' }), false);
  assert.equal(DATASETS_PREFIX, 'datasets/');
  const ec2 = (type: string, state?: string) => ({ source: 'aws.ec2', 'detail-type': type, detail: { 'instance-id': 'i-abcd1234', ...(state ? { state } : {}) } });
  assert.equal(m(spotInterruptionPattern, ec2('EC2 Spot Instance Interruption Warning')), true);
  assert.equal(m(spotInterruptionPattern, ec2('EC2 Instance Rebalance Recommendation')), true);
  assert.equal(m(spotInterruptionPattern, { ...ec2('EC2 Spot Instance Interruption Warning'), source: 'aws.s3' }), false);
  for (const state of ['stopping', 'stopped', 'shutting-down', 'terminated']) assert.equal(m(instanceStateChangePattern, ec2('EC2 Instance State-change Notification', state)), true, state);
  for (const state of ['pending', 'running']) assert.equal(m(instanceStateChangePattern, ec2('EC2 Instance State-change Notification', state)), false, state);
  assert.equal(m(instanceStateChangePattern, { ...ec2('EC2 Instance State-change Notification', 'stopped'), source: 'aws.s3' }), false);
  assert.deepEqual(patterns, { jobCompleted: jobCompletedPattern, spotInterruption: spotInterruptionPattern, instanceStateChange: instanceStateChangePattern });
});

test('every route a deployment has, and where each goes', () => {
  const routes = routesFor({ bucket: 'b', pipelines: [] });
  assert.deepEqual(routes.map((r) => [r.name, r.target]), [
    ['job-completed', 'completion-queue'],
    ['stage-result-written', 'completion-queue'],
    ['stage-failure-written', 'completion-queue'],
    ['dataset-uploaded', 'start-run'],
    ['spot-interruption', 'interruption-queue'],
    ['instance-state-change', 'interruption-queue'],
    ['run-events-notify', 'notify'],
  ]);
  assert.deepEqual(routes.map((r) => r.pattern), [jobCompletedPattern, stageResultWrittenPattern('b'), stageFailureWrittenPattern('b'), datasetUploadedPattern('b'), spotInterruptionPattern, instanceStateChangePattern, runEventsPattern()]);
  for (const r of routes) assert.ok(r.description.length > 0, r.name);
});

test('schedules: a retrain per pipeline that has one, and no forever-rate watcher or reaper (they are armed)', () => {
  assert.deepEqual(
    schedulesFor({ bucket: 'b', pipelines: [{ name: 'churn', retrainSchedule: 'cron(0 3 * * ? *)' }, { name: 'iris' }] }).map(({ description: _d, ...s }) => s),
    [{ name: 'retrain-churn', expression: 'cron(0 3 * * ? *)', target: 'start-run', input: { kind: 'schedule', pipeline: 'churn' } }],
  );
  assert.deepEqual(schedulesFor({ bucket: 'b', pipelines: [{ name: 'iris' }] }), [], 'no retrain: no recurring schedule at all');
  for (const s of schedulesFor({ bucket: 'b', pipelines: [{ name: 'churn', retrainSchedule: 'rate(1 day)' }] })) assert.ok(s.description.length > 0, s.name);
});

test('the job state change event carries the job identity and status, and comes back to the same job', () => {
  const status = { jobId: 'churn-r0a1b2c3d4-tune-3', state: 'FAILED' as const, labels: { a: 'b' }, reason: 'AppFailed', message: 'boom', startTime: 1000, endTime: 5000, interrupted: true };
  const e = jobStateChangeEvent('kuberay', status, 's3://b/artifacts', new Date('2024-06-01T00:00:00Z'))!;
  assert.deepEqual(e, {
    source: 'sentinel.jobs',
    'detail-type': 'Ray Job State Change',
    detail: {
      backend: 'kuberay',
      jobId: 'churn-r0a1b2c3d4-tune-3',
      pipeline: 'churn',
      runId: 'r0a1b2c3d4',
      stage: 'tune',
      attempt: 3,
      state: 'FAILED',
      artifactRoot: 's3://b/artifacts',
      reason: 'AppFailed',
      message: 'boom',
      startTime: 1000,
      endTime: 5000,
      interrupted: true,
    },
    time: '2024-06-01T00:00:00.000Z',
    resources: ['churn-r0a1b2c3d4-tune-3'],
  });
  assert.deepEqual([JOB_EVENT_SOURCE, JOB_EVENT_DETAIL_TYPE], ['sentinel.jobs', 'Ray Job State Change']);
  assert.equal(m(jobCompletedPattern, e), true);
  assert.deepEqual(jobFromDetail(JobStateChangeDetailSchema.parse(e.detail)), {
    status: { jobId: status.jobId, state: 'FAILED', labels: {}, reason: 'AppFailed', message: 'boom', startTime: 1000, endTime: 5000, interrupted: true },
    identity: { pipeline: 'churn', runId: 'r0a1b2c3d4', stage: 'tune', attempt: 3 },
    artifactRoot: 's3://b/artifacts',
  });
  // Optional fields stay out when the job has none; a long message is cut to 2,000 characters.
  const bare = jobStateChangeEvent('ray-jobs', { jobId: 'churn-r0a1b2c3d4-train-1', state: 'SUCCEEDED', labels: {}, message: 'x'.repeat(3000) }, '/r', new Date(0))!;
  assert.deepEqual(Object.keys(bare.detail).sort(), ['artifactRoot', 'attempt', 'backend', 'jobId', 'message', 'pipeline', 'runId', 'stage', 'state']);
  assert.equal(bare.detail.message!.length, 2000);
  assert.deepEqual(jobFromDetail(JobStateChangeDetailSchema.parse({ ...bare.detail, message: undefined })).status, { jobId: 'churn-r0a1b2c3d4-train-1', state: 'SUCCEEDED', labels: {} });
});

test('the consumer refuses a job state change event that breaks the schema', () => {
  const ok = { backend: 'ray-jobs', jobId: 'churn-r0a1b2c3d4-train-1', pipeline: 'churn', runId: 'r0a1b2c3d4', stage: 'train', attempt: 1, state: 'SUCCEEDED', artifactRoot: '/r' };
  assert.equal(JobStateChangeDetailSchema.safeParse(ok).success, true);
  for (const bad of [
    { backend: 'lambda' },
    { jobId: '' },
    { jobId: 'x'.repeat(64) },
    { pipeline: '' },
    { runId: 'r0a1b2c3d' },
    { runId: 'xr0a1b2c3d4' },
    { runId: 'r0a1b2c3d4x' },
    { stage: 'deploy' },
    { attempt: 0 },
    { attempt: 1.5 },
    { state: 'DONE' },
    { artifactRoot: '' },
    { extra: 1 },
    { reason: 1 },
    { message: 1 },
    { startTime: 'now' },
    { endTime: 'later' },
    { interrupted: 'yes' },
  ]) assert.equal(JobStateChangeDetailSchema.safeParse({ ...ok, ...bad }).success, false, JSON.stringify(bad));
  assert.equal(JobStateChangeDetailSchema.safeParse({ ...ok, jobId: 'x'.repeat(63) }).success, true);
});

test('job states: which are terminal, and the outcome each gives a stage', () => {
  assert.deepEqual([...JOB_STATES], ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED']);
  assert.deepEqual([...TERMINAL_STATES], ['SUCCEEDED', 'FAILED', 'STOPPED']);
  assert.deepEqual(JOB_STATES.map(isTerminal), [false, false, true, true, true]);
  const out = (s: Partial<Parameters<typeof stageOutcome>[0]>) => stageOutcome({ jobId: 'j', state: 'FAILED', labels: {}, ...s });
  assert.deepEqual(out({ state: 'PENDING' }), { kind: 'running' });
  assert.deepEqual(out({ state: 'RUNNING', interrupted: true }), { kind: 'running' });
  assert.deepEqual(out({ state: 'SUCCEEDED', interrupted: true }), { kind: 'succeeded' });
  assert.deepEqual(out({ message: 'exit 1' }), { kind: 'failed', error: 'RayJobFailed', cause: 'exit 1' });
  assert.deepEqual(out({ reason: 'AppFailed', message: 'exit 1' }), { kind: 'failed', error: 'RayJobFailed', cause: 'AppFailed: exit 1' });
  assert.deepEqual(out({ reason: 'AppFailed' }), { kind: 'failed', error: 'RayJobFailed', cause: 'AppFailed' });
  const bare = out({});
  assert.equal(bare.kind === 'failed' && bare.error, 'RayJobFailed');
  assert.ok(bare.kind === 'failed' && bare.cause.length > 0, 'a failure without detail still has a cause');
  assert.deepEqual(out({ state: 'STOPPED', reason: 'DeadlineExceeded' }), { kind: 'failed', error: 'RayJobStopped', cause: 'DeadlineExceeded' });
  const stopped = out({ state: 'STOPPED' });
  assert.equal(stopped.kind === 'failed' && stopped.error, 'RayJobStopped');
  assert.notEqual(stopped.kind === 'failed' && stopped.cause, bare.kind === 'failed' && bare.cause, 'the cause names the state');
  // Interrupted beats every other reading of a failure, and keeps the detail.
  const spot = out({ state: 'STOPPED', message: 'ValidationFailed: x', interrupted: true });
  assert.equal(spot.kind === 'failed' && spot.error, 'SpotInterrupted');
  assert.ok(spot.kind === 'failed' && spot.cause.includes('ValidationFailed: x'));
  // Bad input reported by the job: its line after "ValidationFailed: ", up to the end of that line.
  assert.deepEqual(out({ message: 'Traceback\nValidationFailed: params.iterations: must be > 0\nmore' }), { kind: 'failed', error: 'ValidationFailed', cause: 'params.iterations: must be > 0' });
  assert.deepEqual(out({ state: 'STOPPED', message: 'ValidationFailed: x' }), { kind: 'failed', error: 'RayJobStopped', cause: 'ValidationFailed: x' });
  assert.equal(out({ message: 'ValidationFailed: ' }).kind === 'failed' && (out({ message: 'ValidationFailed: ' }) as { error: string }).error, 'RayJobFailed');
});

test('job seconds: end minus start, 0 when either is missing or they are out of order', () => {
  const s = (startTime?: number, endTime?: number) => jobSeconds({ jobId: 'j', state: 'SUCCEEDED', labels: {}, ...(startTime !== undefined ? { startTime } : {}), ...(endTime !== undefined ? { endTime } : {}) });
  assert.equal(s(1000, 4500), 3.5);
  assert.equal(s(1000, 1000), 0);
  assert.equal(s(2000, 1000), 0);
  assert.equal(s(undefined, 1000), 0);
  assert.equal(s(1000, undefined), 0);
});
