// `sentinel run`: one full local pipeline run, the same state machine that deploys, on a Ray head started here.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { LocalSession, type RunReport } from '../local/session.js';
import { readFileSync } from 'node:fs';
import { parseSpec, type PipelineSpec } from '../core/spec.js';
import { preflightCsv } from '../local/dataset.js';
import { ProgressView } from './progress.js';
import { bold, dim, duration, green, metricsText, red, yellow } from './format.js';
import { postJson, sampleRows } from './predict.js';

export interface RunCommandOptions {
  repoRoot: string;
  home: string;
  specPath: string;
  datasetPath?: string;
  requestId?: string;
  servePort: number;
  /** Keep serving after the run until Ctrl-C. */
  serve: boolean;
  json: boolean;
}

const out = (s = '') => process.stdout.write(`${s}\n`);

export async function runCommand(o: RunCommandOptions): Promise<number> {
  const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(o.repoRoot, '.venv');
  // Validate the spec before anything starts: a bad spec costs a second, not a Ray head.
  const t0 = Date.now();
  let spec: PipelineSpec;
  try {
    spec = parseSpec(readFileSync(o.specPath, 'utf8'), o.specPath);
  } catch (e) {
    process.stderr.write(`${red('✖ spec rejected')}: ${(e as Error).message}\n`);
    return 2;
  }
  if (o.datasetPath) {
    try {
      await preflightCsv(o.datasetPath, spec);
    } catch (e) {
      process.stderr.write(`${red('✖ dataset rejected')}: ${(e as Error).message}\n`);
      return 2;
    }
  }

  out(`${bold('Sentinel')} local run of ${bold(spec.name)}  ${dim(`(spec ${o.specPath})`)}`);
  out(dim('  starting Ray head on 127.0.0.1 …'));
  let session: LocalSession | undefined;
  let interrupted = false;
  let closing: Promise<void> | undefined;
  const onSigint = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${yellow('Interrupted')}: stopping the run's Ray jobs and the Ray head …\n`);
    closing = (session?.close() ?? Promise.resolve()).finally(() => {
      process.stderr.write(`${yellow('Stopped')}: no Ray job or process of this run is left.\n`);
      process.exit(130);
    });
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    session = await LocalSession.open({ home: o.home, pythonEnv, servePort: o.servePort });
    out(dim(`  Ray head up in ${duration((Date.now() - t0) / 1000)}: dashboard ${session.head.dashboard.url}, processes under ${session.head.tempDir}`));
    const datasetUri = await session.prepareDataset(spec, o.datasetPath);
    out(dim(`  dataset ${datasetUri}`));
    const champion = await session.restoreChampion(spec);
    if (champion) out(dim(`  champion ${champion.runId} (${champion.metric} ${champion.value.toFixed(4)}) serving at ${session.endpoint(spec)}`));

    const started = await session.start(spec, datasetUri, o.requestId ?? randomUUID());
    if (started.alreadyStarted) out(yellow(`  run ${started.runId} was already started by this request id; following it`));
    const view = o.json ? undefined : new ProgressView(started.runId, started.execution, session.runtime.compute);
    view?.start();
    const report = await session.report(started, spec);
    view?.stop();
    if (interrupted) {
      await closing; // exits 130 once everything is stopped
      return 130;
    }

    if (o.json) out(JSON.stringify(report, null, 2));
    else await printSummary(report, spec, session, datasetUri);

    if (report.outcome.status === 'SUCCEEDED' && o.serve) {
      out(`\n${bold('Serving')} ${session.endpoint(spec)} — press Ctrl-C to stop.`);
      await new Promise(() => undefined);
    }
    return report.outcome.status === 'SUCCEEDED' ? 0 : 1;
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

async function printSummary(r: RunReport, spec: PipelineSpec, session: LocalSession, datasetUri: string) {
  out();
  const ok = r.outcome.status === 'SUCCEEDED';
  out(`${ok ? green('✔') : red('✖')} ${bold(`Run ${r.runId} ${r.outcome.status}`)} in ${duration(r.wallSeconds)}`);
  if (!ok) {
    out(`  ${red(r.outcome.error ?? 'Error')}: ${(r.outcome.cause ?? '').split('\n').join('\n    ')}`);
  }
  for (const s of r.stages) {
    out(`  ${s.stage.padEnd(9)} ${duration(s.jobSeconds).padStart(7)}  ${metricsText(s.metrics)}${s.attempt > 1 ? yellow(` (attempt ${s.attempt})`) : ''}`);
  }
  if (r.gate) {
    out(`  ${bold('gate')}      ${r.gate.promote ? green('PROMOTE') : yellow('KEEP CHAMPION')} — ${r.gate.reason}`);
  }
  if (r.promotion) {
    out(`  ${bold('endpoint')}  ${r.promotion.endpoint}  ${dim(`(POST {"rows": [{feature: value, …}]})`)}`);
  }
  if (ok) {
    const url = session.endpoint(spec);
    try {
      const rows = sampleRows(datasetUri, spec.dataset.target, 3);
      const res = await postJson(url, { rows });
      const body = res.body as { predictions?: number[]; probabilities?: number[]; model?: { runId?: string } };
      out(`  ${bold('predict')}   POST ${rows.length} rows → HTTP ${res.status} predictions ${JSON.stringify(body.predictions)} probabilities ${JSON.stringify(body.probabilities?.map((p) => Number(p.toFixed(3))))} ${dim(`(model of run ${body.model?.runId})`)}`);
    } catch (e) {
      out(`  ${bold('predict')}   ${red(`no answer from ${url}: ${(e as Error).message}`)}`);
    }
  }
  const share = r.wallSeconds > 0 ? (100 * r.rayJobSeconds) / r.wallSeconds : 0;
  out(`  ${bold('time')}      wall ${duration(r.wallSeconds)}, inside Ray jobs ${duration(r.rayJobSeconds)} (${share.toFixed(0)}%), ${r.transitions} state transitions`);
  out(`  ${bold('artifacts')} ${r.artifactsDir}${r.stages.some((s) => s.stage === 'tune') ? dim('  (tuning curves: tune/curves.svg)') : ''}`);
  out(`  ${bold('logs')}      ${session.logDir}`);
}
