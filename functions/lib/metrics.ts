// Powertools Metrics for every handler: CloudWatch EMF, one line per set of dimension values, published when the
// invocation ends (handler.ts). In Lambda the lines go to stdout, which is the function's log and where CloudWatch
// extracts the metrics; outside Lambda the local runtime installs a sink (local/metrics-sink.ts writes each run's
// lines into its folder). Names, units and dimensions come from core/metrics.ts and nowhere else.
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logger } from './logger.js';
import { LOCAL_STAGE, METRICS, NAMESPACE_ENV, RunMetadata, SERVICE, metricsNamespace, type DimensionsOf, type MetricName, type RunRef } from '../../core/metrics.js';

export const metrics = new Metrics({ namespace: process.env[NAMESPACE_ENV] || metricsNamespace(LOCAL_STAGE), serviceName: SERVICE, logger });

/** What a handler records during one invocation. Values are published when the invocation ends. */
export interface MetricRecorder {
  /** One value of a metric with its own dimensions; the run it belongs to travels as EMF metadata (not dimensions). */
  add<M extends MetricName>(name: M, value: number, dimensions: DimensionsOf<M>, run?: RunRef): void;
}

interface Group {
  dimensions: Record<string, string>;
  run?: RunRef;
  values: Array<[MetricName, number]>;
}

/** The values one invocation recorded, grouped by dimension values: each group becomes one EMF line. */
export class InvocationMetrics implements MetricRecorder {
  private readonly groups = new Map<string, Group>();

  add<M extends MetricName>(name: M, value: number, dimensions: DimensionsOf<M>, run?: RunRef): void {
    if (!Number.isFinite(value)) return; // a NaN duration (clock skew, missing time) is no data point
    const dims = { ...(dimensions as Record<string, string>) };
    // Only the two ids: a RunContext passed as `run` must not bring its spec along.
    const ref = run ? { pipeline: run.pipeline, runId: run.runId } : undefined;
    const key = JSON.stringify([Object.entries(dims).sort(), ref?.pipeline ?? null, ref?.runId ?? null]);
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { dimensions: dims, ...(ref ? { run: ref } : {}), values: [] }));
    g.values.push([name, value]);
  }

  get size() {
    return this.groups.size;
  }

  /** Synchronous, so concurrent invocations never interleave on the shared Powertools instance. */
  publish(): void {
    for (const g of this.groups.values()) {
      for (const [k, v] of Object.entries(g.dimensions)) metrics.addDimension(k, v);
      if (g.run) {
        metrics.addMetadata(RunMetadata.pipeline, g.run.pipeline);
        metrics.addMetadata(RunMetadata.runId, g.run.runId);
      }
      for (const [name, value] of g.values) metrics.addMetric(name, METRICS[name].unit, value);
      metrics.publishStoredMetrics();
    }
    this.groups.clear();
  }
}

let sinkInstalled = false;

/**
 * Sends EMF lines to `write` instead of stdout (the local runtime; tests). Returns the undo. The metrics instance's
 * console is Powertools' one output seam (the same one local/runtime.ts uses for the logger); the lines are the real
 * serializer's output. Powertools' ColdStart metric is left out while a sink is installed: it is published through a
 * separate instance that always writes to stdout, and in-process handlers have no cold starts.
 */
export function useMetricsSink(write: (line: string) => void): () => void {
  const seam = metrics as unknown as { console: Console };
  const previous = seam.console;
  // Writes complete synchronously, so a line is with the sink before the invocation returns.
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) write(line);
      done();
    },
  });
  seam.console = new Console({ stdout: stream, stderr: stream });
  sinkInstalled = true;
  return () => {
    seam.console = previous;
    sinkInstalled = false;
  };
}

export const coldStartMetricEnabled = () => !sinkInstalled;
