// `sentinel report`: the page of a run gathered through the RunHistoryPort (the local implementation, over a
// temporary home written from the reference run) and drawn by the pure renderer. Checked: the graph's states for a
// promoted, a kept and a failed run, the gate's text, the lineage SHA-256 and registry version, one polyline per
// trial, nothing external and no script, user data escaped, and the command's exit codes. The page in a browser is
// checked by test/e2e/status.test.ts (test/support/report-check.ts) on a real run.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { referenceRun, referenceSpec } from '../support/reference.js';
import { LocalRunHistory } from '../../local/run-history.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { championUri, resultUri, runRecordUri, stageUri } from '../../core/artifacts.js';
import { pipelineSpecUri } from '../../core/triggers.js';
import { runIdFor } from '../../core/run-id.js';
import type { ChampionRecord, RunRecord, StageSummary } from '../../core/model.js';
import type { Stage } from '../../core/stages.js';
import { esc, graphNodes, renderReport, type ReportData } from '../../cli/report-html.js';
import { reportCommand, reportData } from '../../cli/report.js';

const home = mkdtempSync(join(tmpdir(), 'sentinel-report-'));
after(() => rmSync(home, { recursive: true, force: true }));
const bucket = join(home, 'bucket');
const root = join(bucket, 'artifacts');
const ctx = { ...referenceRun(), artifactRoot: root };
const P = ctx.pipeline;
const SHA = 'ab'.repeat(32);
const T0 = Date.parse('2026-12-01T12:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const NOW = T0 + 3_600_000;

const put = (path: string, value: unknown) => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
};

function summary(runId: string, stage: Stage, metrics: Record<string, number>, jobSeconds: number, artifacts: Record<string, string> = {}, details?: Record<string, unknown>): StageSummary {
  const uri = resultUri(root, P, runId, stage);
  put(uri, { stage, metrics, artifacts, ...(details ? { details } : {}) });
  return { stage, jobId: `${P}-${runId}-${stage}-1`, attempt: 1, resultUri: uri, metrics, artifacts, ...(details ? { details } : {}), jobSeconds };
}

const TRIALS = [
  { trialId: 't_00000', best: true, stoppedEarly: false, history: [0.95, 0.97, 0.98, 0.985, 0.99], config: { eta: 0.1, max_depth: 4 }, error: null },
  { trialId: 't_00001', best: false, stoppedEarly: true, history: [0.9, 0.93], config: { eta: 0.3, max_depth: 2 }, error: null },
  { trialId: 't_00002', best: false, stoppedEarly: true, history: [0.91], config: { eta: 0.05, max_depth: 6 }, error: null },
];

/** A finished run of the reference pipeline, its files in the home; `candidate` decides the gate. */
function writeRun(requestId: string, startS: number, outcome: RunRecord['outcome'], through: Stage = 'evaluate'): RunRecord {
  const runId = runIdFor(P, { kind: 'manual', requestId });
  const dir = (stage: string) => stageUri(root, P, runId, stage);
  const manifest = join(dir('ingest'), 'manifest.json');
  put(manifest, { source: { uri: ctx.datasetUri, sha256: SHA, bytes: 121385 }, rows: { total: 569 } });
  const trials = join(dir('tune'), 'trials.json');
  put(trials, { metric: 'validation_roc_auc', mode: 'max', bestTrialId: 't_00000', maxIterations: 5, trials: TRIALS });
  const all: Partial<Record<Stage, StageSummary>> = {
    ingest: summary(runId, 'ingest', { rows: 569, features: 30 }, 6.2, { manifest }),
    train: summary(runId, 'train', { validation_roc_auc: 0.9988 }, 33.6, { model: join(dir('train'), 'model') }, { timing: { fitSeconds: 25.7, rayFixedSeconds: 20.4 } }),
    tune: summary(runId, 'tune', { validation_roc_auc: 0.99, trials: 3 }, 17.3, { model: join(dir('tune'), 'model'), trials }),
    evaluate: summary(runId, 'evaluate', { candidate_roc_auc: 0.9919 }, 5.4, {}, { candidate: { modelUri: join(dir('tune'), 'model'), metrics: { roc_auc: 0.9919, f1: 0.963 } } }),
  };
  const order: Stage[] = ['ingest', 'train', 'tune', 'evaluate'];
  const stages = Object.fromEntries(order.slice(0, order.indexOf(through) + 1).map((s) => [s, all[s]]));
  const record: RunRecord = { pipeline: P, runId, status: outcome && 'error' in outcome ? 'FAILED' : 'SUCCEEDED', trigger: { kind: 'manual', requestId }, datasetUri: ctx.datasetUri, startedAt: at(startS), endedAt: at(startS + 80), outcome, stages };
  put(runRecordUri(root, P, runId), record);
  return record;
}

put(pipelineSpecUri(bucket, P), stringify(referenceSpec()));
const promoted = writeRun('promoted', 0, { promoted: true, reason: 'no champion yet; candidate roc_auc 0.9919 clears the floor 0.9' });
const kept = writeRun('kept', 200, { promoted: false, reason: 'candidate roc_auc 0.9919 does not beat champion 0.9919 by the margin 0.002' });
const failed = writeRun('failed', 400, { error: 'ValidationFailed', cause: `train job ${P}-${runIdFor(P, { kind: 'manual', requestId: 'failed' })}-train-1 FAILED: max_depth must be ≥ 0`, stage: 'Train' }, 'ingest');
const champion: ChampionRecord = {
  pipeline: P,
  current: { runId: promoted.runId, modelUri: join(stageUri(root, P, promoted.runId, 'tune'), 'model'), metric: 'roc_auc', value: 0.9919, promotedAt: at(79), serveConfig: {}, registry: { model: P, version: '3' } },
};
put(championUri(root, P), champion);

const history = new LocalRunHistory({ home });
const store = new LocalObjectStore();
const states = (html: string) => Object.fromEntries([...html.matchAll(/<g class="stage [^"]*" data-stage="(\w+)" data-state="(\w+)"/g)].map((m) => [m[1], m[2]]));

describe('the report of a run (gathered through the local RunHistoryPort)', () => {
  test('a promoted run: every box succeeded, the gate, one polyline per trial, the lineage SHA-256 and registry version', async () => {
    const data = await reportData(history, store, promoted, NOW);
    const html = renderReport(data);
    assert.deepEqual(states(html), { ingest: 'SUCCEEDED', train: 'SUCCEEDED', tune: 'SUCCEEDED', evaluate: 'SUCCEEDED', gate: 'SUCCEEDED', promote: 'SUCCEEDED' });
    assert.match(html, /id="gate" data-decision="PROMOTE"/);
    assert.ok(html.includes(esc(promoted.outcome && 'reason' in promoted.outcome ? promoted.outcome.reason : '')));
    assert.equal(data.datasetSha256, SHA, "from ingest's manifest");
    assert.match(html, />118\.5 KB</);
    assert.match(html, new RegExp(`<code class="sha256"[^>]*>${SHA}</code>`));
    assert.deepEqual(data.registry, { model: P, version: '3' });
    assert.match(html, /class="registry">breast-cancer v3</);
    const curves = /<svg class="tuning-curves"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    assert.deepEqual([...curves.matchAll(/<polyline class="trial" data-trial="([^"]+)"/g)].map((m) => m[1]), TRIALS.map((t) => t.trialId));
    // Time inside Ray: each stage's job seconds, and the timing breakdown the job recorded.
    assert.match(html, /<tr data-stage="train"><th>train<\/th><td class="num ray-seconds">33\.6 s<\/td>/);
    assert.match(html, /fit 25\.7 s/);
    assert.equal(data.endpoint, undefined, 'no live session: the route, not a URL');
    assert.equal(data.route, '/predict');
    assert.equal(data.notes, undefined, JSON.stringify(data.notes));
  });

  test('a kept run skips promote; a failed run fails its stage and skips the rest, with no gate decision', async () => {
    const k = await reportData(history, store, kept, NOW);
    assert.deepEqual(graphNodes(k).map((n) => n.state), ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SKIPPED']);
    assert.match(renderReport(k), /data-decision="KEEP"/);
    assert.equal(k.registry, undefined, 'a kept run registered no model');
    assert.match(renderReport(k), /serves the champion, run r[0-9a-f]{9}/);

    const f = await reportData(history, store, failed, NOW);
    const html = renderReport(f);
    assert.deepEqual(states(html), { ingest: 'SUCCEEDED', train: 'FAILED', tune: 'SKIPPED', evaluate: 'SKIPPED', gate: 'SKIPPED', promote: 'SKIPPED' });
    assert.match(html, /<div class="gate gate-none" id="gate"><span class="decision">NO DECISION<\/span>/);
    assert.match(html, /ValidationFailed/);
    assert.match(html, /No tuning curves: the tune stage did not finish/);
    assert.equal(f.datasetSha256, SHA, 'ingest ran: its manifest gives the SHA-256');
  });

  test('self-contained: no script, nothing fetched, a CSP that forbids both', async () => {
    const html = renderReport(await reportData(history, store, promoted, NOW));
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<link|@import|url\(\s*['"]?https?:/i);
    assert.doesNotMatch(html, /\s(src|href)="(?!data:|#|https?:\/\/127\.0\.0\.1)/i, 'no src/href but data: URIs and links');
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">/);
  });

  test("user data is escaped: a pipeline, metric, trial or reason holding markup renders as text; a javascript: URL is no link", async () => {
    const base = await reportData(history, store, promoted, NOW);
    const evil = '<script>alert(1)</script>';
    const attr = '"><img src=x onerror=alert(2)>';
    const data: ReportData = {
      ...base,
      view: {
        ...base.view,
        pipeline: evil,
        runId: attr,
        datasetUri: `/data/${evil}.csv`,
        gate: { ...base.view.gate!, reason: `${evil} beats ${attr}`, metric: attr },
        stages: base.view.stages.map((s) => ({ ...s, metrics: { ...s.metrics, [evil]: 1, [attr]: 2 }, ...(s.stage === 'train' ? { error: evil, notes: [attr] } : {}) })),
        tracking: { url: 'javascript:alert(3)', experimentId: '1', parentRunId: evil },
      },
      datasetSha256: evil,
      registry: { model: evil, version: attr },
      route: attr,
      tuning: { ...base.tuning!, metric: evil, trials: base.tuning!.trials.map((t) => ({ ...t, trialId: `${attr}${t.trialId}`, config: { [evil]: attr } })) },
      notes: [evil],
    };
    const html = renderReport(data);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.doesNotMatch(html, /href="javascript:/i);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;'));
    // Still one polyline per trial, their ids escaped inside the attribute.
    assert.equal([...html.matchAll(/<polyline class="trial" data-trial="&quot;&gt;&lt;img/g)].length, TRIALS.length);
    assert.equal(esc(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  test('without trial histories the tune job\'s own SVG is embedded as an image (it can run nothing); a missing manifest is said', async () => {
    const runId = runIdFor(P, { kind: 'manual', requestId: 'nohistory' });
    const record = writeRun('nohistory', 600, { promoted: false, reason: 'kept' });
    const tuneDir = stageUri(root, P, runId, 'tune');
    const curves = join(tuneDir, 'curves.svg');
    put(curves, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><polyline points="0,0 1,1"/></svg>');
    const tune = record.stages!.tune!;
    tune.artifacts = { model: tune.artifacts.model!, curves, trials: join(tuneDir, 'missing.json') };
    rmSync(join(stageUri(root, P, runId, 'ingest'), 'manifest.json'));
    record.stages!.ingest!.details = {};
    put(runRecordUri(root, P, runId), record);
    const data = await reportData(history, store, record, NOW);
    assert.equal(data.tuning, undefined);
    assert.ok(data.curvesSvg);
    const html = renderReport(data);
    assert.match(html, /<img class="curves-image" alt="tuning curves" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+"\/>/);
    assert.doesNotMatch(html, /<script/i);
    assert.ok(data.notes?.some((n) => n.includes('trial histories')), JSON.stringify(data.notes));
    assert.ok(data.notes?.some((n) => n.includes('SHA-256')), JSON.stringify(data.notes));
    assert.match(html, /<code class="sha256"[^>]*>not recorded<\/code>/);
  });
});

describe('sentinel report (the command)', () => {
  // Only stderr is caught: the test runner reports on stdout, so the command is given its own stdout.
  const quiet = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const e = process.stderr.write;
    process.stderr.write = ((c: string) => (err.push(String(c)), true)) as typeof process.stderr.write;
    try {
      return { code: await reportCommand(args, NOW, (s) => void out.push(s)), out: out.join(''), err: err.join('') };
    } finally {
      process.stderr.write = e;
    }
  };

  test('writes the page for a run id prefix and says where and how big; exit 0', async () => {
    const out = join(home, 'out', 'nested', 'report.html');
    const r = await quiet([promoted.runId.slice(0, 6), '--home', home, '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(out));
    const html = readFileSync(out, 'utf8');
    assert.ok(html.includes(promoted.runId));
    assert.ok(r.out.includes(out));
    const kb = Number(/\(([\d.]+) KB, \d+ ms\)/.exec(r.out)?.[1]);
    assert.ok(Math.abs(kb - Buffer.byteLength(html) / 1024) < 0.1, r.out);
  });

  test('exit 1 for an unknown run (nearest ids listed) or a missing home; exit 2 for bad usage', async () => {
    const missing = await quiet(['r123456789', '--home', home]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no run "r123456789"/);
    assert.match(missing.err, /most recent: r[0-9a-f]{9}/);
    assert.equal((await quiet(['rabc', '--home', join(home, 'nowhere')])).code, 1);
    assert.equal((await quiet(['--home', home])).code, 2);
    assert.equal((await quiet([promoted.runId, kept.runId, '--home', home])).code, 2);
    assert.equal((await quiet([promoted.runId, '--bogus', '--home', home])).code, 2);
    assert.equal((await quiet([promoted.runId, '--out', ' ', '--home', home])).code, 2);
    const help = await quiet(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /^Usage: sentinel report RUN/);
  });

  test('exit 1 when the file cannot be written', async () => {
    const blocker = join(home, 'a-file');
    writeFileSync(blocker, 'x');
    const r = await quiet([promoted.runId, '--home', home, '--out', join(blocker, 'report.html')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /could not write the report/);
  });
});
