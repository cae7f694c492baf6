// Serving benchmark: every reference pipeline trained (small budget) and promoted on one local Ray head, then its
// Ray Serve endpoint measured against a bare single-process server of the same model folder and body
// (python -m sentinel_sdk.bare_server: uvicorn + Starlette, the same Predictor), at 1, 4, 16 and 64 clients with
// `hey`, a bounded time per level. Levels alternate bare → Sentinel so both see the same machine. Serve's replicas
// are polled through its REST API the whole time, and after the last level until they are back at the floor.
//   npm run bench:serving [-- breast-cancer iris diabetes movielens] [--seconds 10] [--warmup 15] [--levels 1,4,16,64] [--json FILE]
//     [--home DIR]   keep the state there; a later run with the same --home serves the champions trained before
//                    (restored from their champion records, with the spec's current serve settings) instead of training
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, openSync, closeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { LocalSession } from '../local/session.js';
import { freePort } from '../local/ray-head.js';
import type { PipelineSpec } from '../core/spec.js';
import { systemClock, type ServeReplicas } from '../core/ports.js';
import { serveApplicationFor } from '../core/serve-config.js';
import { waitUntilServing } from '../core/promote.js';

const execFileAsync = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..');
const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');
const ALL = ['breast-cancer', 'iris', 'diabetes', 'movielens'];

/** Small training budgets (the served model is still the one the pipeline trained, tuned and promoted). */
const BUDGET: Record<string, (s: any) => void> = {
  'breast-cancer': (s) => {
    Object.assign(s.stages.train, { iterations: 30, checkpointEvery: 10 });
    Object.assign(s.stages.tune, { numSamples: 3, maxIterations: 30, gracePeriod: 5 });
  },
  iris: (s) => Object.assign(s.stages.tune, { numSamples: 3 }),
  diabetes: (s) => {
    s.stages.train.iterations = 40;
    Object.assign(s.stages.tune, { numSamples: 3, maxIterations: 30 });
  },
  movielens: (s) => {
    Object.assign(s.stages.train, { iterations: 2, checkpointEvery: 1 });
    Object.assign(s.stages.tune, { numSamples: 2, maxIterations: 2, gracePeriod: 1 });
    s.gate.floor = 3;
  },
};

interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  detail: string;
}

interface Level {
  clients: number;
  bare: Load;
  /** The first seconds at this level, while Serve scales to it (starting a replica costs CPU seconds here). */
  warmup: Load;
  sentinel: Load;
  /** Serve's running replicas seen during the Sentinel run (min–max). */
  replicas: [number, number];
  /** The machine's 1-minute load average after the level (it is shared: other work shows here). */
  load: number;
}

interface Sample {
  t: number;
  running: number;
  target: number;
}

function args() {
  const argv = process.argv.slice(2);
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    argv.splice(i, 2);
    return v;
  };
  const seconds = Number(opt('--seconds') ?? 10);
  const warmup = Number(opt('--warmup') ?? 15);
  const levels = (opt('--levels') ?? '1,4,16,64').split(',').map(Number);
  const json = opt('--json');
  const home = opt('--home');
  const names = argv.length ? argv : ALL;
  for (const n of names) if (!ALL.includes(n)) throw new Error(`unknown pipeline ${n}; one of ${ALL.join(', ')}`);
  return { seconds, warmup, levels, json, names, home };
}

/** hey's text summary → figures. Errors: transport errors plus every non-2xx answer. */
export function parseHey(text: string): Load {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  let ok = 0;
  let bad = 0;
  for (const m of text.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) (m[1]!.startsWith('2') ? (ok += Number(m[2])) : (bad += Number(m[2])));
  let transport = 0;
  const errorBlock = /Error distribution:\n([\s\S]*)$/.exec(text)?.[1] ?? '';
  for (const m of errorBlock.matchAll(/^\s+\[(\d+)\]\s+(.*)$/gm)) transport += Number(m[1]);
  const firstError = /^\s+\[\d+\]\s+(.*)$/m.exec(errorBlock)?.[1] ?? '';
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: 1000 * num(/50% in ([\d.]+) secs/),
    p99: 1000 * num(/99% in ([\d.]+) secs/),
    requests: ok + bad + transport,
    errors: bad + transport,
    detail: firstError.slice(0, 120),
  };
}

/** One bounded hey run (asynchronous: the replica watch keeps polling meanwhile). */
async function hey(bin: string, url: string, bodyFile: string, clients: number, seconds: number): Promise<Load> {
  const { stdout } = await execFileAsync(bin, ['-z', `${seconds}s`, '-c', String(clients), '-t', '10', '-m', 'POST', '-T', 'application/json', '-D', bodyFile, url], {
    encoding: 'utf8',
    timeout: (seconds + 30) * 1000,
    maxBuffer: 16 << 20,
  });
  return parseHey(stdout);
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${url} → HTTP ${res.status}`);
  return res.json();
}

async function startBare(modelUri: string, spec: PipelineSpec, runId: string, logFile: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const out = openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '1' };
  if (spec.code) env.PYTHONPATH = [spec.code, process.env.PYTHONPATH].filter(Boolean).join(':');
  const proc = spawn(join(pythonEnv, 'bin', 'python'), [
    '-m', 'sentinel_sdk.bare_server', '--model-uri', modelUri, '--route', spec.serve.route, '--port', String(port),
    '--run-id', runId, '--pipeline', spec.name, '--max-rows', String(spec.serve.maxRowsPerRequest),
  ], { env, stdio: ['ignore', out, out] });
  closeSync(out);
  const url = `http://127.0.0.1:${port}${spec.serve.route}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`bare server exited (${proc.exitCode}); see ${logFile}`);
    try {
      await getJson(url);
      return { url, proc };
    } catch {
      if (Date.now() > deadline) throw new Error(`bare server did not answer at ${url}; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** Polls every pipeline's replica count once a second, from the first level to the end. */
class ReplicaWatch {
  readonly samples = new Map<string, Sample[]>();
  private timer?: NodeJS.Timeout;
  private busy = false;
  constructor(private readonly session: LocalSession, private readonly t0: number) {}
  start(names: string[]) {
    for (const n of names) this.samples.set(n, []);
    this.timer = setInterval(() => void this.poll(), 1000);
  }
  private async poll() {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const [name, list] of this.samples) {
        const r: ServeReplicas | undefined = await this.session.serving.replicas(name).catch(() => undefined);
        if (r) list.push({ t: (Date.now() - this.t0) / 1000, running: r.running, target: r.target });
      }
    } finally {
      this.busy = false;
    }
  }
  between(name: string, from: number, to: number): Sample[] {
    return (this.samples.get(name) ?? []).filter((s) => s.t >= from && s.t <= to);
  }
  latest(name: string): Sample | undefined {
    return this.samples.get(name)?.at(-1);
  }
  stop() {
    clearInterval(this.timer);
  }
}

/** "0s 1 → 14s 2 → 17s 4 → 71s 1": the running count each time it changed. */
function timeline(samples: Sample[], since: number): string {
  const parts: string[] = [];
  let last = -1;
  for (const s of samples) {
    if (s.running === last) continue;
    last = s.running;
    parts.push(`${Math.round(s.t - since)}s ${s.running}`);
  }
  return parts.join(' → ');
}

const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : n.toFixed(0)) : '—');
const table = (head: string[], rows: string[][]) => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
};

async function main() {
  const { seconds, warmup, levels, json, names, home: keep } = args();
  const heyBin = execFileSync('bash', [join(repoRoot, 'scripts', 'ensure-hey.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const home = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'sentinel-bench-serving-'));
  mkdirSync(home, { recursive: true });
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(`serving benchmark: ${names.join(', ')}; levels ${levels.join(', ')} clients, ${seconds} s each (Sentinel: after ${warmup} s at the level); load generator ${heyBin}; state in ${home}`);
  const session = await LocalSession.open({ home, pythonEnv, servePort: await freePort() });
  let t0 = Date.now();
  let watch = new ReplicaWatch(session, t0);
  const results: Array<{ pipeline: string; route: string; body: string; levels: Level[]; spec: PipelineSpec['serve']; loadStart: number; loadEnd: number }> = [];
  const bare: ChildProcess[] = [];
  try {
    // Train and promote every pipeline first: all four apps serve side by side, as on one serving cluster.
    const trained: Array<{ spec: PipelineSpec; runId: string; modelUri: string }> = [];
    for (const name of names) {
      const raw = parseYaml(readFileSync(join(repoRoot, 'pipelines', `${name}.yaml`), 'utf8'));
      BUDGET[name]!(raw);
      const file = join(home, `${name}.yaml`);
      writeFileSync(file, stringify(raw));
      const spec = session.loadSpec(file);
      const champion = keep ? await session.restoreChampion(spec) : undefined;
      if (champion) {
        // The champion trained by an earlier run of this benchmark, behind the spec's current serve settings.
        await session.serving.apply(spec.name, { applications: [serveApplicationFor(spec, champion)] });
        await waitUntilServing(spec.name, champion.runId, { serving: session.serving, clock: systemClock }, 180_000);
        log(`  ${name}: serving the champion of run ${champion.runId} (${champion.metric} ${champion.value.toFixed(4)}) from ${home}`);
        trained.push({ spec, runId: champion.runId, modelUri: champion.modelUri });
        continue;
      }
      const dataset = await session.prepareDataset(spec);
      const started = Date.now();
      const r = await session.report(await session.start(spec, dataset, `bench-serving-${name}-${Date.now()}`), spec);
      if (r.outcome.status !== 'SUCCEEDED' || !r.promotion) throw new Error(`${name}: ${r.outcome.status} ${r.outcome.error ?? ''} ${r.outcome.cause ?? r.gate?.reason ?? ''}`);
      log(`  ${name}: trained, tuned and promoted in ${((Date.now() - started) / 1000).toFixed(0)} s (${r.gate?.metric} ${r.gate?.candidate.toFixed(4)}), serving ${r.promotion.endpoint}`);
      trained.push({ spec, runId: r.runId, modelUri: r.promotion.modelUri });
    }
    t0 = Date.now();
    watch = new ReplicaWatch(session, t0);
    watch.start(names);
    for (const { spec, runId, modelUri } of trained) {
      const url = session.endpoint(spec);
      const info = await getJson(url);
      const body = JSON.stringify(info.example);
      const bodyFile = join(home, `${spec.name}.body.json`);
      writeFileSync(bodyFile, body);
      const b = await startBare(modelUri, spec, runId, join(home, `${spec.name}.bare.log`));
      bare.push(b.proc);
      // The same body, the same answer (the benchmark compares like with like).
      const post = (u: string) => fetch(u, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then((r) => r.text());
      const [fromServe, fromBare] = await Promise.all([post(url), post(b.url)]);
      if (fromServe !== fromBare) throw new Error(`${spec.name}: Serve and the bare server answer differently:\n${fromServe}\n${fromBare}`);
      log(`  ${spec.name}: POST ${spec.serve.route} ${body.length} bytes; both answer ${fromServe.length} identical bytes`);
      const rows: Level[] = [];
      const loadStart = (Date.now() - t0) / 1000;
      for (const clients of levels) {
        const bareLoad = await hey(heyBin, b.url, bodyFile, clients, seconds);
        const warm = await hey(heyBin, url, bodyFile, clients, warmup);
        const from = (Date.now() - t0) / 1000;
        const sentinel = await hey(heyBin, url, bodyFile, clients, seconds);
        const seen = watch.between(spec.name, from, (Date.now() - t0) / 1000).map((s) => s.running);
        rows.push({ clients, bare: bareLoad, warmup: warm, sentinel, replicas: [Math.min(...seen, Infinity), Math.max(...seen, 0)], load: loadavg()[0]! });
        log(`  ${spec.name} ×${clients}: bare ${bareLoad.rps.toFixed(0)} rps p99 ${ms(bareLoad.p99)} ms · Sentinel first ${warmup} s ${warm.rps.toFixed(0)} rps (${warm.errors} errors), then ${sentinel.rps.toFixed(0)} rps p50 ${ms(sentinel.p50)} p99 ${ms(sentinel.p99)} ms, ${sentinel.errors} errors, replicas ${seen.join(' ')}`);
      }
      b.proc.kill('SIGTERM');
      results.push({ pipeline: spec.name, route: spec.serve.route, body, levels: rows, spec: spec.serve, loadStart, loadEnd: (Date.now() - t0) / 1000 });
    }
    // Downscaling: wait (bounded) until every pipeline is back at its floor.
    const floor = Math.max(...results.map((r) => r.spec.downscaleDelaySeconds)) + 60;
    const deadline = Date.now() + floor * 1000;
    log(`  waiting up to ${floor} s for replicas to fall back to their minimum …`);
    while (Date.now() < deadline && results.some((r) => (watch.latest(r.pipeline)?.running ?? 0) > r.spec.replicas.min)) await new Promise((r) => setTimeout(r, 1000));
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    watch.stop();
    for (const p of bare) if (p.exitCode === null) p.kill('SIGTERM');
    await session.close();
  }

  const out: string[] = [];
  for (const r of results) {
    const rows = r.levels.map((l) => [
      String(l.clients),
      l.bare.rps.toFixed(0), ms(l.bare.p50), ms(l.bare.p99), String(l.bare.errors),
      `${l.warmup.rps.toFixed(0)}${l.warmup.errors ? ` (${l.warmup.errors} err)` : ''}`,
      l.sentinel.rps.toFixed(0), ms(l.sentinel.p50), ms(l.sentinel.p99), String(l.sentinel.errors),
      `${((100 * l.sentinel.rps) / l.bare.rps).toFixed(0)} %`,
      l.replicas[0] === l.replicas[1] ? String(l.replicas[0]) : `${l.replicas[0]}–${l.replicas[1]}`,
      l.load.toFixed(1),
    ]);
    const s = r.spec;
    out.push(`${r.pipeline}: POST ${r.route} (${r.body.length}-byte body); autoscaling ${s.replicas.min}–${s.replicas.max} replicas at ${s.targetOngoingRequests} ongoing, up ${s.upscaleDelaySeconds} s, down ${s.downscaleDelaySeconds} s, max ${s.maxOngoingRequests} ongoing per replica`);
    out.push(table(['clients', 'bare rps', 'p50 ms', 'p99 ms', 'err', `Sentinel first ${warmup} s rps`, 'then rps', 'p50 ms', 'p99 ms', 'err', 'vs bare', 'replicas', 'load'], rows));
    out.push(`replicas over time (s since the first level: running): ${timeline(watch.samples.get(r.pipeline) ?? [], 0)}  (load ${r.loadStart.toFixed(0)}–${r.loadEnd.toFixed(0)} s)\n`);
  }
  process.stdout.write(`\n${out.join('\n')}\n`);
  if (json) writeFileSync(json, JSON.stringify({ seconds, warmup, levels, results, replicas: Object.fromEntries(watch.samples) }, null, 2));
}

main().catch((e: Error) => {
  process.stderr.write(`bench failed: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
