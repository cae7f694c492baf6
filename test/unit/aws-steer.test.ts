// The pieces of resume/rollback/status that are the same on both backends: the RUN argument resolved once for every
// command (cli/run-arg.ts) with one not-found message, and the champion's staleness in `sentinel status` (core
// stalenessOf against the spec's staleAfter), shown by the status of a local home with a deployed spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveRunArg, runNotFoundLines } from '../../cli/run-arg.js';
import { stalenessText, statusCommand } from '../../cli/status.js';
import { runStatus, type RunHistoryPort } from '../../core/run-history.js';
import { championUri, runRecordUri } from '../../core/artifacts.js';
import { parseSpec, type PipelineSpec } from '../../core/spec.js';
import type { ChampionRecord, RunRecord } from '../../core/model.js';

const T0 = Date.parse('2026-12-01T12:00:00.000Z');
const run = (runId: string, minutes: number, pipeline = 'breast-cancer'): RunRecord => ({
  pipeline,
  runId,
  status: 'FAILED',
  trigger: { kind: 'manual', requestId: runId },
  datasetUri: '/d.csv',
  startedAt: new Date(T0 + minutes * 60_000).toISOString(),
  outcome: { error: 'RayJobFailed', cause: 'x' },
});
const RECORDS = [run('r0000aaaa1', 0), run('r0000aaaa2', 1), run('r0000bbbb1', 2)];
const specText = readFileSync(join(import.meta.dirname, '..', '..', 'pipelines', 'breast-cancer.yaml'), 'utf8');
const baseSpec = parseSpec(specText, 'breast-cancer.yaml');

function port(records: RunRecord[], opts: { spec?: PipelineSpec; champion?: ChampionRecord; deployed?: boolean } = {}): RunHistoryPort {
  const p: RunHistoryPort = {
    where: opts.deployed ? 'the deployed stack (arn, s3://b/artifacts)' : 'the local home /h',
    listRuns: async () => records,
    stageResults: async () => ({}),
    champion: async () => opts.champion,
    spec: async () => opts.spec,
    controlPlane: async () => undefined,
    artifactsUri: (pl, r) => `/h/${pl}/${r}`,
    live: async () => undefined,
  };
  return opts.deployed ? Object.assign(p, { listExecutions: async () => [] }) : p;
}

test('resolveRunArg: an id or a unique prefix; ambiguous and missing ids say what there is, per backend', async () => {
  const lines: string[] = [];
  const write = (s: string) => void lines.push(s);
  assert.equal((await resolveRunArg(port(RECORDS), 'r0000bbbb1', { write }))?.record.runId, 'r0000bbbb1');
  const byPrefix = await resolveRunArg(port(RECORDS), 'r0000b', { write });
  assert.equal(byPrefix?.record.runId, 'r0000bbbb1');
  assert.equal(byPrefix?.records.length, 3, 'the listing comes back too (resume looks its earlier resumes up in it)');
  assert.equal(lines.length, 0);

  assert.equal(await resolveRunArg(port(RECORDS), 'r0000a', { write }), undefined);
  assert.match(lines.pop()!, /"r0000a" is the start of 2 runs: r0000aaaa1, r0000aaaa2/);

  const missing = runNotFoundLines(RECORDS, 'r0000aaaa9', port(RECORDS))!;
  assert.match(missing.lines[0]!, /no run "r0000aaaa9" in the local home/);
  assert.ok(missing.lines.some((l) => /^nearest: .*r0000aaaa1/.test(l)), missing.lines.join('\n'));
  assert.match(missing.lines.at(-1)!, /`sentinel runs` .*--home DIR/);
  assert.deepEqual(Object.keys(missing.json).sort(), ['error', 'nearest', 'recent']);

  const deployed = runNotFoundLines(RECORDS, 'r999999999', port(RECORDS, { deployed: true }))!;
  assert.match(deployed.lines.at(-1)!, /`sentinel runs --backend aws`.*--stack FILE/);
  const empty = runNotFoundLines([], 'r999999999', port([], { deployed: true }))!;
  assert.ok(empty.lines.some((l) => /sentinel start PIPELINE --backend aws/.test(l)), empty.lines.join('\n'));
  assert.equal(runNotFoundLines(RECORDS, 'r0000aaaa1', port(RECORDS)), undefined);
});

const champion = (promotedMinutesAgo: number, now: number): ChampionRecord => ({
  pipeline: 'breast-cancer',
  current: { runId: 'r0000aaaa1', modelUri: '/m', metric: 'roc_auc', value: 0.99, promotedAt: new Date(now - promotedMinutesAgo * 60_000).toISOString(), serveConfig: {} } as ChampionRecord['current'],
});

test("status: the champion's staleness against the spec's staleAfter, only when the spec sets one", async () => {
  const now = T0 + 10 * 86_400_000;
  const r = RECORDS[0]!;
  const stale = await runStatus(port(RECORDS, { spec: { ...baseSpec, staleAfter: '1d' }, champion: champion(2 * 1440, now) }), r, now);
  assert.equal(stale.champion?.staleness?.stale, true);
  assert.equal(stale.champion?.staleness?.staleAfter, '1d');
  assert.equal(Math.round(stale.champion!.staleness!.ageSeconds), 2 * 86_400);
  assert.equal(stale.champion?.staleness?.staleAt, new Date(now - 86_400_000).toISOString());
  assert.match(stalenessText(stale.champion!.staleness!, now), /STALE.*2d old.*staleAfter 1d/);

  const fresh = await runStatus(port(RECORDS, { spec: { ...baseSpec, staleAfter: '12h' }, champion: champion(60, now) }), r, now);
  assert.equal(fresh.champion?.staleness?.stale, false);
  assert.equal(fresh.champion?.staleness?.staleAt, new Date(now + 11 * 3_600_000).toISOString());
  assert.match(stalenessText(fresh.champion!.staleness!, now), /fresh.*60m old.*stale after 12h/);

  const none = await runStatus(port(RECORDS, { spec: { ...baseSpec }, champion: champion(60, now) }), r, now);
  assert.equal(none.champion?.staleness, undefined);
  assert.ok(none.champion, 'the champion is still shown');
});

test('sentinel status on a local home shows the freshness line and the staleness in --json', async () => {
  const home = mkdtempSync(join(tmpdir(), 'sentinel-stale-'));
  try {
    const root = join(home, 'bucket', 'artifacts');
    const rec: RunRecord = { ...run('r0000cccc1', 0), status: 'SUCCEEDED', endedAt: new Date(T0 + 120_000).toISOString(), outcome: { promoted: true, reason: 'no champion yet' } };
    mkdirSync(join(runRecordUri(root, rec.pipeline, rec.runId), '..'), { recursive: true });
    writeFileSync(runRecordUri(root, rec.pipeline, rec.runId), JSON.stringify(rec));
    const now = T0 + 3 * 86_400_000;
    writeFileSync(championUri(root, rec.pipeline), JSON.stringify({ ...champion(2 * 1440, now), current: { ...champion(2 * 1440, now).current, runId: rec.runId } }));
    mkdirSync(join(home, 'bucket', 'pipelines'), { recursive: true });
    writeFileSync(join(home, 'bucket', 'pipelines', 'breast-cancer.yaml'), `${specText.trimEnd()}\nstaleAfter: 1d\n`);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    let code: number, codeJson: number;
    try {
      code = await statusCommand([rec.runId, '--home', home], now);
      codeJson = await statusCommand([rec.runId, '--home', home, '--json'], now);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(code, 0);
    assert.equal(codeJson, 0);
    const text = out.join('');
    assert.match(text, /freshness.*STALE.*2d old/);
    const view = JSON.parse(text.slice(text.indexOf('{'))) as { champion: { staleness: { stale: boolean; staleAfter: string } } };
    assert.deepEqual([view.champion.staleness.stale, view.champion.staleness.staleAfter], [true, '1d']);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
