// What every local command shares: a session (Ray head + runtime) opened and always closed, Ctrl-C that stops the
// run's Ray jobs and the head before exiting 130, and following a run with live progress and a summary.
import { HOME_BUSY_EXIT, HomeBusyError } from '../local/session-file.js';
import { join } from 'node:path';
import { LocalSession, type RunReport } from '../local/session.js';
import type { PipelineSpec } from '../core/spec.js';
import type { LocalExecution } from '../local/runtime.js';
import type { ServeReplicas } from '../core/ports.js';
import { ProgressView } from './progress.js';
import { bold, dim, duration, green, metricsText, red, yellow } from './format.js';
import { compact, firstCall, sampleRows } from './predict.js';
import { modelUrl, runUrl } from '../core/tracking.js';
import { metricsDigestLine } from './metrics-digest.js';
import { METRICS_FILE, runMetricsDigest } from '../local/metrics-sink.js';

let humanStream: NodeJS.WritableStream = process.stdout;
/** With --json, stdout carries only the JSON report; the lines meant for people go to stderr. */
export function jsonOutput(on: boolean) {
  humanStream = on ? process.stderr : process.stdout;
}
export const out = (s = '') => void humanStream.write(`${s}\n`);

/** The Python environment with Ray, sentinel_sdk and the jobs (the project's .venv unless SENTINEL_PYTHON_ENV). */
export const pythonEnvFor = (repoRoot: string) => process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');

export interface SessionCommandOptions {
  repoRoot: string;
  home: string;
  servePort: number;
  /** 'local': start an MLflow server beside the Ray head; { uri }: a team's server; absent: tracking off. */
  tracking?: 'local' | { uri: string };
  /** The command, for the records it writes (e.g. "sentinel resume"); default "sentinel run". */
  command?: string;
  /** Another session holds the home: wait for it (saying who holds it) instead of exiting HOME_BUSY_EXIT. */
  waitForHome?: boolean;
}

export async function withSession(o: SessionCommandOptions, fn: (session: LocalSession, interrupted: () => boolean) => Promise<number>): Promise<number> {
  const pythonEnv = pythonEnvFor(o.repoRoot);
  const t0 = Date.now();
  out(dim('  starting Ray head on 127.0.0.1 …'));
  let session: LocalSession | undefined;
  let interrupted = false;
  let closing: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${yellow('Interrupted')}: stopping the run's Ray jobs and the Ray head …\n`);
    // The same as `sentinel cancel`: the run's jobs stopped and CANCELLED recorded, with who and why.
    closing = (session?.close(signal === 'SIGINT' ? 'Ctrl-C (SIGINT)' : `${signal}`) ?? Promise.resolve()).finally(() => {
      process.stderr.write(`${yellow('Stopped')}: no Ray job or process of this run is left.\n`);
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (o.tracking === 'local') out(dim('  starting an MLflow tracking server on 127.0.0.1 beside it …'));
    session = await LocalSession.open({ home: o.home, pythonEnv, servePort: o.servePort, command: o.command ?? 'sentinel run', ...(o.waitForHome ? { waitForHome: (busy: HomeBusyError) => out(yellow(`  waiting: ${busy.message}`)) } : {}), ...(o.tracking ? { tracking: o.tracking } : {}) });
    out(dim(`  Ray head up in ${duration((Date.now() - t0) / 1000)}: dashboard ${session.head.dashboard.url}, processes under ${session.head.tempDir}`));
    if (session.tracking) out(dim(`  MLflow ${session.tracking.uri}${session.tracking.server ? ' (started here: SQLite in <home>/mlflow, artifacts in the bucket; stopped at the end)' : ' (existing server)'}`));
    else out(dim('  tracking off (no MLflow server for this command)'));
    const code = await fn(session, () => interrupted);
    if (interrupted) {
      await closing; // exits 130 once everything is stopped
      return 130;
    }
    return code;
  } catch (e) {
    if (interrupted) {
      await closing;
      return 130;
    }
    if (e instanceof HomeBusyError) {
      // Plainly who holds it; nothing was started (no Ray head, no run).
      process.stderr.write(`${red('✖')} ${e.message}\n  one session per home: wait for it, stop it, or use another --home\n`);
      return HOME_BUSY_EXIT;
    }
    process.stderr.write(`${red('✖')} ${(e as Error).message}\n`);
    return 1;
  } finally {
    if (!interrupted) await session?.close();
  }
}

export type Started = Awaited<ReturnType<LocalSession['start']>>;

/** Follows a started run with live progress, then prints the summary and a first prediction. */
export async function followRun(session: LocalSession, started: Started, spec: PipelineSpec, datasetUri: string, json: boolean): Promise<RunReport> {
  if (started.alreadyStarted) out(yellow(`  run ${started.runId} was already started by this trigger; following it`));
  const view = json ? undefined : new ProgressView(started.runId, started.execution, session.runtime.compute);
  // While the run goes: where Ray's own view of it is (jobs, logs, metrics), and its MLflow run.
  out(dim(`  Ray dashboard ${session.head.dashboard.url} (while this command runs)`));
  view?.start();
  const report = await session.report(started, spec);
  view?.stop();
  const prediction = report.outcome.status === 'SUCCEEDED' ? await firstPrediction(session, spec, datasetUri) : undefined;
  const replicas = report.outcome.status === 'SUCCEEDED' ? await session.serving.replicas(spec.name).catch(() => undefined) : undefined;
  if (json) process.stdout.write(`${JSON.stringify({ ...report, ...(prediction ? { firstCall: prediction } : {}), ...(replicas ? { replicas } : {}) }, null, 2)}\n`);
  else printSummary(report, spec, session, prediction, replicas);
  return report;
}

export type FirstCall =
  | { route: string; url: string; status: number; request: unknown; body: unknown }
  | { route: string; url: string; error: string };

/** The first call against what now serves the route: its advertised example (GET), else rows from the dataset. */
async function firstPrediction(session: LocalSession, spec: PipelineSpec, datasetUri: string): Promise<FirstCall> {
  const url = session.endpoint(spec);
  const route = spec.serve.route;
  const serving = await session.serving.status(spec.name).catch(() => undefined);
  if (serving && serving.state !== 'RUNNING') return { route, url, error: `nothing serves ${route} (Serve application ${serving.state.toLowerCase()})` };
  try {
    const res = await firstCall(url, () => ({ rows: sampleRows(datasetUri, spec.dataset.target, 3) }));
    return { route, url, status: res.status, request: res.request, body: res.body };
  } catch (e) {
    return { route, url, error: `no answer from ${url}: ${(e as Error).message}` };
  }
}

export function followExecution(session: LocalSession, execution: LocalExecution): Started {
  const input = execution.input as { run: { runId: string; requestedAt: string } };
  return { runId: input.run.runId, executionName: execution.name, alreadyStarted: false, execution, startedAt: Date.now() };
}

/** "2 running (target 2) · autoscaling 1–5 at 5 ongoing requests per replica, up after 1 s, down after 30 s" */
export function replicasText(r: ServeReplicas, serve: PipelineSpec['serve']): string {
  const others = Object.entries(r.states).filter(([state]) => state !== 'RUNNING').map(([state, n]) => `${n} ${state.toLowerCase()}`);
  const now = `${r.running} running${others.length ? `, ${others.join(', ')}` : ''} (target ${r.target})`;
  const range = `${r.min ?? serve.replicas.min}–${r.max ?? serve.replicas.max}`;
  return `${now} · autoscaling ${range} at ${serve.targetOngoingRequests} ongoing requests per replica, up after ${serve.upscaleDelaySeconds} s, down after ${serve.downscaleDelaySeconds} s`;
}

function printSummary(r: RunReport, spec: PipelineSpec, session: LocalSession, prediction: FirstCall | undefined, replicas?: ServeReplicas) {
  out();
  const ok = r.outcome.status === 'SUCCEEDED';
  out(`${ok ? green('✔') : red('✖')} ${bold(`Run ${r.runId} ${r.outcome.status}`)} in ${duration(r.wallSeconds)}`);
  if (!ok && r.outcome.status !== 'ABORTED') out(`  ${red(r.outcome.error ?? 'Error')}: ${(r.outcome.cause ?? '').split('\n').join('\n    ')}`);
  for (const s of r.stages) {
    const resumed = Number((s.details as { resumedFromIteration?: number } | undefined)?.resumedFromIteration ?? 0);
    const notes = [s.attempt > 1 ? `attempt ${s.attempt}` : '', resumed > 0 ? `resumed from iteration ${resumed}` : '', (s.details as { resumed?: boolean } | undefined)?.resumed ? 'resumed the search' : '', typeof s.details?.reusedFrom === 'string' ? `reused from ${s.details.reusedFrom}` : '']
      .filter(Boolean)
      .join(', ');
    out(`  ${s.stage.padEnd(9)} ${duration(s.jobSeconds).padStart(7)}  ${metricsText(s.metrics)}${notes ? yellow(` (${notes})`) : ''}`);
  }
  if (r.gate) out(`  ${bold('gate')}      ${r.gate.promote ? green('PROMOTE') : yellow('KEEP CHAMPION')} — ${r.gate.reason}`);
  if (r.promotion) out(`  ${bold('endpoint')}  ${r.promotion.endpoint}  ${dim('(GET it for the request schema and an example)')}`);
  if (replicas) out(`  ${bold('replicas')}  ${replicasText(replicas, spec.serve)}`);
  if (prediction && 'error' in prediction) out(`  ${bold('predict')}   ${red(prediction.error)}`);
  else if (prediction) {
    const good = prediction.status >= 200 && prediction.status < 300;
    out(`  ${bold('predict')}   POST ${prediction.route} → HTTP ${good ? prediction.status : red(String(prediction.status))} ${compact(prediction.body)}`);
  }
  const share = r.wallSeconds > 0 ? (100 * r.rayJobSeconds) / r.wallSeconds : 0;
  out(`  ${bold('time')}      wall ${duration(r.wallSeconds)}, inside Ray jobs ${duration(r.rayJobSeconds)} (${share.toFixed(0)}%), ${r.transitions} state transitions`);
  const digest = metricsDigestLine(runMetricsDigest(join(r.artifactsDir, METRICS_FILE)));
  if (digest) out(`  ${bold('metrics')}   ${digest}  ${dim(`(${METRICS_FILE})`)}`);
  for (const line of trackingLines(r, spec, session)) out(line);
  out(`  ${bold('artifacts')} ${r.artifactsDir}${r.stages.some((s) => s.stage === 'tune') ? dim('  (tuning curves: tune/curves.svg)') : ''}`);
  out(`  ${bold('logs')}      ${session.logDir}`);
}

/** The run's MLflow run and the registry's champion, or why the run was not tracked. */
export function trackingLines(r: RunReport, spec: PipelineSpec, session: LocalSession): string[] {
  const t = session.tracking;
  if (!t) return [`  ${bold('tracking')}  ${dim('off: this run was not tracked (`sentinel run` starts an MLflow server unless --no-tracking; --tracking-uri URL names one)')}`];
  const stage = r.stages.map((s) => (s.details as { tracking?: { experimentId?: string; parentRunId?: string; error?: string } } | undefined)?.tracking).find((x) => x?.parentRunId);
  const lines = [
    stage?.experimentId && stage.parentRunId
      ? `  ${bold('tracking')}  ${runUrl(t.uri, stage.experimentId, stage.parentRunId)}  ${dim(`(MLflow: experiment ${spec.name}, stages and tune trials nested)`)}`
      : `  ${bold('tracking')}  ${yellow(`not tracked on ${t.uri}`)}${stage?.error ? ` (${stage.error})` : ''}`,
  ];
  const version = r.promotion?.registry?.version ?? r.gate?.championVersion;
  if (version) lines.push(`  ${bold('registry')}  ${spec.name} v${version} @champion  ${dim(modelUrl(t.uri, spec.name, version))}`);
  if (r.promotion?.registryError) lines.push(`  ${bold('registry')}  ${yellow(`not updated: ${r.promotion.registryError}`)} ${dim('(set from champion.json by the next run)')}`);
  if (t.server) lines.push(`  ${dim(`MLflow UI at ${t.uri} while this command runs; afterwards \`./sentinel mlflow\` serves the same store again`)}`);
  return lines;
}
