// What a tune search space accepts (the one schema the spec and the tune stage's input share), and a job's seconds
// when Ray reports only some of its times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SearchSpaceSchema } from '../../core/contract.js';
import { jobSeconds } from '../../core/job-status.js';
import type { JobStatus } from '../../core/job-status.js';

const paths = (r: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) =>
  r.success ? [] : r.error!.issues.map((i) => i.path.join('.'));

test('float ranges: uniform may span zero, loguniform needs a positive lower bound (refused at its lower)', () => {
  assert.equal(SearchSpaceSchema.safeParse({ x: { type: 'uniform', lower: -1, upper: 1 } }).success, true);
  assert.equal(SearchSpaceSchema.safeParse({ lr: { type: 'loguniform', lower: 0.001, upper: 0.1 } }).success, true);
  assert.deepEqual(paths(SearchSpaceSchema.safeParse({ lr: { type: 'loguniform', lower: 0, upper: 0.1 } })), ['lr.lower']);
  assert.deepEqual(paths(SearchSpaceSchema.safeParse({ lr: { type: 'loguniform', lower: -0.5, upper: 0.1 } })), ['lr.lower']);
});

test('a search space needs at least one dimension', () => {
  assert.equal(SearchSpaceSchema.safeParse({}).success, false);
  assert.equal(SearchSpaceSchema.safeParse({ depth: { type: 'randint', lower: 2, upper: 8 } }).success, true);
});

test("a job's seconds: end minus start, 0 when either is missing or the end is before the start", () => {
  const s = (startTime?: number, endTime?: number) => ({ state: 'SUCCEEDED', startTime, endTime }) as unknown as JobStatus;
  assert.equal(jobSeconds(s(1_000, 4_500)), 3.5);
  assert.equal(jobSeconds(s(undefined, 4_500)), 0);
  assert.equal(jobSeconds(s(1_000, undefined)), 0);
  assert.equal(jobSeconds(s(5_000, 4_000)), 0);
  assert.equal(jobSeconds(s(4_000, 4_000)), 0);
});
