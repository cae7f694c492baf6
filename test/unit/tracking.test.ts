// Experiment tracking's pure parts: what a stage input says about tracking (and that the contract accepts it, in zod
// and as the JSON Schema the Python side validates with), the lineage tags, the run context's schema, the deployment
// configuration, and the Prometheus annotations of Ray pods. The MLflow side runs against a real server
// (test/e2e/mlflow.test.ts, jobs/tests/test_tracking.py).
import { runClusterFor } from '../../core/kuberay/raycluster.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parseSpec } from '../../core/spec.js';
import { buildStageInput } from '../../core/stage-input.js';
import { StageInputSchemas } from '../../core/contract.js';
import { contractFiles } from '../../core/contract-files.js';
import { parseRunContext } from '../../core/run-input.js';
import { isTracked, lineageTags, modelUrl, runUrl, specParams, TRACKING_OFF_NOTE } from '../../core/tracking.js';
import { podTemplate, KARPENTER, PROMETHEUS_SCRAPE_ANNOTATIONS } from '../../core/kuberay/pods.js';
import { rayJobFor } from '../../core/kuberay/rayjob.js';
import { jobRequestsForRun } from '../../cli/render-k8s.js';
import type { RunContext } from '../../core/model.js';
import { repoRoot } from '../support/reference.js';

const spec = parseSpec(readFileSync(join(repoRoot, 'pipelines', 'iris.yaml'), 'utf8'), 'iris.yaml');
const base: RunContext = {
  pipeline: spec.name,
  runId: 'r0a1b2c3d4',
  trigger: { kind: 'manual', requestId: 'x' },
  artifactRoot: 's3://bucket/artifacts',
  datasetUri: 's3://bucket/datasets/iris/iris.csv',
  spec,
  requestedAt: new Date(0).toISOString(),
};
const tracked: RunContext = {
  ...base,
  tracking: { uri: 'http://mlflow.internal:5000', experimentId: '7', parentRunId: 'abc123', url: 'http://mlflow.internal:5000/#/experiments/7/runs/abc123' },
};

const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default as new (o: object) => { compile(s: object): ((v: unknown) => boolean) & { errors?: unknown } };
const ajv = new Ajv2020({ strict: false, allErrors: true });

test('a tracked run hands every stage its MLflow target with the lineage tags; both contract sides accept it', () => {
  const input = buildStageInput(tracked, 'ingest');
  assert.deepEqual(input.tracking, {
    uri: 'http://mlflow.internal:5000',
    experimentId: '7',
    parentRunId: 'abc123',
    tags: {
      'sentinel.pipeline': 'iris',
      'sentinel.runId': 'r0a1b2c3d4',
      'sentinel.executionName': 'iris-r0a1b2c3d4',
      'sentinel.image': spec.image,
      'sentinel.datasetUri': 's3://bucket/datasets/iris/iris.csv',
      'sentinel.trigger': 'manual',
    },
  });
  assert.deepEqual(lineageTags(tracked), input.tracking!.tags);
  const validate = ajv.compile(JSON.parse(contractFiles()['ingest.input.schema.json']!) as object);
  assert.ok(validate(JSON.parse(JSON.stringify(input))), JSON.stringify(validate.errors));
});

test('tracking off: the stage input has no tracking at all (the stage imports no MLflow client)', () => {
  for (const run of [base, { ...base, tracking: { off: TRACKING_OFF_NOTE } }]) {
    const input = buildStageInput(run, 'ingest');
    assert.equal('tracking' in input, false);
    assert.equal(isTracked(run.tracking), false);
  }
});

test('the contract refuses a tracking target that is not an http(s) MLflow server, naming the field', () => {
  const input = { ...buildStageInput(tracked, 'ingest'), tracking: { uri: 'file:///tmp/mlruns', experimentId: '1', parentRunId: 'x' } };
  const r = StageInputSchemas.ingest.safeParse(input);
  assert.equal(r.success, false);
  assert.deepEqual(r.error!.issues[0]!.path, ['tracking', 'uri']);
});

test('the run context carries the tracking (or the note) through the state machine, strictly', () => {
  assert.deepEqual(parseRunContext(JSON.parse(JSON.stringify(tracked))).tracking, tracked.tracking);
  assert.deepEqual(parseRunContext({ ...base, tracking: { off: 'x' } }).tracking, { off: 'x' });
  assert.throws(() => parseRunContext({ ...base, tracking: { uri: 'http://x' } }), { name: 'ValidationFailed' });
});

test('links and the spec as MLflow params', () => {
  assert.equal(runUrl('http://m:5000/', '3', 'r'), 'http://m:5000/#/experiments/3/runs/r');
  assert.equal(modelUrl('http://m:5000', 'iris', '2'), 'http://m:5000/#/models/iris/versions/2');
  const params = specParams(tracked);
  assert.equal(params['model.module'], 'sentinel_jobs.models.forest');
  assert.equal(params['model.params.max_depth'], '4');
  assert.equal(params['tune.searchSpace.max_depth.type'], 'randint');
  assert.equal(params['gate.metric'], 'accuracy');
  assert.ok(Object.values(params).every((v) => typeof v === 'string'));
});

test("Ray's metrics: pods annotated for Prometheus when asked, and a pod template's own annotations kept", () => {
  // A stage's own cluster (ephemeral) and the run's cluster (the default) alike.
  const [req] = jobRequestsForRun({ ...spec, cluster: { mode: 'ephemeral' } }, 'r0a1b2c3d4');
  const run = runClusterFor(jobRequestsForRun(spec, 'r0a1b2c3d4')[0]!, { namespace: 'ml', prometheus: true }).spec;
  for (const t of [run.headGroupSpec.template, ...run.workerGroupSpecs.map((w) => w.template)]) assert.deepEqual(t.metadata.annotations, PROMETHEUS_SCRAPE_ANNOTATIONS);
  const on = rayJobFor(req!, { namespace: 'ml', prometheus: true }).spec!.rayClusterSpec!;
  assert.deepEqual(on.headGroupSpec.template.metadata.annotations, PROMETHEUS_SCRAPE_ANNOTATIONS);
  assert.deepEqual(on.workerGroupSpecs[0]!.template.metadata.annotations, PROMETHEUS_SCRAPE_ANNOTATIONS);
  assert.deepEqual(PROMETHEUS_SCRAPE_ANNOTATIONS, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
  const off = rayJobFor(req!, { namespace: 'ml' }).spec!.rayClusterSpec!;
  assert.equal(off.headGroupSpec.template.metadata.annotations, undefined);
  const t = podTemplate({ container: 'ray-head', image: 'i', cpu: 1, memory: '1Gi', spot: false, capacity: KARPENTER, labels: {}, annotations: { a: 'b' } });
  assert.deepEqual(t.metadata.annotations, { a: 'b' });
});
