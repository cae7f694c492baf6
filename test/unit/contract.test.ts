// The stage contract: the inputs built from each reference spec are what the contract's schemas (and the JSON Schema
// files the Python side validates with) accept; result.json is checked; the checked-in files are current.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parseSpec, validateSpec, type PipelineSpec } from '../../core/spec.js';
import { buildStageInput } from '../../core/stage-input.js';
import { MAX_FAILURE_REASON, StageFailureSchema, StageInputSchemas, StageResultSchema } from '../../core/contract.js';
import { FAILURE_FILE, RESULT_FILE } from '../../core/artifacts.js';
import { CONTRACT_DIR, contractFiles } from '../../core/contract-files.js';
import { vocabulary, metricsFor, metricMode, TASKS } from '../../core/tasks.js';
import { STAGES, type Stage } from '../../core/stages.js';
import type { RunContext, StageSummaries, StageSummary, ChampionRecord } from '../../core/model.js';
import { referenceSpec, repoRoot } from '../support/reference.js';

const PIPELINES = ['breast-cancer', 'iris', 'diabetes', 'movielens'];
const loadReference = (name: string) => parseSpec(readFileSync(join(repoRoot, 'pipelines', `${name}.yaml`), 'utf8'), name);

const runOf = (spec: PipelineSpec): RunContext => ({
  pipeline: spec.name,
  runId: 'r0a1b2c3d4',
  trigger: { kind: 'manual', requestId: 'x' },
  artifactRoot: 's3://bucket/artifacts',
  datasetUri: 's3://bucket/datasets/x.csv',
  spec,
  requestedAt: new Date(0).toISOString(),
});

function summaries(run: RunContext): StageSummaries {
  const m = run.spec.gate.metric;
  const s = (stage: Stage, metrics: Record<string, number>, artifacts: Record<string, string>): StageSummary => ({
    stage, jobId: `${run.pipeline}-${run.runId}-${stage}-1`, attempt: 1, resultUri: `s3://b/${stage}/result.json`, metrics, artifacts, jobSeconds: 1,
  });
  return {
    ingest: s('ingest', { rows: 100 }, {}),
    train: s('train', { [`validation_${m}`]: 0.5 }, { model: 's3://b/train/model' }),
    tune: s('tune', { [`validation_${m}`]: 0.6 }, { model: 's3://b/tune/model' }),
  };
}

const champion: ChampionRecord = {
  pipeline: 'x',
  current: { runId: 'r000000001', modelUri: 's3://b/old/model', metric: 'rmse', value: 1, promotedAt: '', serveConfig: {} },
};

// asl-validator's Ajv (a dev dependency's): the JSON Schema side, as the Python jsonschema validator reads it.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default as new (o: object) => { compile(s: object): ((v: unknown) => boolean) & { errors?: unknown } };
const ajv = new Ajv2020({ strict: false, allErrors: true });
const jsonSchemaOf = (name: string) => JSON.parse(contractFiles()[name]!) as object;

test('each stage input built from each reference spec is what the contract accepts, in zod and in JSON Schema', () => {
  for (const name of PIPELINES) {
    const spec = loadReference(name);
    const run = runOf(spec);
    for (const stage of STAGES) {
      const input = buildStageInput(run, stage, summaries(run), stage === 'evaluate' ? champion : undefined);
      assert.equal(StageInputSchemas[stage].safeParse(input).success, true, `${name}/${stage}`);
      const validate = ajv.compile(jsonSchemaOf(`${stage}.input.schema.json`));
      assert.equal(validate(JSON.parse(JSON.stringify(input))), true, `${name}/${stage}: ${JSON.stringify(validate.errors)}`);
      // The envelope does not let another stage's input through.
      const other = STAGES.find((s) => s !== stage)!;
      assert.equal(StageInputSchemas[other].safeParse(input).success, false);
    }
  }
});

test('train and tune params carry the task, the model, iterations, resources and the split seed', () => {
  const spec = loadReference('movielens');
  const run = runOf(spec);
  const train = buildStageInput(run, 'train', summaries(run)).params;
  assert.deepEqual(train, {
    dataUri: 's3://bucket/artifacts/movielens/r0a1b2c3d4/ingest',
    target: 'rating',
    task: 'regression',
    metric: 'rmse',
    mode: 'min',
    model: spec.model,
    iterations: 8,
    checkpointEvery: 2,
    numWorkers: 2,
    resources: { cpu: 1, gpu: 0 },
    seed: 42,
  });
  const tune = buildStageInput(run, 'tune', summaries(run)).params;
  assert.equal(tune.maxIterations, 6);
  assert.equal(tune.gracePeriod, 2);
  assert.equal(tune.reductionFactor, 3);
  assert.equal(tune.maxConcurrent, 2);
  assert.deepEqual(tune.searchSpace, spec.stages.tune.searchSpace);
  assert.deepEqual(tune.model, spec.model);
  const ingest = buildStageInput(run, 'ingest').params;
  assert.deepEqual(ingest, { datasetUri: run.datasetUri, target: 'rating', task: 'regression', split: spec.dataset.split, minRows: 30 });
  const evaluate = buildStageInput(run, 'evaluate', summaries(run), champion).params;
  // rmse is minimised: train's 0.5 beats tune's 0.6.
  assert.deepEqual(evaluate.candidate, { modelUri: 's3://b/train/model', source: 'train' });
  assert.deepEqual(evaluate.champion, { modelUri: 's3://b/old/model', runId: 'r000000001' });
  assert.equal(evaluate.task, 'regression');
});

test('gpus in the stage resources reach the params; inputs the contract refuses fail before a job is asked for', () => {
  const s = referenceSpec() as any;
  s.stages.train.resources.gpu = 1;
  const run = runOf(validateSpec(s));
  assert.deepEqual(buildStageInput(run, 'train', summaries(run)).params.resources, { cpu: 1, gpu: 1 });
  // A run context that the spec schema never saw (hand-built): a metric of another task.
  const bad = { ...run, spec: { ...run.spec, gate: { ...run.spec.gate, metric: 'rmse' as const } } };
  assert.throws(() => buildStageInput(bad, 'train', summaries(bad)), { name: 'ValidationFailed', message: /train input\.params\.metric/ });
  assert.throws(() => buildStageInput(run, 'train'), { name: 'ValidationFailed', message: /stages\.ingest/ });
});

test('result.json: the contract accepts what a job writes and names what is wrong otherwise', () => {
  const ok = { stage: 'train', metrics: { validation_rmse: 3.2, iterations: 8 }, artifacts: { model: '/a/model' }, details: { resumedFromIteration: 0 } };
  assert.equal(StageResultSchema.safeParse(ok).success, true);
  assert.equal(ajv.compile(jsonSchemaOf('result.schema.json'))(ok), true);
  const bad = StageResultSchema.safeParse({ ...ok, metrics: { validation_rmse: 'x' } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0]!.path, ['metrics', 'validation_rmse']);
  assert.equal(StageResultSchema.safeParse({ ...ok, stage: 'deploy' }).success, false);
  assert.equal(StageResultSchema.safeParse({ ...ok, extra: 1 }).success, false);
});

test('failure.json: the record a failing job writes is bounded and names its attempt; zod and the JSON Schema agree', () => {
  const ok = { pipeline: 'breast-cancer', runId: 'r0a1b2c3d4', stage: 'ingest', attempt: 2, error: 'ValidationFailed', reason: "ValidationFailed: column 'b' has non-numeric values", time: '2026-12-02T05:30:00.123Z' };
  const validate = ajv.compile(jsonSchemaOf('failure.schema.json'));
  assert.equal(StageFailureSchema.safeParse(ok).success, true);
  assert.equal(validate(ok), true);
  const refused: Array<[Record<string, unknown>, string]> = [
    [{ ...ok, attempt: 0 }, 'attempt'],
    [{ ...ok, attempt: 100 }, 'attempt'],
    [{ ...ok, attempt: 1.5 }, 'attempt'],
    [{ ...ok, runId: 'r1' }, 'runId'],
    [{ ...ok, stage: 'deploy' }, 'stage'],
    [{ ...ok, error: 'not a name' }, 'error'],
    [{ ...ok, reason: '' }, 'reason'],
    [{ ...ok, reason: 'x'.repeat(MAX_FAILURE_REASON + 1) }, 'reason'],
    [{ ...ok, time: 'yesterday' }, 'time'],
    [{ ...ok, env: { AWS_SECRET_ACCESS_KEY: 'x' } }, ''],
  ];
  for (const [record, field] of refused) {
    const r = StageFailureSchema.safeParse(record);
    assert.equal(r.success, false, JSON.stringify(record).slice(0, 80));
    if (field) assert.deepEqual(r.error!.issues[0]!.path, [field]);
    assert.equal(validate(record), false, `the JSON Schema refuses it too: ${field || 'an extra field'}`);
  }
  const { attempt: _a, ...noAttempt } = ok;
  assert.equal(StageFailureSchema.safeParse(noAttempt).success, false, 'a record without its attempt names no job');
  // The file names the Python side writes come from the generated wire.json.
  assert.deepEqual(JSON.parse(contractFiles()['wire.json']!).stageFiles, { result: RESULT_FILE, failure: FAILURE_FILE });
});

test('the vocabulary: every task has its metrics with a direction and a default among them', () => {
  const v = vocabulary();
  assert.deepEqual(Object.keys(v.tasks), [...TASKS]);
  for (const task of TASKS) {
    assert.deepEqual(Object.keys(v.tasks[task].metrics), metricsFor(task));
    for (const [m, mode] of Object.entries(v.tasks[task].metrics)) assert.equal(mode, metricMode(m as never));
    assert.ok(metricsFor(task).includes(v.tasks[task].default));
  }
  assert.deepEqual(v.tasks.regression.metrics, { rmse: 'min', mae: 'min', r2: 'max' });
});

test('the checked-in contract files are current (run `npm run contract` when this fails)', () => {
  const files = contractFiles();
  assert.deepEqual(Object.keys(files).sort(), [...STAGES.map((s) => `${s}.input.schema.json`), 'result.schema.json', 'failure.schema.json', 'vocabulary.json', 'wire.json'].sort());
  for (const [name, text] of Object.entries(files)) {
    let onDisk: string | undefined;
    try {
      onDisk = readFileSync(join(repoRoot, CONTRACT_DIR, name), 'utf8');
    } catch {
      onDisk = undefined;
    }
    assert.ok(onDisk === text, `${CONTRACT_DIR}/${name} is stale or missing: run \`npm run contract\``);
    assert.ok(text.endsWith('}\n'));
  }
  // Deterministic: the same text twice.
  assert.deepEqual(contractFiles(), files);
  // Defaults are in the input schemas (the Python side takes them from there).
  const train = JSON.parse(files['train.input.schema.json']!);
  assert.equal(train.properties.params.properties.checkpointEvery.default, 10);
  assert.equal(JSON.parse(files['ingest.input.schema.json']!).properties.params.properties.minRows.default, 30);
});
