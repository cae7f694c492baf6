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

test('min mode: the lower metric wins, both against the champion and between train and tune', () => {
  // logloss: lower is better.
  assert.deepEqual(decide(min, 0.2, 0.25), {
    metric: 'logloss',
    candidate: 0.2,
    champion: 0.25,
    promote: true,
    reason: decide(min, 0.2, 0.25).reason,
  });
  assert.equal(decide(min, 0.3, 0.25).promote, false, 'a higher logloss never wins');
  assert.equal(decide({ ...min, minImprovement: 0 }, 0.25, 0.25).promote, false, 'a tie never replaces the champion');
  assert.equal(decide({ ...min, minImprovement: 0 }, 0.2499, 0.25).promote, true);
  assert.equal(decide(min, 0.3, 0.3).promote, false);
  const t = (v: number, m: string) => ({ metrics: { validation_logloss: v }, artifacts: { model: m } });
  assert.deepEqual(pickCandidate(min, t(0.3, 'train'), t(0.2, 'tune')), { source: 'tune', modelUri: 'tune', validation: 0.2 });
  assert.deepEqual(pickCandidate(min, t(0.2, 'train'), t(0.3, 'tune')), { source: 'train', modelUri: 'train', validation: 0.2 });
  assert.equal(pickCandidate(min, t(0.2, 'train'), t(0.2, 'tune')).source, 'train', 'ties go to train');
});

test("a champion without the metric (or a non-number) falls back to the floor", () => {
  for (const champion of [undefined, Number.NaN, Number.POSITIVE_INFINITY]) {
    const d = decide(max, 0.91, champion);
    assert.equal(d.promote, true, String(champion));
    assert.equal(d.champion, undefined, 'no champion figure is reported');
    assert.equal(decide(max, 0.89, champion).promote, false);
    assert.equal(decide(min, 0.29, champion).promote, true);
    assert.equal(decide(min, 0.31, champion).promote, false);
  }
  assert.equal(decide(min, 0.3).promote, true, 'exactly the floor clears it in min mode too');
  assert.deepEqual(decide(max, 0.95), { metric: 'roc_auc', candidate: 0.95, promote: true, reason: decide(max, 0.95).reason });
  assert.throws(() => decide(max, Number.POSITIVE_INFINITY, 0.9), { name: 'ValidationFailed' });
});

test('the margin is a minimum gain: more than the margin promotes, less does not, in both modes', () => {
  assert.equal(decide(max, 0.96, 0.94).promote, true);
  assert.equal(decide({ ...max, minImprovement: 0.05 }, 0.96, 0.94).promote, false);
  assert.equal(decide(min, 0.1, 0.25).promote, true);
  assert.equal(decide({ ...min, minImprovement: 0.2 }, 0.1, 0.25).promote, false);
});

test('pickCandidate refuses a stage without the validation metric or a model', () => {
  const ok = { metrics: { validation_roc_auc: 0.9 }, artifacts: { model: 'm' } };
  assert.throws(() => pickCandidate(max, { metrics: { validation_roc_auc: 0.9 }, artifacts: {} }, ok), { name: 'ValidationFailed' });
  assert.throws(() => pickCandidate(max, ok, { metrics: {}, artifacts: { model: 'm' } }), { name: 'ValidationFailed' });
  assert.throws(() => pickCandidate(max, ok, { metrics: { validation_roc_auc: 0.9 }, artifacts: {} }), { name: 'ValidationFailed' });
  assert.throws(() => pickCandidate(max, ok, { metrics: { validation_accuracy: 0.99 }, artifacts: { model: 'm' } }), { name: 'ValidationFailed' });
});
