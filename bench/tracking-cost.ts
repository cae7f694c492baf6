// What experiment tracking costs a run: the same spec (the reference pipeline with a small budget, or --spec FILE)
// run untracked and tracked (MLflow server started beside the Ray head, as `sentinel run` does), alternating, each
// in a fresh home (a first run: no champion, so both promote),
// --pairs N times. Prints each run's wall time, time inside Ray jobs and per stage, the seconds the stages' own
// tracking calls took (result.json details.tracking.seconds), and the MLflow server's start time.
//   node_modules/.bin/node --import tsx bench/tracking-cost.ts [--pairs 1] [--spec FILE]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { LocalSession, type RunReport } from '../local/session.js';
import { freePort } from '../local/ray-head.js';
import { referenceSpec, repoRoot } from '../test/support/harness.js';

const { values } = parseArgs({ options: { pairs: { type: 'string', default: '1' }, spec: { type: 'string' } } });
const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');

function smallSpec() {
  const s = referenceSpec() as any;
  s.stages.train.iterations = 20;
  s.stages.train.checkpointEvery = 5;
  Object.assign(s.stages.tune, { numSamples: 3, maxConcurrent: 2, maxIterations: 12, gracePeriod: 3 });
  return s;
}

interface Row {
  tracked: boolean;
  wall: number;
  ray: number;
  stages: Record<string, number>;
  trackingCalls: number;
  open: number;
}

async function once(tracked: boolean, root: string, specPath: string, n: number): Promise<Row> {
  // A home of its own: every run is a first run (no champion, so each one promotes), tracked or not.
  const home = mkdtempSync(join(root, `${tracked ? 'tracked' : 'untracked'}-${n}-`));
  const t0 = Date.now();
  const session = await LocalSession.open({ home, pythonEnv, servePort: await freePort(), ...(tracked ? { tracking: 'local' as const } : {}) });
  const open = (Date.now() - t0) / 1000;
  try {
    const spec = session.loadSpec(specPath);
    const dataset = await session.prepareDataset(spec);
    await session.restoreChampion(spec);
    const report: RunReport = await session.report(await session.start(spec, dataset, `cost-${tracked ? 't' : 'u'}-${n}-${Date.now()}`), spec);
    if (report.outcome.status !== 'SUCCEEDED') throw new Error(`${report.outcome.error}: ${report.outcome.cause}`);
    const calls = report.stages.reduce((t, s) => t + Number((s.details as { tracking?: { seconds?: number } } | undefined)?.tracking?.seconds ?? 0), 0);
    return {
      tracked,
      wall: report.wallSeconds,
      ray: report.rayJobSeconds,
      stages: Object.fromEntries(report.stages.map((s) => [s.stage, s.jobSeconds])),
      trackingCalls: calls,
      open,
    };
  } finally {
    await session.close();
  }
}

const home = mkdtempSync(join(tmpdir(), 'sentinel-tracking-cost-'));
const specPath = values.spec ?? join(home, 'spec.yaml');
if (!values.spec) writeFileSync(specPath, stringify(smallSpec()));
const rows: Row[] = [];
try {
  for (let i = 0; i < Number(values.pairs); i++) {
    for (const tracked of i % 2 === 0 ? [false, true] : [true, false]) {
      const r = await once(tracked, home, specPath, i);
      rows.push(r);
      const stages = Object.entries(r.stages).map(([s, v]) => `${s} ${v.toFixed(1)}`).join(', ');
      process.stdout.write(`${tracked ? 'tracked  ' : 'untracked'} wall ${r.wall.toFixed(1)} s, Ray jobs ${r.ray.toFixed(1)} s (${stages}); stages' tracking calls ${r.trackingCalls.toFixed(1)} s; session open ${r.open.toFixed(1)} s\n`);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const t = rows.filter((r) => r.tracked);
  const u = rows.filter((r) => !r.tracked);
  const dw = mean(t.map((r) => r.wall)) - mean(u.map((r) => r.wall));
  const dr = mean(t.map((r) => r.ray)) - mean(u.map((r) => r.ray));
  process.stdout.write(`\ntracking cost per run: wall ${dw >= 0 ? '+' : ''}${dw.toFixed(1)} s (${((100 * dw) / mean(u.map((r) => r.wall))).toFixed(0)}%), inside Ray jobs ${dr >= 0 ? '+' : ''}${dr.toFixed(1)} s; stages' own tracking calls ${mean(t.map((r) => r.trackingCalls)).toFixed(1)} s; session open (Ray head ∥ MLflow server) ${mean(t.map((r) => r.open)).toFixed(1)} s tracked vs ${mean(u.map((r) => r.open)).toFixed(1)} s untracked\n`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
