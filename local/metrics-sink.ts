// Locally, the control plane's metrics land beside what they measure. The handlers' EMF lines (real Powertools
// output, functions/lib/metrics.ts) come here instead of stdout: a line that carries a run id goes to that run's
// folder, <artifactRoot>/<pipeline>/<runId>/metrics.jsonl; the rest (watcher, reaper, interruptions, handler errors
// outside a run) to <home>/metrics.jsonl. Files are CloudWatch EMF, one JSON object per line, as a deployed function
// logs them, so the same reader (readMetrics) serves the run summary now and `sentinel status` later.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runUri } from '../core/artifacts.js';
import type { ControlPlaneDigest } from '../core/run-history.js';
import { Dimension, RunMetadata, SERVICE_DIMENSION, type MetricName } from '../core/metrics.js';

export const METRICS_FILE = 'metrics.jsonl';
/** The control-plane file outside runs is rotated (to metrics.1.jsonl) once it passes this size. */
const ROTATE_BYTES = 5 * 1024 * 1024;

export const runMetricsFile = (artifactRoot: string, pipeline: string, runId: string) => join(runUri(artifactRoot, pipeline, runId), METRICS_FILE);

export class RunFolderMetricsSink {
  readonly controlPlaneFile: string;

  constructor(private readonly o: { artifactRoot: string; home: string }) {
    this.controlPlaneFile = join(o.home, METRICS_FILE);
    if (existsSync(this.controlPlaneFile) && statSync(this.controlPlaneFile).size > ROTATE_BYTES) {
      renameSync(this.controlPlaneFile, join(o.home, METRICS_FILE.replace('.jsonl', '.1.jsonl')));
    }
  }

  /** Where a line goes: its run's folder when it names one, else the control-plane file. */
  fileFor(line: string): string {
    try {
      const emf = JSON.parse(line) as Record<string, unknown>;
      const pipeline = emf[RunMetadata.pipeline];
      const runId = emf[RunMetadata.runId];
      // Both come from validated events (pipeline names and run ids are path-safe); checked again before use as a path.
      if (typeof pipeline === 'string' && typeof runId === 'string' && /^[a-z0-9-]{1,24}$/.test(pipeline) && /^r[0-9a-f]{9}$/.test(runId)) {
        return runMetricsFile(this.o.artifactRoot, pipeline, runId);
      }
    } catch {
      /* not JSON: keep it with the control plane's lines */
    }
    return this.controlPlaneFile;
  }

  /** Synchronous: a line is on disk before the handler that emitted it returns. */
  write(line: string): void {
    const file = this.fileFor(line);
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, `${line}\n`);
  }
}

/** One metric value as read back from an EMF line. */
export interface MetricPoint {
  name: string;
  unit: string;
  value: number;
  /** Dimension values (without `service`). */
  dimensions: Record<string, string>;
  runId?: string;
  timestamp: number;
}

interface EmfLine {
  _aws?: { Timestamp?: number; CloudWatchMetrics?: Array<{ Dimensions?: string[][]; Metrics?: Array<{ Name: string; Unit: string }> }> };
  [k: string]: unknown;
}

/** Every metric value in an EMF file (missing file: none). Lines that are not EMF are skipped. */
export function readMetrics(file: string): MetricPoint[] {
  if (!existsSync(file)) return [];
  const points: MetricPoint[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let emf: EmfLine;
    try {
      emf = JSON.parse(line) as EmfLine;
    } catch {
      continue;
    }
    for (const directive of emf._aws?.CloudWatchMetrics ?? []) {
      const dimensions: Record<string, string> = {};
      for (const key of directive.Dimensions?.flat() ?? []) if (key !== SERVICE_DIMENSION && typeof emf[key] === 'string') dimensions[key] = emf[key] as string;
      for (const m of directive.Metrics ?? []) {
        const raw = emf[m.Name];
        for (const value of Array.isArray(raw) ? raw : [raw]) {
          if (typeof value !== 'number') continue;
          points.push({ name: m.Name, unit: m.Unit, value, dimensions, ...(typeof emf[RunMetadata.runId] === 'string' ? { runId: emf[RunMetadata.runId] as string } : {}), timestamp: emf._aws?.Timestamp ?? 0 });
        }
      }
    }
  }
  return points;
}

/** What one run's metrics say, for the run summary (and `sentinel status`): core's digest, read from its file. */
export type RunMetricsDigest = ControlPlaneDigest & { file: string };

export function runMetricsDigest(file: string): RunMetricsDigest {
  const points = readMetrics(file);
  const values = (name: MetricName) => points.filter((p) => p.name === name);
  const sum = (name: MetricName) => values(name).reduce((t, p) => t + p.value, 0);
  const countBy = (name: MetricName, dim: string) => {
    const out: Record<string, number> = {};
    for (const p of values(name)) out[p.dimensions[dim] ?? '?'] = (out[p.dimensions[dim] ?? '?'] ?? 0) + p.value;
    return out;
  };
  const stageSeconds: Partial<Record<string, number>> = {};
  for (const p of values('StageDuration')) stageSeconds[p.dimensions[Dimension.Stage] ?? '?'] = p.value;
  const latency = values('CompletionLatency').map((p) => p.value);
  const run = values('RunDuration').at(-1);
  return {
    file,
    points: points.length,
    ...(run ? { runSeconds: run.value } : {}),
    ...(sum('RunsFailed') ? { status: 'FAILED' as const } : sum('RunsSucceeded') ? { status: 'SUCCEEDED' as const } : {}),
    stageSeconds,
    attempts: sum('StageAttempts'),
    retries: countBy('StageRetries', Dimension.ErrorName),
    ...(latency.length ? { completionLatency: { count: latency.length, meanSeconds: latency.reduce((a, b) => a + b, 0) / latency.length, maxSeconds: Math.max(...latency) } } : {}),
    promoted: sum('Promotions') > 0,
    championKept: sum('ChampionsKept') > 0,
    errors: countBy('HandlerErrors', Dimension.ErrorName),
  };
}
