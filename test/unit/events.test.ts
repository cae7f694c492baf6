import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matches } from '../../events/match.js';
import { jobCompletedPattern } from '../../events/patterns.js';
import { jobStateChangeEvent, JobStateChangeDetailSchema } from '../../events/job-state-change.js';

const event = (state: string) => ({ source: 'sentinel.jobs', 'detail-type': 'Ray Job State Change', detail: { state, jobId: 'x' } });

test('the completion pattern matches terminal job states only', () => {
  for (const s of ['SUCCEEDED', 'FAILED', 'STOPPED']) assert.equal(matches(jobCompletedPattern, event(s)), true, s);
  for (const s of ['PENDING', 'RUNNING']) assert.equal(matches(jobCompletedPattern, event(s)), false, s);
  assert.equal(matches(jobCompletedPattern, { ...event('SUCCEEDED'), source: 'aws.ec2' }), false);
  assert.equal(matches(jobCompletedPattern, { source: 'sentinel.jobs', 'detail-type': 'Ray Job State Change' }), false);
});

test('the matcher implements EventBridge content filters', () => {
  const e = { source: 'aws.s3', detail: { object: { key: 'datasets/p/x.csv', size: 10 }, reason: 'PutObject', tags: ['a', 'b'] } };
  assert.equal(matches({ detail: { object: { key: [{ prefix: 'datasets/' }] } } }, e), true);
  assert.equal(matches({ detail: { object: { key: [{ suffix: '.csv' }] } } }, e), true);
  assert.equal(matches({ detail: { object: { key: [{ wildcard: 'datasets/*/x.csv' }] } } }, e), true);
  assert.equal(matches({ detail: { object: { size: [{ numeric: ['>', 0, '<=', 10] }] } } }, e), true);
  assert.equal(matches({ detail: { object: { size: [{ numeric: ['>', 10] }] } } }, e), false);
  assert.equal(matches({ detail: { reason: [{ 'anything-but': ['CopyObject'] }] } }, e), true);
  assert.equal(matches({ detail: { reason: [{ 'anything-but': { prefix: 'Put' } }] } }, e), false);
  assert.equal(matches({ detail: { missing: [{ exists: false }] } }, e), true);
  assert.equal(matches({ detail: { reason: [{ exists: true }] } }, e), true);
  assert.equal(matches({ detail: { tags: ['b'] } }, e), true, 'arrays match on any element');
  assert.equal(matches({ detail: { reason: [{ 'equals-ignore-case': 'putobject' }] } }, e), true);
  assert.equal(matches({ $or: [{ source: ['x'] }, { detail: { reason: ['PutObject'] } }] }, e), true);
});

test('events built from job status validate against the schema the consumer uses', () => {
  const e = jobStateChangeEvent('ray-jobs', { jobId: 'p-r012345678-train-2', state: 'FAILED', message: 'boom', labels: {} }, '/root', new Date(0))!;
  assert.equal(JobStateChangeDetailSchema.parse(e.detail).attempt, 2);
  assert.equal(e.detail.stage, 'train');
  assert.equal(jobStateChangeEvent('ray-jobs', { jobId: 'not-ours', state: 'FAILED', labels: {} }, '/root', new Date(0)), undefined);
});
