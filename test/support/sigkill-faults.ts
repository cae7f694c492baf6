// The "SIGKILL of each in-process handler mid-call" row of the fault table (issue 14 item 8). For submit-stage,
// finish-run and promote: one clean call in a fresh home gives the reference state (every object, token, job and
// serve config, times and the home path normalised). Then, for each write k of that clean call, a fresh home, the
// handler in a child process SIGKILLed right after its k-th write landed (test/support/sigkill-worker.ts), and the
// same call again, as Step Functions' retry or SQS redelivery would make it. What must hold: the rerun's state is
// the reference state (nothing half-recorded), with no extra job, token or object (nothing orphaned).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gateNoteUri } from '../../core/evaluate-gate.js';
import { referenceRun } from './reference.js';
import type { FaultRow } from './completion-faults.js';
import type { KillArgs, KilledHandler } from './sigkill-worker.js';
import { repoRoot } from './reference.js';

const NODE = join(repoRoot, 'node_modules', '.bin', 'node');
const WORKER = join(repoRoot, 'test', 'support', 'sigkill-worker.ts');

interface WorkerOut {
  signal: NodeJS.Signals | null;
  out?: { result?: unknown; error?: string; message?: string; writes: number };
}

function runWorker(args: KillArgs): Promise<WorkerOut> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['--import', 'tsx', WORKER, JSON.stringify(args)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' } });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.resume();
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      const line = text.split('\n').reverse().find((l) => l.startsWith('{"result"') || l.startsWith('{"error"'));
      resolve({ signal, ...(line ? { out: JSON.parse(line) as WorkerOut['out'] } : {}) });
    });
  });
}

/** A fresh home and the event of one call of `handler` in it. */
function setup(handler: KilledHandler) {
  const home = mkdtempSync(join(tmpdir(), 'sentinel-sigkill-'));
  const bucket = join(home, 'bucket');
  mkdirSync(bucket, { recursive: true });
  writeFileSync(join(bucket, 'd.csv'), 'a,target\n1,0\n');
  const run = { ...referenceRun(), artifactRoot: join(bucket, 'artifacts'), datasetUri: join(bucket, 'd.csv') };
  let event: unknown;
  if (handler === 'submit-stage') event = { taskToken: 'task-token-of-ingest', stage: 'ingest', run, stages: {} };
  else if (handler === 'finish-run') event = { run, stages: {}, end: { status: 'SUCCEEDED', promoted: true, reason: 'beat the champion' } };
  else {
    const note = gateNoteUri(run.artifactRoot, run.pipeline, run.runId);
    mkdirSync(join(note, '..'), { recursive: true });
    writeFileSync(note, JSON.stringify({ championRunId: null }));
    event = { run, modelUri: join(run.artifactRoot, run.pipeline, run.runId, 'train', 'model'), value: 0.97 };
  }
  return { home, event };
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
function normalise(v: unknown, home: string): unknown {
  if (typeof v === 'string') return ISO.test(v) ? '<time>' : v.split(home).join('<home>');
  if (Array.isArray(v)) return v.map((x) => normalise(x, home));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x, home)]));
  return v;
}

/** Every file under the home, path → normalised content. */
function snapshot(home: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const text = readFileSync(p, 'utf8');
        let v: unknown = text;
        try {
          v = JSON.parse(text);
        } catch {
          /* not JSON: compared as text */
        }
        out[relative(home, p)] = normalise(v, home);
      }
    }
  };
  walk(home);
  return out;
}

export interface KillCase {
  handler: KilledHandler;
  writes: number;
  kills: number;
  killed: number;
  sameAsClean: number;
  /** Reruns that found the job the killed call had created (submit's `created: false`). */
  foundExisting: number;
  /** Files the rerun left that a clean call does not (orphans) and files a clean call has that the rerun lacks. */
  extra: string[];
  missing: string[];
  changed: string[];
  errors: string[];
}

const withoutCreated = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? { ...(v as object), created: undefined } : v);

export async function killHandler(handler: KilledHandler): Promise<KillCase> {
  const clean = setup(handler);
  const ref = await runWorker({ handler, home: clean.home, event: clean.event });
  if (!ref.out || ref.out.error) throw new Error(`${handler}: the clean call failed: ${JSON.stringify(ref.out)}`);
  const want = snapshot(clean.home);
  const wantResult = normalise(ref.out.result, clean.home);
  rmSync(clean.home, { recursive: true, force: true });
  const c: KillCase = { handler, writes: ref.out.writes, kills: 0, killed: 0, sameAsClean: 0, foundExisting: 0, extra: [], missing: [], changed: [], errors: [] };
  for (let k = 1; k <= ref.out.writes; k++) {
    const s = setup(handler);
    c.kills++;
    const dead = await runWorker({ handler, home: s.home, event: s.event, killAfter: k });
    if (dead.signal === 'SIGKILL') c.killed++;
    const again = await runWorker({ handler, home: s.home, event: s.event });
    if (!again.out || again.out.error) c.errors.push(`kill after write ${k}: rerun ${JSON.stringify(again.out)}`);
    const got = snapshot(s.home);
    const extra = Object.keys(got).filter((p) => !(p in want));
    const missing = Object.keys(want).filter((p) => !(p in got));
    const changed = Object.keys(want).filter((p) => p in got && JSON.stringify(got[p]) !== JSON.stringify(want[p]));
    // A rerun of submit-stage after the job was created reports `created: false`: it found the killed call's job.
    const r = normalise(again.out?.result, s.home) as Record<string, unknown> | undefined;
    if (r && typeof r === 'object' && r.created === false && (wantResult as Record<string, unknown>)?.created === true) c.foundExisting++;
    const sameResult = JSON.stringify(withoutCreated(r)) === JSON.stringify(withoutCreated(wantResult));
    c.extra.push(...extra.map((p) => `${k}:${p}`));
    c.missing.push(...missing.map((p) => `${k}:${p}`));
    c.changed.push(...changed.map((p) => `${k}:${p}`));
    if (!sameResult) c.changed.push(`${k}:<result>`);
    if (!extra.length && !missing.length && !changed.length && sameResult) c.sameAsClean++;
    rmSync(s.home, { recursive: true, force: true });
  }
  return c;
}

export const KILLED_HANDLERS: KilledHandler[] = ['submit-stage', 'finish-run', 'promote'];

export async function sigkillFault(): Promise<{ row: FaultRow; cases: KillCase[] }> {
  const cases: KillCase[] = [];
  for (const h of KILLED_HANDLERS) cases.push(await killHandler(h));
  const kills = cases.reduce((n, c) => n + c.kills, 0);
  const killed = cases.reduce((n, c) => n + c.killed, 0);
  const same = cases.reduce((n, c) => n + c.sameAsClean, 0);
  return {
    cases,
    row: {
      fault: 'SIGKILL of a handler mid-call',
      injected: `${kills} SIGKILLs, one after each write of a clean call (${cases.map((c) => `${c.handler} ${c.writes}`).join(', ')}), then the same call again`,
      happened: `${killed}/${kills} processes died by SIGKILL; ${same}/${kills} reruns ended in the clean call's state and result (${cases.reduce((n, c) => n + c.foundExisting, 0)} found the job the killed call had created)`,
      lost: cases.reduce((n, c) => n + c.missing.length + c.changed.length + c.errors.length, 0),
      orphaned: cases.reduce((n, c) => n + c.extra.length, 0),
      figures: { kills, killed, sameAsClean: same, ...Object.fromEntries(cases.map((c) => [`${c.handler}.writes`, c.writes])) },
    },
  };
}
