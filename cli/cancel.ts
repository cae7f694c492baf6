// `sentinel cancel RUN`: stops a live local run — its execution and its Ray jobs — and records CANCELLED (who, when).
// The live `sentinel run` session acts on it: this command leaves a request in <home>/control (local/control.ts),
// which the session polls, and waits until run.json says how the run ended and Ray reports none of its jobs running.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import { isTerminal } from '../core/job-status.js';
import type { RunRecord } from '../core/model.js';
import { LocalRunHistory } from '../local/run-history.js';
import { liveSessionFile } from '../local/session-file.js';
import { clearCancel, requestCancel } from '../local/control.js';
import { homeOption, openHome, usageError } from './runs.js';
import { BACKEND_USAGE, backendOf, backendOptions, guarded } from './backend.js';
import { cancelOnAws } from './cancel-aws.js';
import { resolveRunArg } from './run-arg.js';
import { bold, dim, duration, green, yellow } from './format.js';

export const CANCEL_USAGE = `Usage: sentinel cancel RUN [--timeout SECONDS] [--json] [--home DIR]
  Stops a run that a live \`sentinel run\` on this home is running: its state machine execution and every Ray job of
  it, then records CANCELLED (by whom, when) in its run.json. Ctrl-C in the \`sentinel run\` terminal does the same.
  RUN is a run id (as \`sentinel runs\` lists them) or a unique prefix of one. Resume it later: sentinel resume RUN.
  --timeout S   how long to wait for the session to stop it (default 120)
  --json        {runId, status, by, seconds, jobsLeft} on stdout
  --backend aws: stops the run's Step Functions execution (StopExecution); the stack's execution-ended handler
  deletes its RayJobs and records the end.
${BACKEND_USAGE}  Exit codes: 0 cancelled, 1 no such run, or it had already ended (its status is printed), or the session did not
  stop it in time, 2 bad usage.
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const who = () => {
  let user = 'unknown user';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return `\`sentinel cancel\` (pid ${process.pid}, user ${user})`;
};

export async function cancelCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { timeout: { type: 'string', default: '120' }, json: { type: 'boolean', default: false }, home: homeOption, ...backendOptions, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (e) {
    return usageError((e as Error).message, CANCEL_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(CANCEL_USAGE);
    return 0;
  }
  if (positionals.length !== 1) return usageError(positionals.length ? `cancel takes one RUN, got ${positionals.length}` : 'cancel needs a RUN id (`sentinel runs --status running` lists the running ones)', CANCEL_USAGE);
  // A deployed stack: StopExecution (cli/cancel-aws.ts); its execution-ended handler deletes the RayJobs.
  if (backendOf(values.backend) === 'aws') return guarded(() => cancelOnAws(positionals[0]!, values));
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) return usageError(`--timeout: "${values.timeout}" is not a number of seconds > 0`, CANCEL_USAGE);
  const home = resolve(values.home);
  const history = openHome(home);
  if (!history) return 1;
  // Listing marks the runs of a dead command ABANDONED first.
  const resolved = await resolveRunArg(history, positionals[0]!, values.json ? { json: true } : {});
  if (!resolved) return 1;
  const run = resolved.record;
  const ended = (r: RunRecord) => `run ${r.runId} already ended: ${r.status}${r.ended ? ` (${r.ended.reason})` : r.outcome && 'reason' in r.outcome ? ` (${r.outcome.reason})` : ''}; nothing to cancel`;
  if (run.status !== 'RUNNING') {
    if (values.json) process.stdout.write(`${JSON.stringify({ runId: run.runId, status: run.status, cancelled: false })}\n`);
    process.stderr.write(`sentinel: ${ended(run)}${run.status === 'SUCCEEDED' ? '' : ` (\`sentinel resume ${run.runId}\` continues it)`}\n`);
    return 1;
  }
  const session = liveSessionFile(home);
  if (!session) {
    process.stderr.write(`sentinel: run ${run.runId} is recorded RUNNING but no live session on ${home} runs it; \`sentinel runs\` marks it ABANDONED\n`);
    return 1;
  }
  const by = who();
  const t0 = Date.now();
  requestCancel(home, { runId: run.runId, by, at: new Date().toISOString() });
  if (!values.json) process.stdout.write(dim(`  asked the session (pid ${session.pid}) to cancel ${run.runId} …\n`));
  const reader = new LocalRunHistory({ home });
  let record: RunRecord | undefined;
  while (Date.now() - t0 < timeout * 1000) {
    record = (await reader.listRuns()).find((r) => r.runId === run.runId);
    if (record && record.status !== 'RUNNING') break;
    if (!liveSessionFile(home)) break; // the session went away (it ended, or was killed)
    await sleep(250);
  }
  const jobs = await new LocalRunHistory({ home }).jobs(run.pipeline, run.runId).catch(() => []);
  const jobsLeft = jobs.filter((j) => !isTerminal(j.state)).map((j) => j.jobId);
  const seconds = (Date.now() - t0) / 1000;
  if (!record || record.status === 'RUNNING') {
    clearCancel(home, run.runId);
    process.stderr.write(`sentinel: the session (pid ${session.pid}) did not stop ${run.runId} within ${timeout} s; press Ctrl-C in its terminal (it stops the same way)\n`);
    return 1;
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ runId: run.runId, status: record.status, cancelled: record.status === 'CANCELLED', ...(record.ended ? { by: record.ended.by, at: record.ended.at } : {}), seconds, jobsLeft }, null, 2)}\n`);
  if (record.status !== 'CANCELLED') {
    process.stderr.write(`sentinel: ${ended(record)} (it finished before the cancel took effect)\n`);
    return 1;
  }
  if (!values.json) {
    process.stdout.write(`${green('✔')} ${bold(`Run ${run.runId} CANCELLED`)} in ${duration(seconds)}: execution stopped, ${jobsLeft.length ? yellow(`${jobsLeft.length} Ray job(s) still stopping: ${jobsLeft.join(', ')}`) : 'no Ray job of it is running'}\n`);
    process.stdout.write(`  ${dim(`recorded by ${record.ended?.by ?? by}; continue it with`)} sentinel resume ${run.runId}\n`);
  }
  return 0;
}
