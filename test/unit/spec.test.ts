import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSpec, validateSpec, DEFAULT_SERVE_APP } from '../../core/spec.js';
import { parseRunContext } from '../../core/run-input.js';
import { TASKS, defaultMetric, metricMode, metricsFor } from '../../core/tasks.js';
import { referenceSpec, repoRoot } from '../support/reference.js';

const REFERENCE_PIPELINES = ['breast-cancer', 'iris', 'diabetes', 'movielens'];

test('every reference spec is valid; defaults are applied', () => {
  for (const name of REFERENCE_PIPELINES) {
    const spec = parseSpec(readFileSync(join(repoRoot, 'pipelines', `${name}.yaml`), 'utf8'), `${name}.yaml`);
    assert.equal(spec.name, name);
    assert.ok(metricsFor(spec.task).includes(spec.gate.metric), name);
    assert.equal(spec.gate.mode, metricMode(spec.gate.metric), name);
    assert.equal(spec.stages.train.module, 'sentinel_jobs.train');
    assert.equal(spec.stages.ingest.minRows, 30);
  }
  const spec = parseSpec(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8'));
  assert.equal(spec.task, 'binary');
  assert.equal(spec.stages.train.resources.gpu, 0);
  assert.equal(spec.serve.app, DEFAULT_SERVE_APP);
  assert.deepEqual(spec.model, { module: 'sentinel_jobs.models.xgboost', params: { max_depth: 4, eta: 0.1, subsample: 0.9 } });
});

const broken = (mutate: (s: Record<string, any>) => void) => {
  const s = referenceSpec() as Record<string, any>;
  mutate(s);
  return () => validateSpec(s, 'spec.yaml');
};
const valid = (mutate: (s: Record<string, any>) => void) => broken(mutate)();

test('errors name the field and say what is wrong', () => {
  assert.throws(broken((s) => (s.stages.train.iterations = 'many')), { name: 'ValidationFailed', message: /spec\.yaml\.stages\.train\.iterations: .*expected number/ });
  assert.throws(broken((s) => delete s.gate.metric), { message: /spec\.yaml\.gate\.metric/ });
  assert.throws(broken((s) => delete s.model), { message: /spec\.yaml\.model: is required/ });
  assert.throws(broken((s) => (s.stages.tune.extra = 1)), { message: /spec\.yaml\.stages\.tune: unknown field\(s\) "extra"/ });
  assert.throws(broken((s) => (s.stages.ingest.resources.memory = 'lots')), { message: /stages\.ingest\.resources\.memory: must be a Kubernetes quantity/ });
  assert.throws(broken((s) => (s.serve.replicas = { min: 3, max: 1 })), { message: /serve\.replicas\.min: min must be ≤ max/ });
  assert.throws(broken((s) => (s.stages.tune.searchSpace.eta = { type: 'loguniform', lower: 0, upper: 1 })), { message: /searchSpace\.eta\.lower: loguniform needs lower > 0/ });
  assert.throws(broken((s) => (s.stages.tune.searchSpace.max_depth = { type: 'randint', lower: 1.5, upper: 4 })), { message: /searchSpace\.max_depth\.lower/ });
  assert.throws(broken((s) => (s.stages.tune.gracePeriod = 61)), { message: /stages\.tune\.gracePeriod: must be ≤ maxIterations/ });
  assert.throws(broken((s) => (s.stages.ingest.minRows = 2)), { message: /stages\.ingest\.minRows/ });
  assert.throws(broken((s) => (s.task = 'ranking')), { message: /spec\.yaml\.task: Invalid option/ });
});

test('the v1 names fail at their own path and say the v2 name', () => {
  assert.throws(broken((s) => (s.stages.train.numBoostRound = 60)), { message: /spec\.yaml\.stages\.train\.numBoostRound: .*stages\.train\.iterations/ });
  assert.throws(broken((s) => (s.stages.train.params = { max_depth: 3 })), { message: /spec\.yaml\.stages\.train\.params: .*model\.params/ });
  assert.throws(broken((s) => (s.stages.tune.maxBoostRound = 60)), { message: /spec\.yaml\.stages\.tune\.maxBoostRound: .*maxIterations/ });
  // A whole v1 stage block: each old name reported, and the new required ones too.
  const v1 = broken((s) => {
    s.stages.train = { numBoostRound: 60, params: { eta: 0.1 } };
  });
  assert.throws(v1, (e: Error) => /train\.numBoostRound/.test(e.message) && /train\.params/.test(e.message) && /train\.iterations: is required/.test(e.message));
});

test('gate.metric must be a metric of the task, listing the task\'s metrics', () => {
  assert.throws(broken((s) => (s.gate.metric = 'rmse')), (e: Error) => /spec\.yaml\.gate\.metric: .*binary/.test(e.message) && metricsFor('binary').every((m) => e.message.includes(m)));
  assert.throws(broken((s) => Object.assign(s, { task: 'regression' })), (e: Error) => /spec\.yaml\.gate\.metric: .*regression/.test(e.message) && /rmse, mae, r2/.test(e.message));
  assert.throws(broken((s) => (s.gate.metric = 'auc')), { message: /spec\.yaml\.gate\.metric: .*roc_auc/ });
  // Reported together with unrelated errors, not hidden behind them.
  assert.throws(broken((s) => Object.assign(s, { name: 'Bad_Name', task: 'multiclass' })), (e: Error) => /\.name:/.test(e.message) && /gate\.metric:/.test(e.message));
  const multi = valid((s) => Object.assign(s, { task: 'multiclass', gate: { metric: 'f1_macro', floor: 0.8 } }));
  assert.equal(multi.gate.metric, 'f1_macro');
});

test('gate.mode defaults to the metric\'s direction; a contradicting mode is an error at gate.mode', () => {
  for (const task of TASKS) {
    for (const metric of metricsFor(task)) {
      const spec = valid((s) => Object.assign(s, { task, gate: { metric, floor: 0 } }));
      assert.equal(spec.gate.mode, metricMode(metric), `${task}/${metric}`);
      const wrong = metricMode(metric) === 'max' ? 'min' : 'max';
      assert.throws(broken((s) => Object.assign(s, { task, gate: { metric, mode: wrong, floor: 0 } })), { message: /spec\.yaml\.gate\.mode: / });
    }
    assert.ok(metricsFor(task).includes(defaultMetric(task)));
  }
  assert.equal(valid((s) => (s.gate = { metric: 'logloss', floor: 0.3 })).gate.mode, 'min');
  // A parsed spec re-validates to itself (the state machine re-checks its input).
  const once = validateSpec(referenceSpec());
  assert.deepEqual(validateSpec(structuredClone(once)), once);
});

test('stage modules default to sentinel_jobs.<stage>; ingest and evaluate may be left out', () => {
  const spec = valid((s) => {
    delete s.stages.ingest;
    delete s.stages.evaluate;
    delete s.stages.train.module;
  });
  assert.equal(spec.stages.ingest.module, 'sentinel_jobs.ingest');
  assert.equal(spec.stages.evaluate.module, 'sentinel_jobs.evaluate');
  assert.equal(spec.stages.train.module, 'sentinel_jobs.train');
  assert.deepEqual(spec.stages.ingest.resources, { cpu: 1, memory: '2Gi', gpu: 0, spot: false });
  assert.equal(spec.stages.ingest.minRows, 30);
  assert.equal(spec.stages.evaluate.timeoutSeconds, 3600);
  assert.deepEqual(valid((s) => delete s.model.params).model.params, {});
});

test('a module is a Python module path, never shell text; the model may name an attribute', () => {
  assert.throws(broken((s) => (s.stages.train.module = 'sentinel_jobs.train; rm -rf /')), { message: /stages\.train\.module: must be a Python module path/ });
  assert.throws(broken((s) => (s.stages.train.module = '$(curl x)')), { name: 'ValidationFailed' });
  assert.throws(broken((s) => (s.stages.train.module = 'pkg.mod:Attr')), { message: /stages\.train\.module/ });
  assert.equal(valid((s) => (s.model.module = 'churn_model:ChurnModel')).model.module, 'churn_model:ChurnModel');
  for (const bad of ['churn-model', 'pkg.', 'a:b:c', 'a;b', '']) assert.throws(broken((s) => (s.model.module = bad)), { message: /spec\.yaml\.model\.module/ }, bad);
  assert.throws(broken((s) => (s.serve.app = 'no_attr')), { message: /spec\.yaml\.serve\.app/ });
  assert.equal(valid((s) => (s.serve.app = 'my_pkg.serving:app')).serve.app, 'my_pkg.serving:app');
});

test('code is a folder for PYTHONPATH; a run needs it absolute', () => {
  assert.throws(broken((s) => (s.code = 'a:b')), { message: /spec\.yaml\.code/ });
  const rel = valid((s) => (s.code = '.'));
  assert.equal(rel.code, '.');
  const run = (code?: string) => ({
    pipeline: 'breast-cancer', runId: 'r012345678', trigger: { kind: 'manual', requestId: 'x' }, artifactRoot: '/tmp/a', datasetUri: '/tmp/d.csv',
    spec: { ...rel, ...(code ? { code } : {}) }, requestedAt: new Date(0).toISOString(),
  });
  assert.throws(() => parseRunContext(run()), { message: /run\.spec\.code: must be an absolute path/ });
  assert.equal(parseRunContext(run('/opt/pipelines/churn')).spec.code, '/opt/pipelines/churn');
});

test('pipeline names must fit the Kubernetes names derived from them', () => {
  assert.throws(broken((s) => (s.name = 'Breast_Cancer')), { message: /spec\.yaml\.name/ });
  assert.throws(broken((s) => (s.name = 'a'.repeat(25))), { message: /spec\.yaml\.name/ });
});

test('YAML syntax errors and non-mappings are reported with the file name', () => {
  assert.throws(() => parseSpec('name: [unclosed', 'x.yaml'), { name: 'ValidationFailed', message: /^x\.yaml: not valid YAML/ });
  assert.throws(() => parseSpec('- a\n- b', 'x.yaml'), { message: /x\.yaml: must be a mapping/ });
});

test('an existing cluster is selected by its ray.io/cluster label, which KubeRay requires', () => {
  assert.throws(broken((s) => (s.cluster = { mode: 'existing', selector: { team: 'ml' } })), { message: /spec\.yaml\.cluster\.selector: needs "ray\.io\/cluster"/ });
  const ok = valid((s) => (s.cluster = { mode: 'existing', selector: { 'ray.io/cluster': 'shared-cpu' } }));
  assert.deepEqual(ok.cluster, { mode: 'existing', selector: { 'ray.io/cluster': 'shared-cpu' } });
});
