// The spec schema field by field: the defaults a minimal spec gets, and which values each field accepts. Asserts
// what validation returns or refuses (and at which field), not the wording of its messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateSpec, PIPELINE_NAME_PATTERN, SERVE_APP_PATTERN, DEFAULT_SERVE_APP, type PipelineSpecInput } from '../../core/spec.js';
import { MODEL_MODULE_PATTERN, StageInputSchemas, StageResultSchema, TrackingInputSchema } from '../../core/contract.js';
import { interpretModelCheck, modelCheckRequest, specFieldOf, ModelCheckCrashed } from '../../core/model-check.js';

const minimal = (): Record<string, any> => ({
  name: 'churn',
  model: { module: 'churn_model' },
  dataset: { uri: 'datasets/churn/a.csv' },
  stages: { train: { iterations: 10 }, tune: { searchSpace: { eta: { type: 'uniform', lower: 0.1, upper: 0.3 } }, numSamples: 2, maxIterations: 10 } },
  gate: { metric: 'roc_auc', floor: 0.5 },
  serve: { route: '/predict' },
});
const withField = (path: string, value: unknown) => {
  const s = minimal();
  const keys = path.split('.');
  let o = s;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  if (value === undefined) delete o[keys.at(-1)!];
  else o[keys.at(-1)!] = value;
  return s;
};
/** The field paths a refusal names (the text before each ": "), or [] when the spec is valid. */
const refusedAt = (spec: unknown): string[] => {
  try {
    validateSpec(spec as PipelineSpecInput, 'S');
    return [];
  } catch (e) {
    assert.equal((e as Error).name, 'ValidationFailed');
    return [...(e as Error).message.matchAll(/(?:^|; )(S(?:\.[\w-]+|\[\d+\])*): /g)].map((m) => m[1]!);
  }
};

test('a minimal spec gets every default', () => {
  const stage = (s: string) => ({ module: `sentinel_jobs.${s}`, resources: { cpu: 1, memory: '2Gi', gpu: 0, spot: false }, timeoutSeconds: 3600 });
  assert.deepEqual(validateSpec(minimal()), {
    name: 'churn',
    image: 'sentinel-jobs:local',
    task: 'binary',
    model: { module: 'churn_model', params: {} },
    dataset: { uri: 'datasets/churn/a.csv', target: 'target', split: { validation: 0.15, test: 0.15, seed: 42 } },
    cluster: { mode: 'run' },
    stages: {
      ingest: { ...stage('ingest'), minRows: 30 },
      train: { ...stage('train'), iterations: 10, checkpointEvery: 10, numWorkers: 1 },
      tune: { ...stage('tune'), searchSpace: { eta: { type: 'uniform', lower: 0.1, upper: 0.3 } }, numSamples: 2, maxConcurrent: 2, maxIterations: 10, gracePeriod: 5, reductionFactor: 3 },
      evaluate: stage('evaluate'),
    },
    gate: { metric: 'roc_auc', mode: 'max', minImprovement: 0, floor: 0.5 },
    serve: {
      route: '/predict',
      app: 'sentinel_sdk.serving:app',
      replicas: { min: 1, max: 5 },
      targetOngoingRequests: 5,
      upscaleDelaySeconds: 1,
      downscaleDelaySeconds: 30,
      maxOngoingRequests: 32,
      maxRowsPerRequest: 1000,
      cpusPerReplica: 0.5,
    },
    maxConcurrentRuns: 1,
    priority: 0,
  });
  assert.equal(DEFAULT_SERVE_APP, 'sentinel_sdk.serving:app');
  // A split given in part keeps the other defaults.
  assert.deepEqual(validateSpec(withField('dataset.split', { seed: 7 })).dataset.split, { validation: 0.15, test: 0.15, seed: 7 });
  assert.equal(validateSpec(withField('gate.metric', 'logloss')).gate.mode, 'min');
});

test('names, modules, apps, routes, quantities and code folders: what each accepts', () => {
  const ok = (path: string, value: unknown) => assert.deepEqual(refusedAt(withField(path, value)), [], `${path} = ${JSON.stringify(value)}`);
  const bad = (path: string, value: unknown, at = `S.${path}`) => assert.ok(refusedAt(withField(path, value)).includes(at), `${path} = ${JSON.stringify(value)}: ${refusedAt(withField(path, value))}`);
  for (const v of ['a', 'a1', 'a-b', 'breast-cancer', `a${'b'.repeat(22)}c`]) ok('name', v);
  for (const v of ['', 'A', '1a', '-a', 'a-', '_a', 'a_', 'a.b', 'ab ', ' ab', `a${'b'.repeat(23)}c`]) bad('name', v);
  for (const v of ['m', '_m', 'pkg.mod', 'Pkg.Mod_1']) ok('stages.train.module', v);
  for (const v of ['', '1m', 'm-x', 'm.', '.m', 'm..n', 'm n', 'm;x', 'pkg.1mod', 'm:attr']) bad('stages.train.module', v);
  for (const v of ['m:app', 'pkg.mod:build_app', '_x:_y']) ok('serve.app', v);
  for (const v of ['m', ':app', 'm:', 'm:1app', '1m:app', 'm:app:x', 'm.:app', 'm app:x', 'm:a-b', 'pkg..m:app']) bad('serve.app', v);
  for (const v of ['/', '/predict', '/v1/churn_model-2']) ok('serve.route', v);
  for (const v of ['', 'predict', '/Predict', '/a b', '/a?x', '//x\n']) bad('serve.route', v);
  for (const v of ['1', '500m', '2Gi', '1.5G', '128Mi', '1k', '3T', '2Ti', '512Ki', '4M']) ok('stages.train.resources.memory', v);
  for (const v of ['', 'Gi', '2gi', '2 Gi', '2Gib', '.5G', '1.G', '-1', '2Gi ', ' 2Gi']) bad('stages.train.resources.memory', v);
  for (const v of ['/opt/code', 'rel/code', './x']) ok('code', v);
  for (const v of ['', '/a:/b', '/a\nb', '/a\rb', '/a\0b']) bad('code', v);
  for (const v of ['churn_model', 'pkg.mod:Model', '_m:_A']) ok('model.module', v);
  for (const v of ['', 'm-x', 'm:', ':A', 'm:A:B', '1m', 'm.1x', 'm:1A']) bad('model.module', v);
  assert.match('pkg.mod:Attr', MODEL_MODULE_PATTERN);
  assert.match('a-1', PIPELINE_NAME_PATTERN);
  assert.match('a:b', SERVE_APP_PATTERN);
  // The image, the dataset URI and the gate metric must not be empty.
  bad('image', '');
  bad('dataset.uri', '');
  bad('dataset.target', '');
  assert.ok(refusedAt(withField('gate.metric', '')).length > 0);
});

test('an existing cluster must name a RayCluster by ray.io/cluster', () => {
  const cluster = (selector: Record<string, string>) => refusedAt(withField('cluster', { mode: 'existing', selector }));
  for (const name of ['shared', 'a', 'ray-1', `a${'b'.repeat(51)}c`]) assert.deepEqual(cluster({ 'ray.io/cluster': name }), [], name);
  for (const name of ['', 'Shared', '1a', 'a-', '-a', 'a_b', `a${'b'.repeat(52)}c`, 'a b']) assert.ok(cluster({ 'ray.io/cluster': name }).length > 0, name);
  assert.ok(cluster({ team: 'ml' }).length > 0);
  assert.deepEqual(validateSpec(withField('cluster', { mode: 'existing', selector: { 'ray.io/cluster': 'shared', team: 'ml' } })).cluster, { mode: 'existing', selector: { 'ray.io/cluster': 'shared', team: 'ml' } });
  assert.ok(refusedAt(withField('cluster', { mode: 'ephemeral', selector: {} })).length > 0, 'no selector on an ephemeral cluster');
  assert.ok(refusedAt(withField('cluster', { mode: 'elsewhere' })).length > 0);
});

test('numbers and booleans: bounds and cross-field rules, each refused at its field', () => {
  const at = (path: string, value: unknown) => refusedAt(withField(path, value));
  assert.deepEqual(at('stages.train.timeoutSeconds', 60), []);
  assert.ok(at('stages.train.timeoutSeconds', 59).includes('S.stages.train.timeoutSeconds'));
  assert.ok(at('stages.train.resources.spot', 'yes').includes('S.stages.train.resources.spot'));
  assert.deepEqual(validateSpec(withField('stages.train.resources', { spot: true })).stages.train.resources, { cpu: 1, memory: '2Gi', gpu: 0, spot: true });
  assert.ok(at('stages.tune.gracePeriod', 11).includes('S.stages.tune.gracePeriod'), 'grace period beyond maxIterations');
  assert.deepEqual(at('stages.tune.gracePeriod', 10), []);
  assert.ok(at('serve.replicas', { min: 3, max: 2 }).includes('S.serve.replicas.min'));
  assert.deepEqual(at('serve.replicas', { min: 2, max: 2 }), []);
  assert.ok(at('serve.maxOngoingRequests', 4).includes('S.serve.maxOngoingRequests'), 'below the target of 5');
  assert.deepEqual(at('serve.maxOngoingRequests', 5), []);
  assert.ok(at('gate.minImprovement', -0.1).includes('S.gate.minImprovement'));
  assert.ok(at('gate.floor', undefined).includes('S.gate.floor'));
  assert.ok(at('serve.targetOngoingRequests', 0).includes('S.serve.targetOngoingRequests'));
  assert.ok(at('serve.cpusPerReplica', 0).includes('S.serve.cpusPerReplica'));
  assert.ok(at('unknown', 1).includes('S'), 'unknown top-level fields');
  assert.ok(at('stages.deploy', {}).includes('S.stages'), 'unknown stages');
});

test("the gate's metric is one of the task's, and an explicit mode agrees with its direction", () => {
  const at = (task: string | undefined, metric: string, mode?: string) => {
    const s = withField('gate', { metric, floor: 0, ...(mode ? { mode } : {}) });
    if (task) s.task = task;
    return refusedAt(s);
  };
  assert.deepEqual(at(undefined, 'logloss'), [], 'binary by default');
  assert.deepEqual(at('regression', 'rmse', 'min'), []);
  assert.deepEqual(at('regression', 'r2', 'max'), []);
  assert.deepEqual(at('multiclass', 'f1_macro'), []);
  assert.deepEqual(at('binary', 'rmse'), ['S.gate.metric']);
  assert.deepEqual(at('regression', 'roc_auc', 'max'), ['S.gate.metric'], 'a wrong metric is reported once, not with its mode');
  assert.deepEqual(at('regression', 'rmse', 'max'), ['S.gate.mode']);
  assert.deepEqual(at('binary', 'roc_auc', 'min'), ['S.gate.mode']);
  assert.deepEqual(at('binary', 'toString'), ['S.gate.metric']);
  // A bad task or metric is reported by its own field only.
  assert.deepEqual(at('ranking', 'ndcg'), ['S.task']);
  assert.ok(!refusedAt(withField('gate', { metric: 5, floor: 0 })).includes('S.gate.mode'));
  assert.ok(refusedAt(withField('gate', 'strict')).includes('S.gate'));
  assert.ok(refusedAt(null).length > 0);
  assert.ok(refusedAt('churn').length > 0);
  const s = validateSpec({ ...withField('gate', { metric: 'rmse', floor: 10 }), task: 'regression' });
  assert.deepEqual(s.gate, { metric: 'rmse', mode: 'min', minImprovement: 0, floor: 10 });
});

test('the stage input envelope and result.json: what the contract accepts', () => {
  const env = { pipeline: 'churn', runId: 'r0123456789'.slice(0, 10), stage: 'ingest', stageUri: '/a/churn/r012345678/ingest', runUri: '/a/churn/r012345678', params: { datasetUri: '/d.csv' } };
  const parsed = StageInputSchemas.ingest.parse(env);
  assert.deepEqual(parsed.params, { datasetUri: '/d.csv', target: 'target', task: 'binary', split: { validation: 0.15, test: 0.15, seed: 42 }, minRows: 30 });
  for (const bad of [{ stage: 'train' }, { runId: 'r01234567' }, { pipeline: '' }, { stageUri: '' }, { runUri: '' }, { extra: 1 }, { params: { datasetUri: '' } }]) {
    assert.equal(StageInputSchemas.ingest.safeParse({ ...env, ...bad }).success, false, JSON.stringify(bad));
  }
  const tracking = { uri: 'http://127.0.0.1:5000', experimentId: '1', parentRunId: 'abc' };
  assert.deepEqual(TrackingInputSchema.parse(tracking), { ...tracking, tags: {} });
  assert.deepEqual(StageInputSchemas.ingest.parse({ ...env, tracking }).tracking, { ...tracking, tags: {} });
  for (const uri of ['https://mlflow.example.com/x', 'http://h']) assert.equal(TrackingInputSchema.safeParse({ ...tracking, uri }).success, true, uri);
  for (const uri of ['ftp://h', 'http://', 'http://a b', 'mlflow', ' http://h', 'xhttp://h']) assert.equal(TrackingInputSchema.safeParse({ ...tracking, uri }).success, false, uri);
  for (const bad of [{ experimentId: '' }, { parentRunId: '' }, { tags: { '': 'x' } }, { tags: { a: 1 } }, { extra: 1 }]) assert.equal(TrackingInputSchema.safeParse({ ...tracking, ...bad }).success, false, JSON.stringify(bad));
  const result = { stage: 'train', metrics: { a: 1 }, artifacts: { model: '/m' } };
  assert.equal(StageResultSchema.safeParse(result).success, true);
  assert.equal(StageResultSchema.safeParse({ ...result, details: { anything: [1] } }).success, true);
  for (const bad of [{ metrics: { a: Number.NaN } }, { metrics: { a: Number.POSITIVE_INFINITY } }, { artifacts: { model: 1 } }, { stage: 'serve' }]) {
    assert.equal(StageResultSchema.safeParse({ ...result, ...bad }).success, false, JSON.stringify(bad));
  }
});

test('the model check: the request from the spec, an accepted answer, refusals naming spec fields, crashes', () => {
  const spec = validateSpec({ ...withField('model', { module: 'm', params: { depth: 3 } }), task: 'regression', gate: { metric: 'rmse', floor: 1 } });
  assert.deepEqual(modelCheckRequest({ ...spec, stages: { ...spec.stages, train: { ...spec.stages.train, numWorkers: 3, resources: { ...spec.stages.train.resources, gpu: 1 } } } }), {
    model: { module: 'm', params: { depth: 3 } },
    task: 'regression',
    searchSpace: { eta: { type: 'uniform', lower: 0.1, upper: 0.3 } },
    numWorkers: 3,
    gpu: 1,
  });
  const out = (exitCode: number | null, stdout: string, stderr = '', signal?: string) => ({ exitCode, stdout, stderr, ...(signal ? { signal } : {}) });
  assert.deepEqual(interpretModelCheck(out(0, 'importing…\n{"ok": true, "framework": "xgboost", "paramsSchema": {"type": "object"}}\n'), 'S'), { framework: 'xgboost', paramsSchema: { type: 'object' } });
  assert.deepEqual(interpretModelCheck(out(0, '{"ok": true, "framework": "f", "paramsSchema": null, "tasks": ["binary"], "extra": 1}'), 'S'), { framework: 'f', paramsSchema: null, tasks: ['binary'] });
  const refusal = (errors: unknown[]) => {
    try {
      interpretModelCheck(out(1, JSON.stringify({ ok: false, errors })), 'S');
    } catch (e) {
      assert.equal((e as Error).name, 'ValidationFailed');
      return (e as Error).message.split('; ');
    }
    assert.fail('not refused');
  };
  assert.deepEqual(refusal([{ path: ['model', 'params', 'depth'], message: 'too deep' }, { path: ['stages', 'tune', 'searchSpace', 'eta', 'values', 0], message: 'no' }]).map((l) => l.split(': ')[0]), [
    'S.model.params.depth',
    'S.stages.tune.searchSpace.eta.values[0]',
  ]);
  const many = refusal(Array.from({ length: 12 }, (_, i) => ({ path: ['p', i], message: 'x' })));
  assert.equal(many.length, 11);
  assert.ok(many[10]!.includes('2'), 'and how many more');
  assert.equal(refusal(Array.from({ length: 10 }, (_, i) => ({ path: ['p', i], message: 'x' }))).length, 10);
  assert.equal(specFieldOf('S', ['a', 0, 'b', 1]), 'S.a[0].b[1]');
  assert.equal(specFieldOf('S', []), 'S');
  const crashes = [
    out(2, '', 'Traceback\nImportError: no module m'),
    out(null, '', '', 'SIGKILL'),
    out(null, ''),
    out(0, 'not json'),
    out(0, '{"ok": false, "errors": []}'),
    out(1, '{"ok": true, "framework": "f"}'),
    out(1, '{"ok": false, "errors": []}'),
    out(0, '{"ok": true, "framework": ""}'),
    out(0, '{broken'),
    out(0, ''),
  ];
  for (const c of crashes) assert.throws(() => interpretModelCheck(c, 'S'), ModelCheckCrashed, JSON.stringify(c));
  const crash = (c: ReturnType<typeof out>) => {
    try {
      interpretModelCheck(c, 'S', 'check-cmd');
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  };
  const withTail = crash(out(3, '', Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\n\n'));
  assert.ok(withTail.startsWith('S: '), 'names the spec');
  assert.ok(withTail.includes('check-cmd'));
  assert.ok(withTail.endsWith('line 29') && withTail.includes('line 10') && !withTail.includes('line 9\n'), 'the last 20 lines of stderr');
  assert.ok(crash(out(null, '', '', 'SIGTERM')).includes('SIGTERM'));
  assert.notEqual(crash(out(0, 'garbage')), crash(out(0, '')), 'says whether there was an answer');
  assert.notEqual(crash(out(0, '{"ok": 3}')), crash(out(0, 'garbage')));
  // The last JSON line is the answer, whatever was printed before it.
  assert.equal(interpretModelCheck(out(0, '{"ok": false}\n  {"ok": true, "framework": "f", "paramsSchema": 1}  \n'), 'S').framework, 'f');
});
