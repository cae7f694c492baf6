// Benchmark: the reference pipeline on a local Ray head, then again with twice the training rounds.
// Prints wall time, time inside Ray jobs, the overhead ratio, state transitions (from the interpreter's event log)
// and handler invocations. Targets: overhead ≤ 5 % of wall time; ≤ 40 transitions per run; a run ≤ 5 minutes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { LocalSession, type RunReport } from '../local/session.js';

const repoRoot = join(import.meta.dirname, '..');
const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');

/** From entering `name` to the last exit of `until` (default `name`): e.g. the promotion loop, Promote to its last check. */
function stateSeconds(r: RunReport & { events: Array<{ type: string; timestamp: number; state?: { name: string } }> }, name: string, until: string[] = [name]) {
  const entered = r.events.find((e) => e.type === 'StateEntered' && e.state?.name === name);
  const exited = r.events.findLast((e) => e.type === 'StateExited' && until.includes(e.state?.name ?? ''));
  return entered && exited ? (exited.timestamp - entered.timestamp) / 1000 : 0;
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'sentinel-bench-'));
  const t0 = Date.now();
  const session = await LocalSession.open({ home, pythonEnv, servePort: Number(process.env.SENTINEL_BENCH_PORT ?? 18080) });
  const headSeconds = (Date.now() - t0) / 1000;
  const rows: string[][] = [];
  const results: Array<{ label: string; transitions: number; overhead: number; wall: number }> = [];
  try {
    const base = parse(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8'));
    const variants = [
      { label: 'reference', spec: base },
      {
        label: '2x training rounds',
        spec: { ...base, stages: { ...base.stages, train: { ...base.stages.train, iterations: base.stages.train.iterations * 2 }, tune: { ...base.stages.tune, maxIterations: base.stages.tune.maxIterations * 2 } } },
      },
    ];
    for (const [i, v] of variants.entries()) {
      const specPath = join(home, `spec-${i}.yaml`);
      writeFileSync(specPath, stringify(v.spec));
      const spec = session.loadSpec(specPath);
      const dataset = await session.prepareDataset(spec);
      await session.restoreChampion(spec);
      const before = { ...session.runtime.invocations };
      const callbacksBefore = { ...session.runtime.broker.counts };
      const started = await session.start(spec, dataset, `bench-${Date.now()}-${i}`);
      const r = await session.report(started, spec);
      if (r.outcome.status !== 'SUCCEEDED') throw new Error(`${v.label} run failed: ${r.outcome.error}: ${r.outcome.cause}`);
      const withEvents = Object.assign(r, { events: started.execution.events });
      const promoteSeconds = stateSeconds(withEvents, 'Promote', ['Promote', 'CheckPromotion']);
      const invocations = Object.fromEntries(Object.entries(session.runtime.invocations).map(([k, n]) => [k, n - (before[k] ?? 0)]));
      const watcher = invocations['watch-jobs'] ?? 0;
      const perRun = Object.entries(invocations).filter(([k]) => k !== 'watch-jobs').reduce((t, [, n]) => t + n, 0);
      const cb = session.runtime.broker.counts;
      const overhead = (r.wallSeconds - r.rayJobSeconds) / r.wallSeconds;
      const orchestration = (r.wallSeconds - r.rayJobSeconds - promoteSeconds) / r.wallSeconds;
      results.push({ label: v.label, transitions: r.transitions, overhead, wall: r.wallSeconds });
      rows.push([
        v.label,
        `${spec.stages.train.iterations}/${spec.stages.tune.maxIterations}`,
        r.wallSeconds.toFixed(1),
        r.rayJobSeconds.toFixed(1),
        promoteSeconds.toFixed(1),
        `${(100 * overhead).toFixed(1)}%`,
        `${(100 * orchestration).toFixed(1)}%`,
        String(r.transitions),
        `${perRun} (+${watcher} watcher)`,
        `${cb.success - callbacksBefore.success}/${cb.failure - callbacksBefore.failure}/${cb.heartbeat - callbacksBefore.heartbeat}`,
        r.gate?.promote ? 'promote' : 'keep',
      ]);
    }
  } finally {
    await session.close();
  }
  const header = ['run', 'rounds train/tune', 'wall s', 'in Ray jobs s', 'Serve rollout s', 'overhead', 'overhead excl. rollout', 'transitions', 'handler invocations', 'callbacks ok/fail/heartbeat', 'gate'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(`Ray head start: ${headSeconds.toFixed(1)} s (once per command, not part of a run)`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log();
  console.log('overhead = (wall − time inside Ray jobs) / wall; "excl. rollout" also subtracts the Serve rollout (Ray work, not orchestration).');
  const [a, b] = results;
  console.log(`transitions: ${a!.transitions} → ${b!.transitions} with twice the training rounds (${a!.transitions === b!.transitions ? 'unchanged' : 'CHANGED'})`);
  console.log(`targets: overhead ≤ 5% — ${results.map((r) => `${r.label} ${(100 * r.overhead).toFixed(1)}%`).join(', ')}; transitions ≤ 40 — ${results.every((r) => r.transitions <= 40) ? 'met' : 'MISSED'}; reference run ≤ 300 s — ${a!.wall.toFixed(0)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
