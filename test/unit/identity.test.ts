import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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

test('the run-id pattern is anchored: only r + 9 lowercase hex characters, nothing around them', () => {
  assert.match('r0123456ab', RUN_ID_PATTERN);
  for (const bad of ['../r0123456ab', 'r0123456ab/..', 'xr0123456ab', 'r0123456abc', 'r0123456a', 'R0123456ab', 'r0123456aB', 'r0123456ag', ' r0123456ab'])
    assert.doesNotMatch(bad, RUN_ID_PATTERN, bad);
});

test('a run id is r + the first 9 hex characters of SHA-256 over the pipeline and the trigger', () => {
  // Fixed values: a change here changes every deployed run's identity (and its execution name).
  assert.equal(runIdFor('p', { kind: 'manual', requestId: '1' }), 'r' + createHash('sha256').update('p\nmanual\n1').digest('hex').slice(0, 9));
  assert.equal(runIdFor('p', { kind: 'schedule', schedule: 'nightly', time: 't' }), 'r' + createHash('sha256').update('p\nschedule\nnightly\nt').digest('hex').slice(0, 9));
  const s3 = (extra: object) => runIdFor('p', { kind: 's3', bucket: 'b', key: 'k', ...extra });
  const digest = (tail: string) => 'r' + createHash('sha256').update(`p\ns3\nb\nk\n${tail}`).digest('hex').slice(0, 9);
  assert.equal(s3({ versionId: 'v', sequencer: 's', etag: 'e' }), digest('v'), 'the version id names the upload first');
  assert.equal(s3({ sequencer: 's', etag: 'e' }), digest('s'), 'then the sequencer');
  assert.equal(s3({ etag: 'e' }), digest('e'), 'then the etag');
  assert.equal(s3({}), digest(''));
});

test('every field that identifies a trigger changes the run id; a manual trigger needs a request id', () => {
  const ids = new Set([
    runIdFor('p', { kind: 'manual', requestId: 'a' }),
    runIdFor('p', { kind: 'schedule', schedule: 'a', time: 't' }),
    runIdFor('p', { kind: 'schedule', schedule: 'b', time: 't' }),
    runIdFor('p', { kind: 'schedule', schedule: 'a', time: 'u' }),
    runIdFor('p', { kind: 's3', bucket: 'a', key: 'k' }),
    runIdFor('p', { kind: 's3', bucket: 'b', key: 'k' }),
    runIdFor('p', { kind: 's3', bucket: 'a', key: 'l' }),
  ]);
  assert.equal(ids.size, 7);
  assert.throws(() => runIdFor('p', { kind: 'manual', requestId: '' }), { name: 'ValidationFailed' });
});
