// Bring your own model, end to end on real Ray: every reference pipeline (binary XGBoost, multiclass scikit-learn,
// regression XGBoost, the PyTorch Lightning recommender) runs through the deployable state machine with a small
// budget and answers its own route; each `sentinel init` template runs as scaffolded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { LocalSession, type RunReport } from '../../local/session.js';
import { repoRoot } from '../support/harness.js';
import { postJson } from '../../cli/predict.js';
import { freePort } from '../../local/ray-head.js';
import type { PipelineSpec } from '../../core/spec.js';

const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** The reference spec with a smaller budget (same task, model, route and gate). */
function small(name: string, mutate: (s: any) => void): any {
  const s = parse(readFileSync(join(repoRoot, 'pipelines', `${name}.yaml`), 'utf8'));
  mutate(s);
  return s;
}

describe('reference pipelines and templates on real Ray', () => {
  let session: LocalSession;
  let home: string;
  let port: number;
  const timings: string[] = [];

  const runSpec = async (file: string, requestId: string): Promise<{ spec: PipelineSpec; report: RunReport }> => {
    const spec = session.loadSpec(file);
    const dataset = await session.prepareDataset(spec);
    const report = await session.report(await session.start(spec, dataset, requestId), spec);
    assert.equal(report.outcome.status, 'SUCCEEDED', `${spec.name}: ${report.outcome.error}: ${report.outcome.cause}`);
    assert.deepEqual(report.stages.map((s) => s.stage), ['ingest', 'train', 'tune', 'evaluate']);
    timings.push(`${spec.name}: wall ${report.wallSeconds.toFixed(1)} s, inside Ray jobs ${report.rayJobSeconds.toFixed(1)} s`);
    return { spec, report };
  };
  const writeSpec = (name: string, spec: unknown) => {
    const p = join(home, `${name}.yaml`);
    writeFileSync(p, stringify(spec));
    return p;
  };
  const route = (spec: PipelineSpec) => `http://127.0.0.1:${port}${spec.serve.route}`;

  /** GET the route's description, POST its example, and return both. */
  const callRoute = async (spec: PipelineSpec) => {
    const info = await getJson(route(spec));
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.ok(!JSON.stringify(info.body).includes(home), 'GET shows no storage location');
    assert.ok(info.body.example, `${spec.name} advertises an example request`);
    const answer = await postJson(route(spec), info.body.example);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return { info: info.body, answer: answer.body as any };
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'sentinel-byom-'));
    port = await freePort();
    session = await LocalSession.open({ home, pythonEnv, servePort: port });
  });
  after(async () => {
    await session?.close();
    if (timings.length) process.stdout.write(`# ${timings.join('; ')}\n`);
  });

  test('iris: multiclass scikit-learn forest with text labels, served with class names', async () => {
    const file = writeSpec('iris', small('iris', (s) => Object.assign(s.stages.tune, { numSamples: 3 })));
    const { spec, report } = await runSpec(file, 'byom-iris');
    assert.equal(report.stages[0]!.metrics.classes, 3);
    assert.ok(report.stages[1]!.metrics.validation_accuracy! > 0.8, JSON.stringify(report.stages[1]!.metrics));
    assert.equal(report.gate?.promote, true, report.gate?.reason);
    const { info, answer } = await callRoute(spec);
    assert.equal(info.task, 'multiclass');
    assert.deepEqual(info.classes, ['setosa', 'versicolor', 'virginica']);
    assert.ok(answer.predictions.every((p: string) => info.classes.includes(p)), JSON.stringify(answer));
    assert.ok(answer.probabilities.every((row: number[]) => Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6));
    const bad = await postJson(route(spec), { rows: [{ sepal_length_cm: 'long' }] });
    assert.equal(bad.status, 400);
  });

  test('diabetes: regression XGBoost; the gate compares rmse with mode min and keeps a better champion', async () => {
    const file = writeSpec('diabetes', small('diabetes', (s) => {
      s.stages.train.iterations = 40;
      Object.assign(s.stages.tune, { numSamples: 3, maxIterations: 30 });
    }));
    const first = await runSpec(file, 'byom-diabetes-1');
    assert.equal(first.report.gate?.metric, 'rmse');
    assert.equal(first.report.gate?.promote, true, first.report.gate?.reason);
    const { answer } = await callRoute(first.spec);
    assert.ok(answer.predictions.every((v: number) => Number.isFinite(v) && v > 0 && v < 400), JSON.stringify(answer));
    assert.equal(answer.probabilities, undefined);

    // A much weaker candidate (2 boosting rounds) has a higher rmse: lower is better, so the champion stays.
    const weak = writeSpec('diabetes-weak', small('diabetes', (s) => {
      s.stages.train.iterations = 2;
      Object.assign(s.stages.tune, { numSamples: 1, maxIterations: 2, gracePeriod: 1 });
    }));
    const second = await runSpec(weak, 'byom-diabetes-2');
    const gate = second.report.gate!;
    assert.equal(gate.promote, false, gate.reason);
    assert.ok(gate.champion !== undefined && gate.candidate > gate.champion, `candidate ${gate.candidate} champion ${gate.champion}`);
    assert.equal((await callRoute(first.spec)).answer.model.runId, first.report.runId);
  });

  test('movielens: the PyTorch Lightning recommender trained on 2 Ray Train workers, served at POST /recommend', async () => {
    const file = writeSpec('movielens', small('movielens', (s) => {
      Object.assign(s.stages.train, { iterations: 2, checkpointEvery: 1 });
      Object.assign(s.stages.tune, { numSamples: 2, maxIterations: 2, gracePeriod: 1 });
      s.gate.floor = 3;
    }));
    const { spec, report } = await runSpec(file, 'byom-movielens');
    assert.equal(report.stages[0]!.metrics.rows, 100_000);
    assert.equal((report.stages[1]!.details as any).numWorkers, 2);
    assert.ok(report.stages[1]!.metrics.validation_rmse! < 1.3, JSON.stringify(report.stages[1]!.metrics));
    assert.equal(spec.serve.route, '/recommend');
    const res = await postJson(route(spec), { user_id: 42, movie_ids: [100, 200, 300] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const ratings = (res.body as any).ratings as Array<{ movie_id: number; rating: number }>;
    assert.deepEqual(ratings.map((r) => r.movie_id), [100, 200, 300]);
    assert.ok(ratings.every((r) => r.rating >= 1 && r.rating <= 5));
    const bad = await postJson(route(spec), { user_id: 42, movie_ids: [100, 'x'] });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /movie_ids/);
  });

  test('breast-cancer: the built-in XGBoost binary model through the same SDK', async () => {
    const file = writeSpec('breast-cancer', small('breast-cancer', (s) => {
      Object.assign(s.stages.train, { iterations: 20, checkpointEvery: 5 });
      Object.assign(s.stages.tune, { numSamples: 3, maxIterations: 12, gracePeriod: 3 });
    }));
    const { spec, report } = await runSpec(file, 'byom-bc');
    assert.ok(report.stages[1]!.metrics.validation_roc_auc! > 0.9);
    const { answer } = await callRoute(spec);
    assert.ok(answer.predictions.every((p: number) => p === 0 || p === 1));
  });

  for (const template of ['xgboost', 'sklearn', 'lightning'] as const) {
    test(`sentinel init --template ${template} scaffolds a pipeline that runs unchanged and passes its own test`, async () => {
      const name = `my-${template}`;
      execFileSync(join(repoRoot, 'bin', 'sentinel'), ['init', name, '--template', template, '--dir', home], { stdio: 'pipe' });
      const dir = join(home, name);
      const own = execFileSync(join(pythonEnv, 'bin', 'python'), ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', dir], { encoding: 'utf8', cwd: dir });
      assert.match(own, /\d+ passed/);
      const { spec } = await runSpec(join(dir, 'pipeline.yaml'), `byom-init-${template}`);
      await callRoute(spec);
    });
  }
});
