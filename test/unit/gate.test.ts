import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, pickCandidate } from '../../core/gate.js';

const max = { metric: 'roc_auc' as const, mode: 'max' as const, minImprovement: 0.01, floor: 0.9 };
const min = { metric: 'logloss' as const, mode: 'min' as const, minImprovement: 0.01, floor: 0.3 };

test('no champion: promote iff the floor is cleared (in the metric direction)', () => {
  assert.equal(decide(max, 0.91).promote, true);
  assert.equal(decide(max, 0.9).promote, true);
  assert.equal(decide(max, 0.89).promote, false);
  assert.equal(decide(min, 0.29).promote, true);
  assert.equal(decide(min, 0.31).promote, false);
  assert.match(decide(max, 0.89).reason, /does not clear the floor 0.9/);
});

test('with a champion: promote only when better by at least the margin', () => {
  assert.equal(decide(max, 0.95, 0.94).promote, true); // exactly the margin (float noise tolerated)
  assert.equal(decide(max, 0.949, 0.94).promote, false);
  assert.equal(decide(max, 0.93, 0.94).promote, false);
  assert.equal(decide({ ...max, minImprovement: 0 }, 0.94, 0.94).promote, false, 'a tie never replaces the champion');
  assert.equal(decide(min, 0.2, 0.25).promote, true);
  assert.equal(decide(min, 0.245, 0.25).promote, false);
  assert.match(decide(max, 0.93, 0.94).reason, /does not beat champion 0.94 by the margin 0.01 \(gain -0.01, higher is better\)/);
  assert.throws(() => decide(max, Number.NaN), { name: 'ValidationFailed' });
});

test('the candidate is the better of train and tune on validation; ties go to train', () => {
  const t = (v: number, m: string) => ({ metrics: { validation_roc_auc: v }, artifacts: { model: m } });
  assert.equal(pickCandidate(max, t(0.9, 'a'), t(0.95, 'b')).modelUri, 'b');
  assert.equal(pickCandidate(max, t(0.95, 'a'), t(0.9, 'b')).modelUri, 'a');
  assert.equal(pickCandidate(max, t(0.95, 'a'), t(0.95, 'b')).source, 'train');
  assert.throws(() => pickCandidate(max, { metrics: {}, artifacts: {} }, t(0.9, 'b')), { message: /stages\.train/ });
});
