// `sentinel status RUN`: one run as its records tell it — each stage's state, attempts, times and metrics, the gate's
// decision and reason, the champion, where the artifacts are, the control-plane metrics, its MLflow run — and, while
// a session is live, the Ray dashboard and the replicas serving the pipeline.
import { parseArgs } from 'node:util';
import { runStatus, type RunStatusView, type StageView } from '../core/run-history.js';
import type { Staleness } from '../core/staleness.js';
import { METRICS_FILE } from '../local/metrics-sink.js';
import { bold, dim, duration, green, metricsText, red, yellow } from './format.js';
import { metricsDigestLine } from './metrics-digest.js';
import { replicasText } from './session-command.js';
import { homeOption, openHome, outcomeText, statusText, usageError, whenText } from './runs.js';
import { BACKEND_USAGE, backendOptions, openHistory } from './backend.js';
import { resolveRunArg } from './run-arg.js';

export const STATUS_USAGE = `Usage: sentinel status RUN [--json] [--home DIR] [--backend local|aws] [--stack FILE]
  One run of the home (default .sentinel/): each stage's state, attempts, times and metrics, the gate's decision and
  reason, the pipeline's champion, the artifacts, the run's control-plane metrics (metrics.jsonl), its MLflow run; and
  while a session is live (a \`sentinel run\` still running, or serving with --serve): the Ray dashboard URL and the
  serving replicas (running, target, autoscaling range).
  RUN is a run id (as \`sentinel runs\` lists them) or a unique prefix of one.
  --json   the same as JSON on stdout
  --backend aws: the run's Step Functions execution (stage attempts and times from its history) and its S3 records.
\${BACKEND_USAGE}  Exit codes: 0 the run succeeded or is running, 1 it failed or was interrupted, or no such run (the nearest and most
  recent ids are listed), 2 bad usage.
`;

const stateText = (s: StageView['state']) => (s === 'SUCCEEDED' ? green(s) : s === 'FAILED' ? red(s) : s === 'RUNNING' || s === 'INTERRUPTED' ? yellow(s) : dim(s));

function stageLine(s: StageView, now: number): string {
  const attempts = s.attempt ? `attempt ${s.attempt}${s.attempts && s.attempts > s.attempt ? ` of ${s.attempts}` : ''}` : '';
  const running = s.state === 'RUNNING' && s.startedAt ? (now - Date.parse(s.startedAt)) / 1000 : undefined;
  const secs = s.seconds !== undefined ? duration(s.seconds) : running !== undefined ? `${duration(running)}…` : '';
  const when = s.endedAt ? `ended ${whenText(s.endedAt, now)}` : s.startedAt ? `started ${whenText(s.startedAt, now)}` : '';
  const parts = [metricsText(s.metrics), s.notes?.length ? yellow(`(${s.notes.join(', ')})`) : '', s.error ? red(s.error) : ''].filter(Boolean).join('  ');
  return `    ${s.stage.padEnd(9)} ${stateText(s.state)}${' '.repeat(Math.max(1, 10 - s.state.length))}${attempts.padEnd(15)}${secs.padStart(8)}  ${dim(when)}${parts ? `\n${' '.repeat(14)}${parts}` : ''}`;
}

/** The champion's age against the spec's staleAfter: stale since when, or fresh until when. */
export function stalenessText(s: Staleness, now: number): string {
  const a = s.ageSeconds;
  const age = `${a < 90 ? `${Math.round(a)}s` : a < 5400 ? `${Math.round(a / 60)}m` : a < 129_600 ? `${Math.round(a / 3600)}h` : `${Math.round(a / 86_400)}d`} old`;
  return s.stale
    ? `${red('STALE')} — ${age}, past staleAfter ${s.staleAfter} since ${whenText(s.staleAt, now)}; retrain it (\`sentinel run\`, or \`sentinel start PIPELINE --backend aws\`)`
    : `${green('fresh')} — ${age}, stale after ${s.staleAfter} (at ${whenText(s.staleAt, now)})`;
}

export function printStatus(v: RunStatusView, now: number, write: (s: string) => void = (s) => void process.stdout.write(`${s}\n`), serve?: Parameters<typeof replicasText>[1]) {
  write(`${bold(`Run ${v.runId}`)} of ${bold(v.pipeline)}  ${statusText(v.status)}${v.durationSeconds !== undefined ? ` in ${duration(v.durationSeconds)}` : ''}`);
  write(`  ${bold('outcome')}   ${outcomeText(v, 400)}`);
  write(`  ${bold('started')}   ${whenText(v.startedAt, now)}${v.endedAt ? `, ended ${whenText(v.endedAt, now)}` : ''}  ${dim(`(${v.trigger}${v.requestedBy ? ` ${v.requestedBy}` : ''})`)}`);
  if (v.waiting) write(`  ${bold('queued')}    since ${whenText(v.waiting.enqueuedAt, now)}, priority ${v.waiting.priority}; last asked for a slot ${whenText(v.waiting.lastSeen, now)}  ${dim('(PrepareRun retries until a slot is free: spec maxConcurrentRuns)')}`);
  write(`  ${bold('dataset')}   ${v.datasetUri || dim('(not recorded)')}`);
  write(`  ${bold('stages')}`);
  for (const s of v.stages) write(stageLine(s, now));
  if (v.gate) {
    const nums = v.gate.metric && v.gate.candidate !== undefined ? dim(` (candidate ${v.gate.metric} ${v.gate.candidate.toFixed(4)}${v.gate.champion !== undefined ? `, champion ${v.gate.champion.toFixed(4)}` : ''})`) : '';
    write(`  ${bold('gate')}      ${v.gate.decision === 'PROMOTE' ? green('PROMOTE') : yellow('KEEP CHAMPION')} — ${v.gate.reason}${nums}`);
  }
  if (v.champion) {
    const c = v.champion;
    write(
      `  ${bold('champion')}  ${c.runId}${c.isThisRun ? green(' (this run)') : ''} ${c.metric} ${c.value.toFixed(4)}, promoted ${whenText(c.promotedAt, now)}${c.registryVersion ? `, registry v${c.registryVersion}` : ''}${c.previousRunId ? dim(`; before it ${c.previousRunId}`) : ''}`,
    );
    if (c.staleness) write(`  ${bold('freshness')} ${stalenessText(c.staleness, now)}`);
  } else write(`  ${bold('champion')}  ${dim('none yet for this pipeline')}`);
  const digest = v.controlPlane ? metricsDigestLine(v.controlPlane) : undefined;
  if (digest) write(`  ${bold('metrics')}   ${digest}  ${dim(`(${METRICS_FILE})`)}`);
  if (v.tracking && 'url' in v.tracking) {
    write(`  ${bold('tracking')}  ${v.tracking.liveUrl ?? v.tracking.url}`);
    if (!v.tracking.liveUrl && !v.live?.mlflowUri && /\/\/(127\.0\.0\.1|localhost)[:/]/.test(v.tracking.url)) {
      write(`  ${dim('            (the MLflow server that tracked it stopped with its session; `sentinel mlflow` serves the same store again)')}`);
    }
  } else if (v.tracking) write(`  ${bold('tracking')}  ${dim(v.tracking.off)}`);
  write(`  ${bold('artifacts')} ${v.artifactsUri}`);
  if (v.live) {
    // A deployed stack's "live view" is its state machine in the Step Functions console (no session, no pid).
    if (v.live.pid === undefined) write(`  ${bold('console')}   ${v.live.dashboardUrl}`);
    else write(`  ${bold('live')}      Ray dashboard ${v.live.dashboardUrl}${v.live.dashboardAnswers ? '' : red(' (not answering)')}  ${dim(`(session pid ${v.live.pid ?? '?'}, up since ${v.live.startedAt ? whenText(v.live.startedAt, now) : '?'})`)}`);
    if (v.live.note) write(`  ${yellow(v.live.note)}`);
    const sv = v.live.serving;
    if (sv) {
      const which = sv.status?.runId ? `serving run ${sv.status.runId}${sv.status.runId === v.runId ? ' (this run)' : ''}` : '';
      write(`  ${bold('endpoint')}  ${sv.endpoint}  ${dim([sv.status?.state, which].filter(Boolean).join(', '))}`);
      if (sv.replicas) {
        write(
          `  ${bold('replicas')}  ${
            serve ? replicasText(sv.replicas, serve) : `${sv.replicas.running} running (target ${sv.replicas.target})${sv.replicas.min !== undefined ? ` · autoscaling ${sv.replicas.min}–${sv.replicas.max}` : ''}`
          }`,
        );
      }
    } else if (v.live.dashboardAnswers && v.live.pid !== undefined) write(`  ${bold('serving')}   ${dim(`nothing serves ${v.pipeline} in the live session`)}`);
  } else write(`  ${bold('live')}      ${dim('no live session (a `sentinel run` that is running, or serving with --serve, shows its dashboard and replicas here)')}`);
}

export async function statusCommand(args: string[], now = Date.now()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { json: { type: 'boolean', default: false }, home: homeOption, ...backendOptions, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (e) {
    return usageError((e as Error).message, STATUS_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(STATUS_USAGE);
    return 0;
  }
  if (positionals.length !== 1) return usageError(positionals.length ? `status takes one RUN, got ${positionals.length}` : 'status needs a RUN id (`sentinel runs` lists them)', STATUS_USAGE);
  const history = await openHistory(values, openHome);
  if (!history) return 1;
  const resolved = await resolveRunArg(history, positionals[0]!, { json: values.json });
  if (!resolved) return 1;
  const view = await runStatus(history, resolved.record, now);
  if (values.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  else {
    const spec = await history.spec(view.pipeline).catch(() => undefined);
    printStatus(view, now, undefined, spec?.serve);
  }
  return view.status === 'FAILED' || view.status === 'INTERRUPTED' ? 1 : 0;
}
