// Experiment tracking and the model registry against a real MLflow server (never a mock):
// 1. the registry's `champion` alias and champion.json agree after promote, keep, a second promote and rollback, and a
//    drifted alias is set back from champion.json (the state machine and its handlers, in-memory compute and serving);
// 2. two local runs on two datasets (breast-cancer and iris, small budgets) on a real Ray head, tracked on the MLflow
//    server `sentinel run` starts, and looked at in the MLflow UI in headless Chromium: both runs with their stage
//    metrics, the nested tune trials, and the registered models whose champion alias matches champion.json.
//    Screenshots go to test/artifacts/ (gitignored).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { harness, referenceSpec, repoRoot } from '../support/harness.js';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { Browser, CHROMIUM_CANDIDATES } from '../support/chromium.js';
import { startMlflowServer, type MlflowServer } from '../../local/mlflow-server.js';
import { MlflowRest } from '../../adapters/mlflow/rest.js';
import { LocalSession, type RunReport } from '../../local/session.js';
import { freePort } from '../../local/ray-head.js';
import { championUri, runRecordUri } from '../../core/artifacts.js';
import { rollback } from '../../core/promote.js';
import { CHAMPION_ALIAS } from '../../core/tracking.js';
import { systemClock } from '../../core/ports.js';
import type { ChampionRecord, RunRecord } from '../../core/model.js';
import type { GateResult } from '../../core/evaluate-gate.js';
import type { PipelineSpec } from '../../core/spec.js';

const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');
const ARTIFACTS = join(repoRoot, 'test', 'artifacts');

/** champion.json and the registry's champion alias name the same run, model folder and version. */
async function assertAgree(tracking: MlflowRest, artifactRoot: string, pipeline: string) {
  const record = JSON.parse(readFileSync(championUri(artifactRoot, pipeline), 'utf8')) as ChampionRecord;
  const alias = await tracking.byAlias(pipeline, CHAMPION_ALIAS);
  assert.ok(alias, `${pipeline}: the registry has a champion`);
  assert.equal(alias.tags['sentinel.runId'], record.current.runId, `${pipeline}: alias and champion.json name the same run`);
  assert.equal(alias.tags['sentinel.modelUri'], record.current.modelUri);
  assert.equal(alias.version, record.current.registry?.version, 'champion.json records the aliased version');
  assert.ok(alias.aliases.includes(CHAMPION_ALIAS));
  return { record, alias };
}

describe('model registry and champion.json (real MLflow server; in-memory compute and serving)', () => {
  let server: MlflowServer;
  let home: string;
  let tracking: MlflowRest;
  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'sentinel-mlflow-'));
    server = await startMlflowServer({ pythonEnv, home, artifactsDir: join(home, 'artifacts'), logFile: join(home, 'mlflow.log') });
    tracking = new MlflowRest({ uri: server.uri });
  });
  after(async () => {
    await server?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  test('promote, keep, promote, rollback: the champion alias follows champion.json; a drifted alias is set back', async () => {
    // Candidates per run: 0.96 (first champion), 0.955 (kept), 0.99 (promoted), 0.955 (kept, after a drift).
    const evaluate = [0.96, 0.955, 0.99, 0.955].map((v) => ({ kind: 'succeed' as const, metrics: { candidate_roc_auc: v } }));
    const serving = new FakeServing();
    const h = harness(new FakeCompute({ evaluate }), serving, { tracking });
    try {
      const gateOf = (r: { outcome: { output?: Record<string, unknown> } }) => r.outcome.output?.gate as GateResult;
      const first = await h.start('first');
      assert.equal(first.outcome.status, 'SUCCEEDED');
      const a = await assertAgree(tracking, h.artifactRoot, 'breast-cancer');
      assert.equal(a.record.current.runId, first.runId);
      assert.equal(a.alias.version, '1');
      // The pipeline run is one MLflow run, named after the Sentinel run, ended with the run, the gate's word on it.
      const experimentId = await tracking.experimentId('breast-cancer');
      const [parent] = await tracking.findRuns(experimentId, `tags.\`sentinel.runId\` = '${first.runId}' and tags.\`sentinel.kind\` = 'pipeline-run'`);
      assert.ok(parent);
      assert.equal(parent.status, 'FINISHED');
      assert.equal(parent.tags['sentinel.gate'], 'PROMOTE');
      assert.equal(parent.tags['sentinel.executionName'], first.executionName);
      const record = JSON.parse(readFileSync(runRecordUri(h.artifactRoot, 'breast-cancer', first.runId), 'utf8')) as RunRecord;
      assert.ok(record.tracking && 'parentRunId' in record.tracking && record.tracking.parentRunId === parent.runId);

      const kept = await h.start('kept');
      assert.equal(gateOf(kept).promote, false);
      assert.equal(gateOf(kept).championSource, 'registry', 'the gate read the champion from the registry');
      assert.equal(gateOf(kept).championRunId, first.runId);
      assert.equal((await assertAgree(tracking, h.artifactRoot, 'breast-cancer')).record.current.runId, first.runId);

      const second = await h.start('second');
      assert.equal(gateOf(second).promote, true);
      const b = await assertAgree(tracking, h.artifactRoot, 'breast-cancer');
      assert.equal(b.record.current.runId, second.runId);
      assert.equal(b.record.previous?.runId, first.runId);
      assert.equal(b.alias.version, '2');

      const back = await rollback({ artifactRoot: h.artifactRoot, pipeline: 'breast-cancer' }, { serving, store: h.runtime.store, clock: systemClock, now: () => new Date(), tracking });
      assert.equal(back.runId, first.runId);
      const c = await assertAgree(tracking, h.artifactRoot, 'breast-cancer');
      assert.equal(c.alias.version, '1', 'rollback moves the alias back to the first version');
      assert.equal((await tracking.versions('breast-cancer')).length, 2, 'rollback registers nothing new');

      // The registry was unreachable at a promotion (simulated by moving the alias by hand): the next gate finds the
      // two apart, sets the alias from champion.json (what serves) and compares against that champion.
      await tracking.setAlias('breast-cancer', CHAMPION_ALIAS, '2');
      const drifted = await h.start('drifted');
      assert.equal(gateOf(drifted).championRunId, first.runId);
      assert.match(gateOf(drifted).championNote ?? '', /set from champion\.json/);
      assert.equal((await assertAgree(tracking, h.artifactRoot, 'breast-cancer')).alias.version, '1');
    } finally {
      await h.cleanup();
    }
  });

  test('tracking off: no MLflow run, a note in the run record, nothing fails', async () => {
    const h = harness(new FakeCompute(), new FakeServing());
    try {
      const run = await h.start('untracked');
      assert.equal(run.outcome.status, 'SUCCEEDED');
      const record = JSON.parse(readFileSync(runRecordUri(h.artifactRoot, 'breast-cancer', run.runId), 'utf8')) as RunRecord;
      assert.ok(record.tracking && 'off' in record.tracking);
      assert.match(record.tracking.off, /no MLflow tracking URI is configured/);
      const champion = JSON.parse(readFileSync(championUri(h.artifactRoot, 'breast-cancer'), 'utf8')) as ChampionRecord;
      assert.equal(champion.current.registry, undefined);
    } finally {
      await h.cleanup();
    }
  });
});

/** The reference spec with a smaller budget. */
function small(name: string, mutate: (s: any) => void): any {
  const s = parse(readFileSync(join(repoRoot, 'pipelines', `${name}.yaml`), 'utf8'));
  mutate(s);
  return s;
}

describe('two local runs on two datasets in the MLflow UI (real Ray, real MLflow, headless Chromium)', () => {
  let session: LocalSession;
  let home: string;
  const chromium = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  const runs: Array<{ spec: PipelineSpec; report: RunReport }> = [];

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'sentinel-e2e-mlflow-'));
    session = await LocalSession.open({ home, pythonEnv, servePort: await freePort(), numCpus: 4, tracking: 'local' });
  });
  after(async () => {
    await session?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('breast-cancer and iris: tracked, nested, registered', async () => {
    const specs = {
      'breast-cancer': small('breast-cancer', (s) => {
        s.stages.train.iterations = 12;
        s.stages.train.checkpointEvery = 4;
        Object.assign(s.stages.tune, { numSamples: 3, maxConcurrent: 2, maxIterations: 8, gracePeriod: 2 });
      }),
      iris: small('iris', (s) => {
        s.stages.train.iterations = 4;
        Object.assign(s.stages.tune, { numSamples: 3, maxConcurrent: 2, maxIterations: 4, gracePeriod: 2 });
      }),
    };
    for (const [name, raw] of Object.entries(specs)) {
      const file = join(home, `${name}.yaml`);
      writeFileSync(file, stringify(raw));
      const spec = session.loadSpec(file);
      const dataset = await session.prepareDataset(spec);
      const report = await session.report(await session.start(spec, dataset, `mlflow-${name}`), spec);
      assert.equal(report.outcome.status, 'SUCCEEDED', `${name}: ${report.outcome.error}: ${report.outcome.cause}`);
      runs.push({ spec, report });
    }
    const tracking = new MlflowRest({ uri: session.tracking!.uri });
    for (const { spec, report } of runs) {
      const experimentId = await tracking.experimentId(spec.name);
      const [parent] = await tracking.findRuns(experimentId, `tags.\`sentinel.runId\` = '${report.runId}' and tags.\`sentinel.kind\` = 'pipeline-run'`);
      assert.ok(parent, `${spec.name}: one MLflow run for the pipeline run`);
      assert.equal(parent.status, 'FINISHED');
      assert.equal(parent.name, report.runId);
      const stages = await tracking.findRuns(experimentId, `tags.\`mlflow.parentRunId\` = '${parent.runId}'`);
      assert.deepEqual(stages.map((r) => r.name).sort(), ['evaluate', 'ingest', 'train', 'tune']);
      const tune = stages.find((r) => r.name === 'tune')!;
      const trials = await tracking.findRuns(experimentId, `tags.\`mlflow.parentRunId\` = '${tune.runId}'`);
      assert.equal(trials.length, 3, `${spec.name}: the tune trials are nested under the tune run`);
      const sha = (report.stages[0]!.details as { sha256: string }).sha256;
      assert.equal(parent.tags['sentinel.dataset.sha256'], sha);
      assert.equal(parent.tags['sentinel.image'], spec.image);
      await assertAgree(tracking, session.artifactRoot, spec.name);
    }

    assert.ok(chromium, `headless Chromium is needed to look at the MLflow UI (scripts/bootstrap.sh installs Debian's chromium); looked for ${CHROMIUM_CANDIDATES.join(', ')}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    const browser = await Browser.launch(chromium);
    const ui = session.tracking!.uri;
    const shoot = async (name: string) => writeFileSync(join(ARTIFACTS, `mlflow-${name}.png`), await browser.screenshot());
    const settle = () => new Promise((r) => setTimeout(r, 2500));
    try {
      for (const { spec, report } of runs) {
        const experimentId = await tracking.experimentId(spec.name);
        // The runs table (classic-ML view), every nested level expanded: pipeline run → stages → tune trials.
        await browser.goto(`${ui}/#/experiments/${experimentId}/runs?workflowType=machine_learning`);
        await browser.waitForText([report.runId], 120_000);
        await browser.evaluate(`(() => { const c = [...document.querySelectorAll('button[aria-label="Close"]')].pop(); if (c) c.click(); })()`);
        for (let i = 0; i < 4; i++) {
          await browser.evaluate(`[...document.querySelectorAll('button[data-component-id*="runnamecellrenderer"]')].filter((b) => b.querySelector('path[d^="M7.25 7.25V4.5"]')).forEach((b) => b.click())`);
          await settle();
        }
        const table = await browser.waitForText([report.runId, 'ingest', 'train', 'tune', 'evaluate', 'trial '], 60_000);
        assert.match(table, /trial \w+_0000[0-2]/, 'the tune trials show nested under tune');
        await shoot(`${spec.name}-runs`);

        // The pipeline run's page: its stage metrics (train.*, tune.*, evaluate.*) and lineage.
        const experiment = await tracking.findRuns(experimentId, `tags.\`sentinel.runId\` = '${report.runId}' and tags.\`sentinel.kind\` = 'pipeline-run'`);
        await browser.goto(`${ui}/#/experiments/${experimentId}/runs/${experiment[0]!.runId}?workflowType=machine_learning`);
        const metric = `validation_${spec.gate.metric}`;
        await browser.waitForText([report.runId, `train.${metric}`, `tune.${metric}`, `evaluate.candidate_${spec.gate.metric}`], 120_000);
        await settle();
        await shoot(`${spec.name}-run`);

        // The registered model: its versions, and the champion alias on the version champion.json records.
        const champion = JSON.parse(readFileSync(championUri(session.artifactRoot, spec.name), 'utf8')) as ChampionRecord;
        await browser.goto(`${ui}/#/models/${spec.name}?workflowType=machine_learning`);
        const page = await browser.waitForText([spec.name, `Version ${champion.current.registry!.version}`, CHAMPION_ALIAS], 120_000);
        assert.ok(page.includes(CHAMPION_ALIAS));
        await settle();
        await shoot(`${spec.name}-model`);
      }
    } finally {
      await browser.close();
    }
  });
});
