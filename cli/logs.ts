// `sentinel logs RUN [STAGE] [--attempt N] [--follow]`: the driver output of a run's stage attempts, from the logs
// each job writes beside its result as it runs (<stage>/logs/attempt-N.log; core/run-logs.ts), so they are there
// after the Ray head and the cluster are gone. --follow streams them while the run runs and stops when the stage
// (or, with no STAGE, the run) has ended.
import { parseArgs } from 'node:util';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { runStatus, type RunHistoryPort } from '../core/run-history.js';
import type { RunRecord } from '../core/model.js';
import { STAGES, type Stage } from '../core/stages.js';
import { followDone, keepsLogs, parseStage, selectLogs, type StageLog, type StageLogsPort } from '../core/run-logs.js';
import { bold, dim } from './format.js';
import { homeOption, openHome, usageError } from './runs.js';
import { BACKEND_USAGE, backendOptions, guarded, openHistory } from './backend.js';
import { resolveRunArg } from './run-arg.js';

export const LOGS_USAGE = `Usage: sentinel logs RUN [STAGE] [--attempt N] [--follow] [--home DIR] [--backend local|aws] [--stack FILE]
  The driver output of a run's stage jobs (stdout and stderr of each attempt, Ray's forwarded worker lines included),
  kept beside the stage's result as <stage>/logs/attempt-N.log: it outlives the Ray head and the cluster.
  RUN is a run id (as \`sentinel runs\` lists them) or a unique prefix of one; STAGE one of ${STAGES.join(', ')}.
  Without STAGE: every stage's log in pipeline order, each under a header; the latest attempt of each.
  --attempt N   that attempt of STAGE (a retried stage keeps every attempt's log)
  --follow, -f  stream the log while the job writes it, until the stage ends (without STAGE: until the run ends);
                a retry's log follows the failed attempt's
${BACKEND_USAGE}  Exit codes: 0 shown, 1 no such run, stage log or attempt (what there is instead is listed), 2 bad usage.
`;

export interface LogsDeps {
  /** The backend (default: --backend/--home as the other commands choose it). Called again on every poll of --follow. */
  open?: (values: { home: string; backend?: string | undefined; stack?: string | undefined }) => Promise<RunHistoryPort | undefined>;
  write?: (text: string) => void;
  /** --follow's poll interval. */
  pollMs?: number;
  now?: () => number;
}

const errorLine = (lines: string[]) => process.stderr.write(`sentinel: ${lines.join('\n  ')}\n`);

/** Prints what is new in each log since the last call; a header whenever the output moves to another log. */
class LogPrinter {
  private readonly offsets = new Map<string, number>();
  private readonly decoders = new Map<string, StringDecoder>();
  private current: string | undefined;
  private endsWithNewline = true;

  printed = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly headers: boolean,
  ) {}

  header(log: StageLog, note = '') {
    if (!this.endsWithNewline) this.write('\n');
    this.write(`${bold(`==> ${log.stage} · attempt ${log.attempt}`)} ${dim(`${log.uri}${note}`)} ${bold('<==')}\n`);
    this.endsWithNewline = true;
  }

  /** Reads on from where it was; true when something was printed. */
  async drain(port: StageLogsPort, log: StageLog, note = '', always = false): Promise<boolean> {
    const offset = this.offsets.get(log.uri) ?? 0;
    const bytes = await port.readLog(log.uri, offset);
    if (!bytes) return false;
    this.offsets.set(log.uri, offset + bytes.length);
    let decoder = this.decoders.get(log.uri);
    if (!decoder) this.decoders.set(log.uri, (decoder = new StringDecoder('utf8')));
    const text = decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    if (!text && !(always && this.current !== log.uri)) return false;
    if (this.current !== log.uri) {
      if (this.headers) this.header(log, note);
      else if (!this.endsWithNewline) this.write('\n');
      this.current = log.uri;
      this.printed = true;
    }
    if (text) {
      this.write(text);
      this.endsWithNewline = text.endsWith('\n');
    }
    return true;
  }

  finish() {
    if (!this.endsWithNewline) this.write('\n');
  }
}

export async function logsCommand(args: string[], deps: LogsDeps = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { attempt: { type: 'string' }, follow: { type: 'boolean', short: 'f', default: false }, home: homeOption, ...backendOptions, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    return usageError((e as Error).message, LOGS_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(LOGS_USAGE);
    return 0;
  }
  if (!positionals.length) return usageError('logs needs a RUN id (`sentinel runs` lists them)', LOGS_USAGE);
  if (positionals.length > 2) return usageError(`logs takes RUN and at most one STAGE, got ${positionals.length} arguments`, LOGS_USAGE);
  let stage: Stage | undefined;
  if (positionals[1] !== undefined) {
    stage = parseStage(positionals[1]);
    if (!stage) return usageError(`STAGE: "${positionals[1]}" is not a stage; the stages are ${STAGES.join(', ')}`, LOGS_USAGE);
  }
  let attempt: number | undefined;
  if (values.attempt !== undefined) {
    attempt = Number(values.attempt);
    if (!/^\d+$/.test(values.attempt) || !Number.isInteger(attempt) || attempt < 1 || attempt > 99) return usageError(`--attempt: "${values.attempt}" is not an attempt number (1-99)`, LOGS_USAGE);
    if (!stage) return usageError('--attempt N picks one attempt of one stage: give the STAGE too (sentinel logs RUN train --attempt 2)', LOGS_USAGE);
  }
  const open = deps.open ?? ((v) => openHistory(v, openHome));
  const write = deps.write ?? ((s: string) => void process.stdout.write(s));
  return guarded(async () => {
    const history = await open(values);
    if (!history) return 1;
    if (!keepsLogs(history)) {
      errorLine([`${history.where} keeps no driver logs this command can read (this backend does not implement them yet)`]);
      return 1;
    }
    const id = positionals[0]!;
    const resolved = await resolveRunArg(history, id);
    if (!resolved) return 1;
    const record = resolved.record;
    const { pipeline, runId } = record;

    if (!values.follow) {
      const sel = selectLogs(await history.stageLogs(pipeline, runId), runId, stage, attempt);
      if ('problem' in sel) return noLog(sel, record, history.where);
      const printer = new LogPrinter(write, !stage);
      for (const log of sel.logs) {
        const older = sel.older.filter((o) => o.stage === log.stage).map((o) => o.attempt);
        await printer.drain(history, log, older.length ? ` (earlier: attempt ${older.join(', ')}; --attempt N)` : '', true);
      }
      printer.finish();
      if (stage && sel.older.length) process.stderr.write(dim(`sentinel: attempt ${sel.logs[0]!.attempt} shown; stage ${stage} also kept attempt ${sel.older.map((o) => o.attempt).join(', ')} (--attempt N)\n`));
      return 0;
    }
    return follow(history, open, values, record, stage, attempt, write, deps);
  });
}

function noLog(sel: Extract<ReturnType<typeof selectLogs>, { problem: string }>, record: RunRecord, where: string): number {
  const lines = [sel.message];
  if (sel.problem === 'no-attempt') lines.push(`attempts with a log: ${sel.available.join(', ')}`);
  else if (sel.problem === 'no-stage-logs')
    lines.push(sel.available.length ? `stages with logs: ${sel.available.join(', ')}` : 'no stage of it has a log yet', 'a stage that has not started yet has none; `sentinel logs RUN STAGE --follow` waits for it');
  else lines.push(record.status === 'RUNNING' ? 'no stage has started writing yet; --follow waits for them' : `nothing under ${where} for it (runs from before driver logs were kept have none)`);
  errorLine(lines);
  return 1;
}

async function follow(
  first: RunHistoryPort & StageLogsPort,
  open: NonNullable<LogsDeps['open']>,
  values: { home: string; backend?: string | undefined; stack?: string | undefined },
  record: RunRecord,
  stage: Stage | undefined,
  attempt: number | undefined,
  write: (text: string) => void,
  deps: LogsDeps,
): Promise<number> {
  const { pipeline, runId } = record;
  const printer = new LogPrinter(write, !stage || attempt === undefined);
  const now = deps.now ?? Date.now;
  let history: RunHistoryPort & StageLogsPort = first;
  let waiting = true;
  for (;;) {
    // Whether it is over is decided before the last read, so nothing written before the end is missed.
    const current = (await history.listRuns()).find((r) => r.runId === runId && r.pipeline === pipeline) ?? record;
    const done = followDone(await runStatus(history, current, now()), stage, attempt);
    const sel = selectLogs(await history.stageLogs(pipeline, runId), runId, stage, attempt, true);
    if ('logs' in sel) {
      for (const log of sel.logs) await printer.drain(history, log);
      waiting = false;
    } else if (done && !printer.printed) {
      return noLog(sel, current, history.where); // it ended without (this attempt's) log
    }
    if (done) break;
    if (waiting) {
      process.stderr.write(dim(`sentinel: waiting for ${stage ? `stage ${stage}${attempt ? ` attempt ${attempt}` : ''}` : 'the first stage'} of run ${runId} to start writing its log…\n`));
      waiting = false;
    }
    await sleep(deps.pollMs ?? 1000);
    const next = await open(values);
    if (next && keepsLogs(next)) history = next;
  }
  printer.finish();
  return 0;
}
