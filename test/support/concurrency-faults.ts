// The concurrent-runs row of the fault table (issue 14): N processes promote against one champion at once, each
// through the real core/promote.ts (test/support/promote-worker.ts) over one object store: the local folder store
// (cross-process lock + rename) or S3 (moto, conditional PutObject). Lost updates are counted from what the
// processes report: every promotion that succeeded must sit in one chain of champions (each over the one before it),
// the last link is champion.json's current and the best candidate by the gate's rule, and serving shows it.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { championUri } from '../../core/artifacts.js';
import type { ChampionRecord } from '../../core/model.js';
import type { ObjectStore } from '../../core/ports.js';
import type { Promotion } from '../../core/promote.js';
import { runIdFor } from '../../core/run-id.js';
import { repoRoot } from './reference.js';
import type { WorkerArgs } from './promote-worker.js';
import type { FaultRow } from './completion-faults.js';

interface Outcome {
  runId: string;
  value: number;
  result?: Promotion;
  error?: string;
}

const NODE = join(repoRoot, 'node_modules', '.bin', 'node');

function worker(args: WorkerArgs) {
  const child = spawn(NODE, ['--import', 'tsx', join(repoRoot, 'test', 'support', 'promote-worker.ts'), JSON.stringify(args)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' } });
  let out = '';
  let err = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<Outcome>((res, rej) =>
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) rej(new Error(`worker ${args.runId} exited ${code} without a result: ${err.slice(-2000)}`));
      else res(JSON.parse(line) as Outcome);
    }),
  );
  return { ready, done };
}

/** Values spaced wider than the reference gate's margin (0.002), shuffled: the best by the gate's rule is the max. */
const candidates = (n: number) => {
  const values = Array.from({ length: n }, (_, i) => Number((0.95 + i * 0.005).toFixed(3)));
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
};

export interface RaceFigures {
  n: number;
  promoted: number;
  kept: number;
  errors: number;
  /** Promotions that succeeded but are not in the chain of champions (last writer won over them). */
  lostUpdates: number;
  /** Two promotions that both replaced the same champion. */
  forks: number;
  finalIsBest: boolean;
  servingMatches: boolean;
  ms: number;
  casRetries: number;
}

export async function racePromotions(o: { n: number; root: string; store: ObjectStore; s3Endpoint?: string; label: string }): Promise<{ row: FaultRow; figures: RaceFigures; outcomes: Outcome[]; record?: ChampionRecord }> {
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-race-'));
  const go = join(dir, 'go');
  const serving = join(dir, 'serving.json');
  const values = candidates(o.n);
  const workers = values.map((value, i) =>
    worker({ root: o.root, runId: runIdFor('breast-cancer', { kind: 'manual', requestId: `race-${i}-${Date.now()}` }), value, go, serving, ...(o.s3Endpoint ? { s3Endpoint: o.s3Endpoint } : {}) }),
  );
  await Promise.all(workers.map((w) => w.ready));
  const t0 = Date.now();
  await writeFile(go, '');
  const outcomes = await Promise.all(workers.map((w) => w.done));
  const ms = Date.now() - t0;

  const record = await o.store.getJson<ChampionRecord>(championUri(o.root, 'breast-cancer'));
  const promoted = outcomes.filter((x) => x.result && !x.result.kept);
  const byPrevious = new Map<string, string[]>();
  for (const p of promoted) {
    const k = p.result!.previousRunId ?? '(none)';
    byPrevious.set(k, [...(byPrevious.get(k) ?? []), p.runId]);
  }
  const forks = [...byPrevious.values()].reduce((n, ids) => n + ids.length - 1, 0);
  // Walk the chain from the first champion: each link is the promotion that replaced the one before.
  let chain = 0;
  let at = '(none)';
  let last: string | undefined;
  const seen = new Set<string>();
  while (byPrevious.get(at)?.length === 1 && !seen.has(at)) {
    seen.add(at);
    last = byPrevious.get(at)![0]!;
    at = last;
    chain++;
  }
  const best = outcomes.reduce((b, x) => (x.value > b.value ? x : b));
  const served = JSON.parse(await readFile(serving, 'utf8')) as { applications: Array<{ args: { run_id: string } }> };
  const figures: RaceFigures = {
    n: o.n,
    promoted: promoted.length,
    kept: outcomes.filter((x) => x.result?.kept).length,
    errors: outcomes.filter((x) => x.error).length,
    lostUpdates: promoted.length - chain,
    forks,
    finalIsBest: record?.current.runId === best.runId && last === best.runId,
    servingMatches: served.applications[0]?.args.run_id === record?.current.runId,
    ms,
    casRetries: outcomes.reduce((n, x) => n + Math.max(0, (x.result?.attempts ?? 1) - 1), 0),
  };
  const row: FaultRow = {
    fault: `concurrent promotions (${o.label})`,
    injected: `${o.n} processes promote at once against one champion`,
    happened: `${figures.promoted} promoted in one chain, ${figures.kept} kept by the re-check, ${figures.casRetries} CAS retries; final = best (${figures.finalIsBest}), serving = record (${figures.servingMatches}); ${ms} ms`,
    lost: figures.lostUpdates + figures.errors + (figures.finalIsBest ? 0 : 1),
    orphaned: figures.servingMatches ? 0 : 1,
    figures: { ...figures, finalIsBest: Number(figures.finalIsBest), servingMatches: Number(figures.servingMatches) },
  };
  return { row, figures, outcomes, ...(record ? { record } : {}) };
}
