// Each EventBridge pattern against AWS's documented sample events: what must match and what must not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matches } from '../../events/match.js';
import { datasetUploadedPattern, instanceStateChangePattern, spotInterruptionPattern, jobCompletedPattern } from '../../events/patterns.js';
import { routesFor, schedulesFor } from '../../events/routes.js';
import { awsSample, ec2Event, s3Upload } from '../support/events.js';

test('dataset uploads: Object Created under datasets/ in our bucket only', () => {
  const p = datasetUploadedPattern('amzn-s3-demo-bucket1');
  assert.equal(matches(p, awsSample('s3-object-created')), false, 'the sample key "example-key" is outside datasets/');
  assert.equal(matches(p, s3Upload('amzn-s3-demo-bucket1', 'datasets/p/x.csv')), true);
  assert.equal(matches(p, s3Upload('other-bucket', 'datasets/p/x.csv')), false);
  assert.equal(matches(p, { ...awsSample('s3-object-deleted'), detail: { ...awsSample('s3-object-deleted').detail, object: { key: 'datasets/p/x.csv' } } }), false);
});

test('spot: interruption warnings and rebalance recommendations match; other EC2 events do not', () => {
  assert.equal(matches(spotInterruptionPattern, awsSample('ec2-spot-instance-interruption-warning')), true);
  assert.equal(matches(spotInterruptionPattern, awsSample('ec2-instance-rebalance-recommendation')), true);
  assert.equal(matches(spotInterruptionPattern, awsSample('ec2-instance-state-change-notification')), false);
  assert.equal(matches(spotInterruptionPattern, awsSample('s3-object-created')), false);
});

test('instance state changes: only states in which the instance is going away', () => {
  assert.equal(matches(instanceStateChangePattern, awsSample('ec2-instance-state-change-notification')), false, 'the sample is "pending"');
  for (const s of ['stopping', 'stopped', 'shutting-down', 'terminated']) assert.equal(matches(instanceStateChangePattern, ec2Event('ec2-instance-state-change-notification', 'i-abcd1111', s)), true, s);
  assert.equal(matches(instanceStateChangePattern, ec2Event('ec2-instance-state-change-notification', 'i-abcd1111', 'running')), false);
  assert.equal(matches(instanceStateChangePattern, awsSample('ec2-spot-instance-interruption-warning')), false);
});

test('no AWS sample matches the job completion pattern', () => {
  for (const n of ['s3-object-created', 'ec2-spot-instance-interruption-warning', 'ec2-instance-rebalance-recommendation', 'ec2-instance-state-change-notification']) {
    assert.equal(matches(jobCompletedPattern, awsSample(n)), false, n);
  }
});

test('routes and schedules: one source for infra and the local bus', () => {
  const settings = { bucket: 'b', pipelines: [{ name: 'p', retrainSchedule: 'cron(0 3 * * ? *)' }, { name: 'q' }] };
  assert.deepEqual(routesFor(settings).map((r) => [r.name, r.target]), [
    ['job-completed', 'completion-queue'],
    ['stage-result-written', 'completion-queue'],
    ['stage-failure-written', 'completion-queue'],
    ['dataset-uploaded', 'start-run'],
    ['spot-interruption', 'interruption-queue'],
    ['instance-state-change', 'interruption-queue'],
    ['run-events-notify', 'notify'],
  ]);
  // With the state machine's ARN (infra), its early ends go to execution-ended.
  assert.deepEqual(routesFor({ ...settings, stateMachineArn: 'arn:aws:states:us-east-1:1:stateMachine:s' }).at(-1)!.target, 'execution-ended');
  // The watcher and the reaper are armed one-time schedules (core/arming.ts), not recurring ones.
  assert.deepEqual(schedulesFor(settings).map((s) => [s.name, s.target, s.input]), [['retrain-p', 'start-run', { kind: 'schedule', pipeline: 'p' }]]);
});
