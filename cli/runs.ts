// `sentinel runs`: the runs of a home, newest first, with how each ended (promoted, kept, failed and why).
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { LocalRunHistory } from '../local/run-history.js';
import { listRuns, parseSince, parseStatusFilter, STATUS_FILTERS, type RunFilter, type RunRow } from '../core/run-history.js';
import { bold, dim, duration, green, red, yellow } from './format.js';
import { BACKEND_USAGE, backendOptions, openHistory } from './backend.js';

export const RUNS_USAGE = `Usage: sentinel runs [--pipeline P] [--status S] [--since DURATION|ISO] [--json] [--home DIR] [--backend local|aws] [--stack FILE]
  Lists the runs recorded in the home (default .sentinel/), or a deployed stack's (--backend aws: its Step Functions
  executions and their S3 records), newest first: run id, pipeline, status, started, duration, outcome (promoted /
  kept / failed, and why).
  --pipeline P   only pipeline P
  --status S     ${STATUS_FILTERS.join('|')} (queued: waiting for a run slot, spec maxConcurrentRuns; interrupted: recorded as running, but no live session runs it)
  --since D      started within D (90s, 30m, 2h, 1d, 1w, 1h30m) or at/after an ISO date or time (2026-12-01T18:00Z)
  --json         the rows as a JSON array on stdout
\${BACKEND_USAGE}  Exit codes: 0 listed (even none), 1 no Sentinel home at DIR (or AWS failed: credentials, access), 2 bad usage.
  Then: sentinel status RUN for one run's stages, gate, champion, metrics and (while live) serving replicas.
`;

export const homeOption = { type: 'string', default: '.sentinel' } as const;

/** A usage error: the message, the command's usage on stderr, exit 2. */
export function usageError(message: string, usage: string): number {
  process.stderr.write(`sentinel: ${message}\n\n${usage}`);
  return 2;
}

let sweepAs: string | undefined;
/** The `sentinel` command sets its name: each home it opens then gets the ABANDONED sweep (local/run-history.ts). */
export function sweepHomesAs(command: string) {
  sweepAs = command;
}

/** The home, or why it is not one (exit 1 with what to do). */
export function openHome(dir: string): LocalRunHistory | undefined {
  // Reading the home marks the runs of a command that died ABANDONED (and stops the Ray head it left).
  const history = new LocalRunHistory({ home: resolve(dir), ...(sweepAs ? { sweep: sweepAs } : {}) });
  if (!history.exists()) {
    process.stderr.write(`sentinel: no Sentinel home at ${resolve(dir)} (no runs recorded there). Run one with \`sentinel run\`, or point --home at the folder a run used.\n`);
    return undefined;
  }
  return history;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** Local time, to the second, and how long ago. */
export function whenText(isoText: string, now: number): string {
  const d = new Date(isoText);
  if (!Number.isFinite(d.getTime())) return isoText;
  const stamp = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const ago = (now - d.getTime()) / 1000;
  const agoText = ago < 0 ? '' : ago < 90 ? `${Math.round(ago)}s ago` : ago < 5400 ? `${Math.round(ago / 60)}m ago` : ago < 129_600 ? `${Math.round(ago / 3600)}h ago` : `${Math.round(ago / 86_400)}d ago`;
  return agoText ? `${stamp} (${agoText})` : stamp;
}

export const statusText = (s: RunRow['status']) => (s === 'SUCCEEDED' ? green(s) : s === 'FAILED' ? red(s) : yellow(s));

export function outcomeText(row: RunRow, width = 90): string {
  const o = row.outcome;
  const head = o.kind === 'failed' ? `failed${o.stage ? ` in ${o.stage}` : ''}${o.error ? ` (${o.error})` : ''}` : o.kind;
  const text = `${head}: ${o.reason}`;
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

export async function runsCommand(args: string[], now = Date.now()): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { pipeline: { type: 'string' }, status: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean', default: false }, home: homeOption, ...backendOptions, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    return usageError((e as Error).message, RUNS_USAGE);
  }
  if (values.help) {
    process.stdout.write(RUNS_USAGE);
    return 0;
  }
  const filter: RunFilter = {};
  if (values.pipeline) filter.pipeline = values.pipeline;
  if (values.status !== undefined) {
    const s = parseStatusFilter(values.status);
    if (!s) return usageError(`--status: "${values.status}" is not one of ${STATUS_FILTERS.join(', ')}`, RUNS_USAGE);
    filter.status = s;
  }
  if (values.since !== undefined) {
    const since = parseSince(values.since, now);
    if (since === undefined) return usageError(`--since: "${values.since}" is neither a duration (30m, 2h, 1d) nor an ISO date/time`, RUNS_USAGE);
    filter.since = since;
  }
  const history = await openHistory(values, openHome);
  if (!history) return 1;
  const records = await history.listRuns();
  const rows = listRuns(records, filter, await history.live(), now);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (!rows.length) {
    const pipelines = [...new Set(records.map((r) => r.pipeline))].sort();
    const why = records.length ? `none of the ${records.length} run(s) in ${history.where} match${pipelines.length ? ` (pipelines: ${pipelines.join(', ')})` : ''}` : `no runs in ${history.where} yet; start one with \`sentinel run\``;
    process.stdout.write(`${why}\n`);
    return 0;
  }
  const cols = {
    run: Math.max(3, ...rows.map((r) => r.runId.length)),
    pipeline: Math.max(8, ...rows.map((r) => r.pipeline.length)),
    status: Math.max(6, ...rows.map((r) => r.status.length)),
    started: Math.max(7, ...rows.map((r) => whenText(r.startedAt, now).length)),
  };
  process.stdout.write(
    `${bold(`${'RUN'.padEnd(cols.run)}  ${'PIPELINE'.padEnd(cols.pipeline)}  ${'STATUS'.padEnd(cols.status)}  ${'STARTED'.padEnd(cols.started)}  ${'DURATION'.padStart(8)}  OUTCOME`)}\n`,
  );
  for (const r of rows) {
    const status = statusText(r.status) + ' '.repeat(cols.status - r.status.length);
    const dur = r.durationSeconds !== undefined ? duration(r.durationSeconds) : '-';
    process.stdout.write(`${r.runId.padEnd(cols.run)}  ${r.pipeline.padEnd(cols.pipeline)}  ${status}  ${whenText(r.startedAt, now).padEnd(cols.started)}  ${dur.padStart(8)}  ${outcomeText(r)}\n`);
  }
  process.stdout.write(dim(`${rows.length} run(s) in ${history.where}; sentinel status RUN for one of them\n`));
  return 0;
}
