import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runIdFor, executionNameFor, RUN_ID_PATTERN } from '../../core/run-id.js';
import { jobNameFor, parseJobName, labelsFor, MAX_JOB_NAME } from '../../core/names.js';
import { STAGES } from '../../core/stages.js';

test('run ids are deterministic per trigger and differ across triggers', () => {
  const a = runIdFor('p', { kind: 's3', bucket: 'b', key: 'datasets/p/x.csv', versionId: 'v1' });
  assert.equal(a, runIdFor('p', { kind: 's3', bucket: 'b', key: 'datasets/p/x.csv', versionId: 'v1' }));
  assert.notEqual(a, runIdFor('p', { kind: 's3', bucket: 'b', key: 'datasets/p/x.csv', versionId: 'v2' }));
  assert.notEqual(a, runIdFor('q', { kind: 's3', bucket: 'b', key: 'datasets/p/x.csv', versionId: 'v1' }));
  assert.notEqual(runIdFor('p', { kind: 'manual', requestId: '1' }), runIdFor('p', { kind: 'manual', requestId: '2' }));
  assert.match(a, RUN_ID_PATTERN);
  assert.equal(executionNameFor('p', a), `p-${a}`);
});

test('job names round-trip, fit KubeRay limits for the longest pipeline name, and carry the labels', () => {
  const longest = 'a' + 'b'.repeat(22) + 'c'; // 24 chars: the spec's maximum
  for (const stage of STAGES) {
    const name = jobNameFor(longest, 'r0123456789'.slice(0, 10), stage, 99);
    assert.ok(name.length <= MAX_JOB_NAME, `${name} is ${name.length} chars`);
    assert.match(name, /^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    assert.deepEqual(parseJobName(name), { pipeline: longest, runId: 'r012345678', stage, attempt: 99 });
  }
  assert.throws(() => jobNameFor('p', 'not-a-run', 'train', 1), { name: 'ValidationFailed' });
  assert.equal(parseJobName('something-else'), undefined);
  assert.deepEqual(labelsFor({ pipeline: 'p', runId: 'r012345678', stage: 'tune', attempt: 2 }), {
    'app.kubernetes.io/managed-by': 'sentinel',
    'sentinel.dev/pipeline': 'p',
    'sentinel.dev/run': 'r012345678',
    'sentinel.dev/stage': 'tune',
    'sentinel.dev/attempt': '2',
  });
});
