import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSpec, validateSpec } from '../../core/spec.js';
import { referenceSpec, repoRoot } from '../support/harness.js';

test('the reference spec is valid and defaults are applied', () => {
  const spec = parseSpec(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8'));
  assert.equal(spec.name, 'breast-cancer');
  assert.equal(spec.stages.train.resources.gpu, 0);
  assert.equal(spec.gate.metric, 'roc_auc');
});

const broken = (mutate: (s: Record<string, any>) => void) => {
  const s = referenceSpec() as Record<string, any>;
  mutate(s);
  return () => validateSpec(s, 'spec.yaml');
};

test('errors name the field and say what is wrong', () => {
  assert.throws(broken((s) => (s.stages.train.numBoostRound = 'many')), { name: 'ValidationFailed', message: /spec\.yaml\.stages\.train\.numBoostRound: .*expected number/ });
  assert.throws(broken((s) => delete s.gate.metric), { message: /spec\.yaml\.gate\.metric/ });
  assert.throws(broken((s) => (s.gate.metric = 'auc')), { message: /spec\.yaml\.gate\.metric: Invalid option/ });
  assert.throws(broken((s) => (s.stages.tune.extra = 1)), { message: /spec\.yaml\.stages\.tune: unknown field\(s\) "extra"/ });
  assert.throws(broken((s) => (s.stages.ingest.resources.memory = 'lots')), { message: /stages\.ingest\.resources\.memory: must be a Kubernetes quantity/ });
  assert.throws(broken((s) => (s.serve.replicas = { min: 3, max: 1 })), { message: /serve\.replicas\.min: min must be ≤ max/ });
  assert.throws(broken((s) => (s.stages.tune.searchSpace.eta = { type: 'loguniform', lower: 0, upper: 1 })), { message: /searchSpace\.eta\.lower: loguniform needs lower > 0/ });
});

test('a module is a Python module path, never shell text', () => {
  assert.throws(broken((s) => (s.stages.train.module = 'sentinel_jobs.train; rm -rf /')), { message: /stages\.train\.module: must be a Python module path/ });
  assert.throws(broken((s) => (s.stages.train.module = '$(curl x)')), { name: 'ValidationFailed' });
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
  const ok = broken((s) => (s.cluster = { mode: 'existing', selector: { 'ray.io/cluster': 'shared-cpu' } }))();
  assert.deepEqual(ok.cluster, { mode: 'existing', selector: { 'ray.io/cluster': 'shared-cpu' } });
});
