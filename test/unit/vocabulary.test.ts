// Small pieces of core with callers everywhere: the task/metric vocabulary, named errors, schema issues turned
// into field-naming messages, and the quick CSV header check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defaultMetric, isMetric, isMetricOf, isTask, metricMode, metricsFor, vocabulary, METRICS, TASKS } from '../../core/tasks.js';
import { ErrorNames, isSentinelError, RETRYABLE_ERRORS, SentinelError, validationFailed } from '../../core/errors.js';
import { formatIssues } from '../../core/validation.js';
import { checkCsvHeader } from '../../core/csv-header.js';

test('tasks and metrics: each task its metrics and default, each metric one direction', () => {
  assert.deepEqual([...TASKS], ['binary', 'multiclass', 'regression']);
  assert.deepEqual([...METRICS], ['roc_auc', 'accuracy', 'f1', 'logloss', 'f1_macro', 'rmse', 'mae', 'r2']);
  assert.deepEqual(metricsFor('binary'), ['roc_auc', 'accuracy', 'f1', 'logloss']);
  assert.deepEqual(metricsFor('multiclass'), ['accuracy', 'f1_macro', 'logloss']);
  assert.deepEqual(metricsFor('regression'), ['rmse', 'mae', 'r2']);
  assert.deepEqual(TASKS.map(defaultMetric), ['roc_auc', 'accuracy', 'rmse']);
  assert.deepEqual(METRICS.map(metricMode), ['max', 'max', 'max', 'min', 'max', 'min', 'min', 'max']);
  assert.throws(() => metricMode('auc' as never));
  assert.equal(isTask('binary'), true);
  assert.equal(isTask('Binary'), false);
  assert.equal(isTask(1), false);
  assert.equal(isTask('toString'), false);
  assert.equal(isMetric('rmse'), true);
  assert.equal(isMetric('toString'), false, 'not an inherited property');
  assert.equal(isMetric(1), false);
  assert.equal(isMetricOf('regression', 'rmse'), true);
  assert.equal(isMetricOf('binary', 'rmse'), false);
  assert.equal(isMetricOf('binary', 'constructor'), false);
  assert.deepEqual(vocabulary(), {
    tasks: {
      binary: { metrics: { roc_auc: 'max', accuracy: 'max', f1: 'max', logloss: 'min' }, default: 'roc_auc' },
      multiclass: { metrics: { accuracy: 'max', f1_macro: 'max', logloss: 'min' }, default: 'accuracy' },
      regression: { metrics: { rmse: 'min', mae: 'min', r2: 'max' }, default: 'rmse' },
    },
  });
  // A copy: changing it changes nothing for the next caller.
  vocabulary().tasks.binary.metrics.roc_auc = 'min';
  assert.equal(vocabulary().tasks.binary.metrics.roc_auc, 'max');
});

test('named errors: the names Step Functions matches, which are retried, and where a problem is', () => {
  assert.deepEqual(ErrorNames, {
    ValidationFailed: 'ValidationFailed',
    RayJobFailed: 'RayJobFailed',
    RayJobStopped: 'RayJobStopped',
    SpotInterrupted: 'SpotInterrupted',
    ComputeUnavailable: 'ComputeUnavailable',
    PromotionFailed: 'PromotionFailed',
    PromotionTimedOut: 'PromotionTimedOut',
    RunQueued: 'RunQueued',
  });
  assert.deepEqual([...RETRYABLE_ERRORS], ['ComputeUnavailable', 'SpotInterrupted']);
  const e = validationFailed('bad', 'spec.name');
  assert.equal(e.name, 'ValidationFailed');
  assert.equal(e.where, 'spec.name');
  assert.ok(e.message.startsWith('spec.name'), 'the message starts with where');
  assert.equal(new SentinelError('RayJobFailed', 'boom').message, 'boom', 'no where, no prefix');
  assert.equal(isSentinelError(e), true);
  assert.equal(isSentinelError(e, 'ValidationFailed'), true);
  assert.equal(isSentinelError(e, 'RayJobFailed'), false);
  assert.equal(isSentinelError(new Error('x')), false);
  assert.equal(isSentinelError(Object.assign(new Error('x'), { name: 'ValidationFailed' }), 'ValidationFailed'), false);
});

test('schema issues become one message that names each field', () => {
  const schema = z.object({ name: z.string(), n: z.number(), inner: z.object({ k: z.boolean() }).strict() }).strict();
  const issues = schema.safeParse({ n: 'x', inner: { k: 1, extra: 1 }, surprise: 1 }).error!.issues;
  const text = formatIssues(issues, 'spec.yaml');
  const parts = text.split('; ');
  assert.equal(parts.length, issues.length);
  for (const field of ['spec.yaml.name: ', 'spec.yaml.n: ', 'spec.yaml.inner.k: ', 'spec.yaml.inner: ', 'spec.yaml: ']) assert.ok(parts.some((p) => p.startsWith(field)), field);
  assert.ok(parts.some((p) => p.startsWith('spec.yaml: ') && p.includes('"surprise"')), 'unknown fields are named');
  assert.ok(parts.some((p) => p.startsWith('spec.yaml.inner: ') && p.includes('"extra"')));
  // A missing field reads differently from a wrong one.
  const missing = parts.find((p) => p.startsWith('spec.yaml.name: '))!;
  const wrong = parts.find((p) => p.startsWith('spec.yaml.n: '))!;
  assert.notEqual(missing.slice('spec.yaml.name: '.length), wrong.slice('spec.yaml.n: '.length));
  // At most ten issues, then how many more.
  const many = z.array(z.number()).safeParse(Array.from({ length: 13 }, () => 'x')).error!.issues;
  const lines = formatIssues(many, 'xs').split('; ');
  assert.equal(lines.length, 11);
  assert.ok(lines.slice(0, 10).every((l, i) => l.startsWith(`xs.${i}: `)));
  assert.ok(lines[10]!.includes('3'));
  assert.equal(formatIssues(many.slice(0, 10), 'xs').split('; ').length, 10);
});

test('the CSV header check: the columns, or a ValidationFailed naming the file', () => {
  assert.deepEqual(checkCsvHeader('a,b,target\n', 'target', 'f.csv'), ['a', 'b', 'target']);
  assert.deepEqual(checkCsvHeader('\uFEFFa, "b" ,target\r\n', 'target', 'f.csv'), ['a', 'b', 'target'], 'BOM, CRLF, spaces and quotes');
  assert.deepEqual(checkCsvHeader('target,x', 'target', 'f.csv'), ['target', 'x']);
  assert.deepEqual(checkCsvHeader('"a"b,target', 'target', 'f.csv'), ['"a"b', 'target'], 'only whole-cell quotes are stripped');
  for (const [line, target] of [
    ['', 'target'],
    ['   \n', 'target'],
    ['a,a,target', 'target'],
    ['a,b', 'target'],
    ['target', 'target'],
    ['a,Target', 'target'],
  ] as const) {
    assert.throws(() => checkCsvHeader(line, target, 'datasets/p/f.csv'), (e: Error) => e.name === 'ValidationFailed' && e.message.startsWith('datasets/p/f.csv'), JSON.stringify(line));
  }
});
