// What every local command shares: a session (Ray head + runtime) opened and always closed, Ctrl-C that stops the
// run's Ray jobs and the head before exiting 130, and following a run with live progress and a summary.
import { join } from 'node:path';
import { LocalSession, type RunReport } from '../local/session.js';
import type { PipelineSpec } from '../core/spec.js';
import type { LocalExecution } from '../local/runtime.js';
import { ProgressView } from './progress.js';
import { bold, dim, duration, green, metricsText, red, yellow } from './format.js';
import { compact, firstCall, sampleRows } from './predict.js';

export const out = (s = '') => process.stdout.write(`${s}\n`);

export interface SessionCommandOptions {
  repoRoot: string;
  home: string;
  servePort: number;
}

export async function withSession(o: SessionCommandOptions, fn: (session: LocalSession, interrupted: () => boolean) => Promise<number>): Promise<number> {
  const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(o.repoRoot, '.venv');
  const t0 = Date.now();
  out(dim('  starting Ray head on 127.0.0.1 …'));
  let session: LocalSession | undefined;
  let interrupted = false;
  let closing: Promise<void> | undefined;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${yellow('Interrupted')}: stopping the run's Ray jobs and the Ray head …\n`);
    closing = (session?.close() ?? Promise.resolve()).finally(() => {
      process.stderr.write(`${yellow('Stopped')}: no Ray job or process of this run is left.\n`);
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    session = await LocalSession.open({ home: o.home, pythonEnv, servePort: o.servePort });
    out(dim(`  Ray head up in ${duration((Date.now() - t0) / 1000)}: dashboard ${session.head.dashboard.url}, processes under ${session.head.tempDir}`));
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
  view?.start();
  const report = await session.report(started, spec);
  view?.stop();
  if (json) out(JSON.stringify(report, null, 2));
  else await printSummary(report, spec, session, datasetUri);
  return report;
}

export function followExecution(session: LocalSession, execution: LocalExecution): Started {
  const input = execution.input as { run: { runId: string; requestedAt: string } };
  return { runId: input.run.runId, executionName: execution.name, alreadyStarted: false, execution, startedAt: Date.now() };
}

async function printSummary(r: RunReport, spec: PipelineSpec, session: LocalSession, datasetUri: string) {
  out();
  const ok = r.outcome.status === 'SUCCEEDED';
  out(`${ok ? green('✔') : red('✖')} ${bold(`Run ${r.runId} ${r.outcome.status}`)} in ${duration(r.wallSeconds)}`);
  if (!ok && r.outcome.status !== 'ABORTED') out(`  ${red(r.outcome.error ?? 'Error')}: ${(r.outcome.cause ?? '').split('\n').join('\n    ')}`);
  for (const s of r.stages) {
    const resumed = Number((s.details as { resumedFromIteration?: number } | undefined)?.resumedFromIteration ?? 0);
    const notes = [s.attempt > 1 ? `attempt ${s.attempt}` : '', resumed > 0 ? `resumed from iteration ${resumed}` : '', (s.details as { resumed?: boolean } | undefined)?.resumed ? 'resumed the search' : '']
      .filter(Boolean)
      .join(', ');
    out(`  ${s.stage.padEnd(9)} ${duration(s.jobSeconds).padStart(7)}  ${metricsText(s.metrics)}${notes ? yellow(` (${notes})`) : ''}`);
  }
  if (r.gate) out(`  ${bold('gate')}      ${r.gate.promote ? green('PROMOTE') : yellow('KEEP CHAMPION')} — ${r.gate.reason}`);
  if (r.promotion) out(`  ${bold('endpoint')}  ${r.promotion.endpoint}  ${dim('(GET it for the request schema and an example)')}`);
  if (ok) {
    const url = session.endpoint(spec);
    try {
      const res = await firstCall(url, () => ({ rows: sampleRows(datasetUri, spec.dataset.target, 3) }));
      out(`  ${bold('predict')}   POST ${spec.serve.route} ${dim(compact(res.request, 80))} → HTTP ${res.status} ${compact(res.body)}`);
    } catch (e) {
      out(`  ${bold('predict')}   ${red(`no answer from ${url}: ${(e as Error).message}`)}`);
    }
  }
  const share = r.wallSeconds > 0 ? (100 * r.rayJobSeconds) / r.wallSeconds : 0;
  out(`  ${bold('time')}      wall ${duration(r.wallSeconds)}, inside Ray jobs ${duration(r.rayJobSeconds)} (${share.toFixed(0)}%), ${r.transitions} state transitions`);
  out(`  ${bold('artifacts')} ${r.artifactsDir}${r.stages.some((s) => s.stage === 'tune') ? dim('  (tuning curves: tune/curves.svg)') : ''}`);
  out(`  ${bold('logs')}      ${session.logDir}`);
}
