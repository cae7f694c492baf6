// `sentinel report RUN --out FILE`: one self-contained HTML page of a run (cli/report-html.ts draws it). The data
// comes through the RunHistoryPort (the run, its stages, gate, champion) and an ObjectStore (the ingest manifest's
// SHA-256, the tune stage's trial histories), so the same gathering works on the local home and on a deployed stack.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { runStatus, type RunHistoryPort } from '../core/run-history.js';
import type { RunRecord } from '../core/model.js';
import type { ObjectStore } from '../core/ports.js';
import { STAGES, type Stage } from '../core/stages.js';
import { LocalObjectStore } from '../local/object-store.js';
import { homeOption, openHome, usageError } from './runs.js';
import { BACKEND_USAGE, backendOptions, openHistory } from './backend.js';
import { resolveRunArg } from './run-arg.js';
import { renderReport, type ReportData, type TrialCurve, type TuningCurves } from './report-html.js';

export const REPORT_USAGE = `Usage: sentinel report RUN [--out FILE] [--home DIR] [--backend local|aws] [--stack FILE]
  Writes one self-contained HTML page of a run (no external fetches, no script): the pipeline graph
  (ingest → train → tune → evaluate → gate → promote) coloured by each stage's outcome with its times, each stage's
  metrics, the gate's decision and reason, the tuning curves (one line per trial), lineage from the dataset's SHA-256
  to the run, its model (and registry version) and the endpoint, and the time each stage spent inside Ray.
  RUN is a run id (as \`sentinel runs\` lists them) or a unique prefix of one.
  --out FILE   where to write the page (default: report-<run id>.html in the current folder)
  --home DIR   the Sentinel home (default .sentinel/)
  --backend aws: the run's Step Functions execution and its S3 records (manifest and trial histories read from S3).
${BACKEND_USAGE}  Exit codes: 0 written, 1 no such run or home (the nearest and most recent ids are listed) or the file could not be
  written, 2 bad usage.
`;

type Reader = Pick<ObjectStore, 'getJson' | 'getText'>;

const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** trials.json as the tune job writes it, keeping only what reads right. */
export function tuningFrom(raw: unknown): TuningCurves | undefined {
  const o = obj(raw);
  if (!o || !Array.isArray(o.trials)) return undefined;
  const trials: TrialCurve[] = [];
  for (const t of o.trials) {
    const tr = obj(t);
    if (!tr || typeof tr.trialId !== 'string' || !Array.isArray(tr.history)) continue;
    trials.push({
      trialId: tr.trialId,
      history: tr.history.filter((x): x is number => typeof x === 'number'),
      ...(tr.best === true ? { best: true } : {}),
      ...(tr.stoppedEarly === true ? { stoppedEarly: true } : {}),
      ...(obj(tr.config) ? { config: obj(tr.config)! } : {}),
      ...(typeof tr.error === 'string' ? { error: tr.error } : {}),
    });
  }
  return {
    metric: typeof o.metric === 'string' ? o.metric : 'metric',
    ...(o.mode === 'max' || o.mode === 'min' ? { mode: o.mode } : {}),
    ...(typeof o.bestTrialId === 'string' ? { bestTrialId: o.bestTrialId } : {}),
    ...(typeof o.maxIterations === 'number' ? { maxIterations: o.maxIterations } : {}),
    trials,
  };
}

const quietly = async <T>(what: string, notes: string[], p: Promise<T>): Promise<T | undefined> => {
  try {
    return await p;
  } catch (e) {
    notes.push(`${what}: ${(e as Error).message}`);
    return undefined;
  }
};

/** Everything the page shows of one run, read through the port and the store. */
export async function reportData(port: RunHistoryPort, store: Reader, record: RunRecord, now = Date.now()): Promise<ReportData> {
  const notes: string[] = [];
  const view = await runStatus(port, record, now);
  const [results, spec] = await Promise.all([port.stageResults(record.pipeline, record.runId), port.spec(record.pipeline).catch(() => undefined)]);
  const stageDetails: Partial<Record<Stage, Record<string, unknown>>> = {};
  for (const stage of STAGES) {
    const d = record.stages?.[stage]?.details ?? results[stage]?.result?.details;
    if (d) stageDetails[stage] = d;
  }
  const artifactsOf = (stage: Stage) => view.stages.find((s) => s.stage === stage)?.artifacts ?? {};

  const manifestUri = artifactsOf('ingest').manifest;
  const manifest = manifestUri ? obj(await quietly('the ingest manifest', notes, store.getJson<unknown>(manifestUri))) : undefined;
  // The manifest's source (what ingest read and hashed); ingest's details repeat the digest.
  const source = obj(manifest?.source);
  const sha = typeof source?.sha256 === 'string' ? source.sha256 : typeof stageDetails.ingest?.sha256 === 'string' ? stageDetails.ingest.sha256 : undefined;
  const datasetBytes = typeof source?.bytes === 'number' ? source.bytes : undefined;
  if (!sha && view.stages[0]?.state === 'SUCCEEDED') notes.push('the dataset SHA-256 (ingest recorded none)');

  const tune = artifactsOf('tune');
  let tuning: TuningCurves | undefined;
  let curvesSvg: string | undefined;
  if (tune.trials) {
    tuning = tuningFrom(await quietly('the trial histories', notes, store.getJson<unknown>(tune.trials)));
    if (!tuning) notes.push(`the trial histories (${tune.trials} does not read as trials)`);
  }
  if (!tuning?.trials.length && tune.curves) curvesSvg = await quietly('the tuning curves', notes, store.getText(tune.curves));

  const candidate = obj(stageDetails.evaluate?.candidate);
  const c = view.champion;
  const modelUri = typeof candidate?.modelUri === 'string' ? candidate.modelUri : c?.isThisRun ? c.modelUri : (tune.model ?? artifactsOf('train').model);
  const champion = c?.isThisRun ? await port.champion(record.pipeline) : undefined;
  const registry = champion?.current.runId === record.runId ? champion.current.registry : champion?.previous?.runId === record.runId ? champion.previous.registry : undefined;

  return {
    view,
    generatedAt: new Date(now).toISOString(),
    ...(sha ? { datasetSha256: sha } : {}),
    ...(manifestUri ? { manifestUri } : {}),
    ...(datasetBytes !== undefined ? { datasetBytes } : {}),
    ...(modelUri ? { modelUri } : {}),
    ...(registry ? { registry } : {}),
    ...(spec ? { route: spec.serve.route, gateRule: { metric: spec.gate.metric, ...(spec.gate.mode ? { mode: spec.gate.mode } : {}), floor: spec.gate.floor, minImprovement: spec.gate.minImprovement } } : {}),
    ...(view.live?.serving?.endpoint ? { endpoint: view.live.serving.endpoint } : {}),
    stageDetails,
    ...(tuning ? { tuning } : {}),
    ...(curvesSvg ? { curvesSvg } : {}),
    ...(notes.length ? { notes } : {}),
  };
}

export interface WrittenReport {
  path: string;
  bytes: number;
  runId: string;
  pipeline: string;
  millis: number;
}

/** Resolves RUN in the port's records, gathers and renders its page and writes it; undefined (after saying why) when not found. */
export async function writeReport(port: RunHistoryPort, store: Reader, id: string, out: string | undefined, now = Date.now()): Promise<WrittenReport | undefined> {
  const t0 = performance.now();
  const resolved = await resolveRunArg(port, id);
  if (!resolved) return undefined;
  const record = resolved.record;
  const html = renderReport(await reportData(port, store, record, now));
  const path = resolve(out ?? `report-${record.runId}.html`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, html);
  return { path, bytes: Buffer.byteLength(html), runId: record.runId, pipeline: record.pipeline, millis: performance.now() - t0 };
}

const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(2)} MB`);

/** `out` takes what goes to stdout (tests pass their own: the test runner reports on stdout). */
export async function reportCommand(args: string[], now = Date.now(), out: (s: string) => void = (s) => void process.stdout.write(s)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { out: { type: 'string', short: 'o' }, home: homeOption, ...backendOptions, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (e) {
    return usageError((e as Error).message, REPORT_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(REPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) return usageError(positionals.length ? `report takes one RUN, got ${positionals.length}` : 'report needs a RUN id (`sentinel runs` lists them)', REPORT_USAGE);
  if (values.out !== undefined && !values.out.trim()) return usageError('--out needs a file name', REPORT_USAGE);
  const history = await openHistory(values, openHome);
  if (!history) return 1;
  // A deployed stack's history reads S3 through its own store; the local home is files.
  const store = (history as Partial<{ store: Reader }>).store ?? new LocalObjectStore();
  let written;
  try {
    written = await writeReport(history, store, positionals[0]!, values.out, now);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!err.syscall) throw e; // not a file-system failure (an AWS one is said by main's guard)
    process.stderr.write(`sentinel: could not write the report${err.path ? ` to ${err.path}` : ''}: ${err.message}\n`);
    return 1;
  }
  if (!written) return 1;
  out(`Wrote the report of ${written.pipeline} run ${written.runId}: ${written.path} (${size(written.bytes)}, ${written.millis.toFixed(0)} ms)\n`);
  return 0;
}
