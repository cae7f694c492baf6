// Benchmark: every reference pipeline on one local Ray head, each as it ships. Prints, per pipeline, wall time and
// time inside Ray jobs; and per model stage the user code's own compute (fit between reports, from the SDK's
// clocks) against the fixed cost around it (Ray Train / Tune worker start and teardown, checkpoint I/O, validation
// scoring, the job's own start), so the floor under any model is visible.
//   node_modules/.bin/node --import tsx bench/pipelines.ts [breast-cancer iris diabetes movielens]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSession } from '../local/session.js';

const repoRoot = join(import.meta.dirname, '..');
const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');
const ALL = ['breast-cancer', 'iris', 'diabetes', 'movielens'];

interface Timing {
  stageSeconds?: number;
  fitSeconds?: number;
  userSeconds?: number;
  evaluationSeconds?: number;
  checkpointSeconds?: number;
  rayFixedSeconds?: number;
  trialSlotSeconds?: number;
}

const f = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(1));

async function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
  const home = mkdtempSync(join(tmpdir(), 'sentinel-bench-byom-'));
  const t0 = Date.now();
  const session = await LocalSession.open({ home, pythonEnv, servePort: Number(process.env.SENTINEL_BENCH_PORT ?? 18081) });
  const headSeconds = (Date.now() - t0) / 1000;
  const summary: string[][] = [];
  const stages: string[][] = [];
  try {
    for (const name of names) {
      const spec = session.loadSpec(join(repoRoot, 'pipelines', `${name}.yaml`));
      const dataset = await session.prepareDataset(spec);
      const r = await session.report(await session.start(spec, dataset, `bench-${name}-${Date.now()}`), spec);
      if (r.outcome.status !== 'SUCCEEDED') throw new Error(`${name} failed: ${r.outcome.error}: ${r.outcome.cause}`);
      const gate = r.gate ? `${r.gate.metric}=${r.gate.candidate.toFixed(4)}` : '';
      summary.push([name, spec.task, spec.model.module.replace('sentinel_jobs.models.', ''), r.wallSeconds.toFixed(1), r.rayJobSeconds.toFixed(1), `${((100 * r.rayJobSeconds) / r.wallSeconds).toFixed(0)} %`, gate]);
      for (const s of r.stages) {
        const t = ((s.details as { timing?: Timing } | undefined)?.timing ?? {}) as Timing;
        const user = t.userSeconds;
        // The job's whole life minus the model's own compute: Ray's fixed cost plus Sentinel's (data, scoring, I/O).
        const fixed = user === undefined ? undefined : Math.max(0, s.jobSeconds - user);
        stages.push([name, s.stage, s.jobSeconds.toFixed(1), f(t.fitSeconds), f(user), f(t.evaluationSeconds), f(t.checkpointSeconds), f(t.rayFixedSeconds), f(fixed)]);
      }
    }
  } finally {
    await session.close();
  }
  const table = (head: string[], rows: string[][]) => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
  };
  process.stdout.write(`\nRay head start (once): ${headSeconds.toFixed(1)} s\n\n`);
  process.stdout.write(`${table(['pipeline', 'task', 'model', 'wall s', 'inside Ray jobs s', 'share', 'candidate'], summary)}\n\n`);
  process.stdout.write('Per stage (seconds). job = the Ray job from start to end; fit = the Ray Train/Tune run; user = the model\'s own\n');
  process.stdout.write('code between reports (tune: summed over trials); eval = validation scoring; ckpt = checkpoint writes + reports;\n');
  process.stdout.write('ray fixed = fit − user − eval − ckpt (train: worker group start/teardown); job − user = everything that is not the model.\n\n');
  process.stdout.write(`${table(['pipeline', 'stage', 'job', 'fit', 'user', 'eval', 'ckpt', 'ray fixed', 'job − user'], stages)}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench failed: ${e.message}\n`);
  process.exit(1);
});
