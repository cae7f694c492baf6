// The RUN argument of the operating commands (status, report, logs, cancel, resume, on either backend): a run id or
// a unique prefix of one, resolved against the backend's records (core/run-history.ts findRun). When it names no run,
// one message for every command says what there is instead: the ids it is the start of, or the nearest and most
// recent ids, and where to list them.
import { findRun, type RunHistoryPort } from '../core/run-history.js';
import type { RunRecord } from '../core/model.js';

export interface ResolvedRun {
  record: RunRecord;
  /** Every record the backend listed (resume looks its earlier resumes up in them). */
  records: RunRecord[];
}

export interface ResolveOptions {
  /** --json: the error goes to stdout as JSON too (stderr still says it). */
  json?: boolean;
  /** Where the message goes (default stderr). */
  write?: (text: string) => void;
}

/** A deployed stack's history (adapters/aws/run-history.ts) lists executions; the local one does not. */
const isDeployed = (port: object) => 'listExecutions' in port;

/** The lines that say why `id` names no run in `records` (empty when it names one). */
export function runNotFoundLines(records: RunRecord[], id: string, port: Pick<RunHistoryPort, 'where'>): { lines: string[]; json: Record<string, unknown> } | undefined {
  const found = findRun(records, id);
  if ('found' in found) return undefined;
  const deployed = isDeployed(port);
  const runs = deployed ? '`sentinel runs --backend aws`' : '`sentinel runs`';
  const lines =
    'ambiguous' in found
      ? [`"${id}" is the start of ${found.ambiguous.length} runs: ${found.ambiguous.join(', ')}; give more of the id`]
      : [
          `no run "${id}" in ${port.where}`,
          ...(found.nearest.length ? [`nearest: ${found.nearest.join(', ')}`] : []),
          ...(found.recent.length ? [`most recent: ${found.recent.join(', ')}`] : records.length ? [] : [deployed ? 'no runs are recorded there yet; start one with `sentinel start PIPELINE --backend aws`' : 'no runs are recorded there yet; start one with `sentinel run`']),
          `see ${runs} for every run${deployed ? ' (--stack FILE if the run is on another stack)' : ' (--home DIR if the run used another home)'}`,
        ];
  return { lines, json: { error: lines[0], ...('ambiguous' in found ? { matches: found.ambiguous } : { nearest: found.nearest, recent: found.recent }) } };
}

/** RUN → its record, or undefined after saying why (the caller exits 1). Lists the backend's runs once. */
export async function resolveRunArg(port: Pick<RunHistoryPort, 'where' | 'listRuns'>, id: string, opts: ResolveOptions = {}): Promise<ResolvedRun | undefined> {
  const records = await port.listRuns();
  const found = findRun(records, id);
  if ('found' in found) return { record: found.found, records };
  const missing = runNotFoundLines(records, id, port)!;
  if (opts.json) process.stdout.write(`${JSON.stringify(missing.json, null, 2)}\n`);
  (opts.write ?? ((s: string) => void process.stderr.write(s)))(`sentinel: ${missing.lines.join('\n  ')}\n`);
  return undefined;
}
