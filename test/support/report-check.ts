// The run report of a REAL finished run, looked at in headless Chromium (Debian's `chromium`): `sentinel report`
// writes the page from the run's records in the home, the browser opens it from a file:// URL, and DOM queries check
// what a person would see — six stage boxes in their states and colours, the gate's decision and reason, the
// dataset's SHA-256 from ingest's manifest, one tuning-curve polyline per trial in trials.json, a time inside Ray for
// every stage — and that the page fetched nothing and has no script. A full-page screenshot goes to
// test/artifacts/report-<pipeline>.png. Used by the e2e tests that already finish a run (no run of its own).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Browser, CHROMIUM_CANDIDATES } from './chromium.js';
import { repoRoot } from './reference.js';
import { reportCommand } from '../../cli/report.js';
import { GRAPH_NODES, STATE_COLOURS, type NodeState } from '../../cli/report-html.js';
import { runRecordUri, stageUri } from '../../core/artifacts.js';
import type { RunRecord } from '../../core/model.js';

export interface ReportCheck {
  file: string;
  bytes: number;
  /** Gathering, rendering and writing, as the command printed it. */
  writeMs: number;
  /** From navigation to the page's text showing. */
  renderMs: number;
  screenshot: string;
}

const hex = (rgb: string) => {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(rgb);
  return m ? `#${m.slice(1, 4).map((x) => Number(x).toString(16).padStart(2, '0')).join('')}` : rgb;
};

/** Writes the report of `runId` in `home` and checks it in Chromium. The run must have finished (SUCCEEDED). */
export async function checkReport(home: string, pipeline: string, runId: string, artifactRoot = join(home, 'bucket', 'artifacts')): Promise<ReportCheck> {
  const chromium = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  assert.ok(chromium, `headless Chromium is needed to look at the report (scripts/bootstrap.sh installs Debian's chromium); looked for ${CHROMIUM_CANDIDATES.join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-report-'));
  const file = join(dir, 'report.html');
  const printed: string[] = [];
  const code = await reportCommand([runId, '--home', home, '--out', file], Date.now(), (s) => void printed.push(s));
  assert.equal(code, 0, printed.join(''));
  const said = printed.join('');
  assert.ok(said.includes(file), said);
  const writeMs = Number(/, (\d+) ms\)/.exec(said)?.[1]);
  const bytes = statSync(file).size;

  // What the run recorded, to compare the page against.
  const record = JSON.parse(readFileSync(runRecordUri(artifactRoot, pipeline, runId), 'utf8')) as RunRecord;
  assert.equal(record.status, 'SUCCEEDED', 'checkReport expects a finished, successful run');
  const reason = record.outcome && 'reason' in record.outcome ? record.outcome.reason : '';
  const promoted = !!(record.outcome && 'promoted' in record.outcome && record.outcome.promoted);
  const manifest = JSON.parse(readFileSync(join(stageUri(artifactRoot, pipeline, runId, 'ingest'), 'manifest.json'), 'utf8')) as { source: { sha256: string } };
  const trials = (JSON.parse(readFileSync(join(stageUri(artifactRoot, pipeline, runId, 'tune'), 'trials.json'), 'utf8')) as { trials: Array<{ trialId: string }> }).trials;

  const browser = await Browser.launch(chromium, { width: 1400, height: 1000 });
  try {
    const t0 = performance.now();
    await browser.goto(pathToFileURL(file).href);
    await browser.waitForText([runId, 'Tuning curves', 'Time inside Ray'], 60_000);
    const renderMs = performance.now() - t0;
    const page = await browser.evaluate<{
      boxes: Array<{ stage: string; state: string; stroke: string; fill: string; text: string }>;
      gate: { decision: string; text: string };
      sha: string;
      polylines: Array<{ trial: string; points: number }>;
      raySeconds: Record<string, string>;
      scripts: number;
      resources: number;
      height: number;
    }>(`(() => {
      const q = (s) => [...document.querySelectorAll(s)];
      return {
        boxes: q('svg.graph g.stage').map((g) => {
          const rect = g.querySelector('rect.box');
          const cs = getComputedStyle(rect);
          return { stage: g.dataset.stage, state: g.dataset.state, stroke: cs.stroke, fill: cs.fill, text: g.textContent };
        }),
        gate: { decision: document.querySelector('#gate .decision')?.textContent ?? '', text: document.querySelector('#gate .reason')?.textContent ?? '' },
        sha: document.querySelector('.lineage code.sha256')?.textContent ?? '',
        polylines: q('svg.tuning-curves polyline.trial').map((p) => ({ trial: p.dataset.trial, points: p.points.numberOfItems })),
        raySeconds: Object.fromEntries(q('.ray-table tr[data-stage]').map((r) => [r.dataset.stage, r.querySelector('.ray-seconds').textContent])),
        scripts: document.scripts.length,
        resources: performance.getEntriesByType('resource').length,
        height: document.documentElement.scrollHeight,
      };
    })()`);
    assert.deepEqual(page.boxes.map((b) => b.stage), [...GRAPH_NODES], 'six boxes, in pipeline order');
    const expected: NodeState[] = ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', promoted ? 'SUCCEEDED' : 'SKIPPED'];
    assert.deepEqual(page.boxes.map((b) => b.state), expected);
    for (const b of page.boxes) {
      const c = STATE_COLOURS[b.state as NodeState];
      assert.equal(hex(b.stroke), c.stroke, `${b.stage}: painted in ${b.state}'s colour`);
      assert.equal(hex(b.fill), c.fill, `${b.stage}: filled in ${b.state}'s colour`);
      assert.ok(b.text.includes(b.state), `${b.stage}: the box says ${b.state}`);
    }
    for (const stage of ['ingest', 'train', 'tune', 'evaluate']) {
      assert.match(page.boxes.find((b) => b.stage === stage)!.text, /(\d+\.\d s|\d+ min \d{2} s) in Ray/, `${stage}: its time in Ray on the box`);
      assert.match(page.raySeconds[stage] ?? '', /^\d+(\.\d)? s$|^\d+ min \d{2} s$/, `${stage}: a time inside Ray`);
    }
    assert.equal(page.gate.decision, promoted ? 'PROMOTE' : 'KEEP CHAMPION');
    assert.equal(page.gate.text, reason);
    assert.equal(page.sha, manifest.source.sha256);
    assert.match(page.sha, /^[0-9a-f]{64}$/);
    assert.deepEqual(page.polylines.map((p) => p.trial), trials.map((t) => t.trialId), 'one polyline per trial');
    assert.ok(page.polylines.every((p) => p.points >= 1));
    assert.equal(page.scripts, 0, 'no script');
    assert.equal(page.resources, 0, 'the page fetched nothing');

    // The whole page, not just the viewport.
    const shot = await browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width: 1400, height: Math.min(page.height, 8000), scale: 1 } });
    const artifacts = join(repoRoot, 'test', 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    const screenshot = join(artifacts, `report-${pipeline}.png`);
    writeFileSync(screenshot, Buffer.from(shot.data as string, 'base64'));
    writeFileSync(join(artifacts, `report-${pipeline}.html`), readFileSync(file));
    return { file: screenshot.replace(/\.png$/, '.html'), bytes, writeMs, renderMs, screenshot };
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
