// Builds a LocalRuntime in a temp folder with the given compute/serving, plus the reference spec and a dataset.
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { LocalRuntime, type LocalRuntimeOptions } from '../../local/runtime.js';
import type { ComputePort, ServingPort } from '../../core/ports.js';
import { startRun } from '../../core/start-run.js';
import type { PipelineSpecInput } from '../../core/spec.js';
import { STAGES, stateNameFor } from '../../core/stages.js';

export const repoRoot = join(import.meta.dirname, '..', '..');

export function referenceSpec(): PipelineSpecInput {
  return parse(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8')) as PipelineSpecInput;
}

/** Retry pauses shortened to 10 ms on every state that retries. */
export const fastRetries: Record<string, number | number[]> = {
  ...Object.fromEntries([...STAGES.map(stateNameFor), 'Gate', 'Promote'].map((s) => [s, 10])),
  // PrepareRun's retriers: Lambda's transient errors, then RunQueued (a queued run asks again every 100 ms: its
  // 293 attempts cover about 30 s of other runs, more than a fake-compute run takes).
  PrepareRun: [10, 100],
};

export function harness(compute: ComputePort, serving: ServingPort, extra: Partial<LocalRuntimeOptions> = {}) {
  const home = mkdtempSync(join(tmpdir(), 'sentinel-test-'));
  const bucket = join(home, 'bucket');
  const artifactRoot = join(bucket, 'artifacts');
  const datasetUri = join(bucket, 'datasets', 'breast-cancer', 'data.csv');
  mkdirSync(join(bucket, 'datasets', 'breast-cancer'), { recursive: true });
  writeFileSync(datasetUri, 'a,b,target\n1,2,0\n3,4,1\n');
  // "Deployed" pipelines: specs where start-run looks them up by name.
  mkdirSync(join(bucket, 'pipelines'), { recursive: true });
  writeFileSync(join(bucket, 'pipelines', 'breast-cancer.yaml'), readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml')));
  const runtime = new LocalRuntime({
    home,
    bucketUri: bucket,
    artifactRoot,
    compute,
    serving,
    watchIntervalMs: 10,
    retryIntervalOverrides: fastRetries,
    logFile: join(home, 'handlers.log'),
    ...extra,
  });
  const start = async (requestId: string, spec: PipelineSpecInput = referenceSpec(), dataset = datasetUri) => {
    const res = await startRun(
      { spec, trigger: { kind: 'manual', requestId }, artifactRoot, datasetUri: dataset },
      { executions: runtime.executionsPort, now: () => new Date() },
    );
    const execution = runtime.execution(res.executionName)!;
    return { ...res, execution, outcome: await execution.result };
  };
  const cleanup = async () => {
    await runtime.close();
    rmSync(home, { recursive: true, force: true });
  };
  /** Waits until every execution started so far has finished. */
  const settle = async () => {
    for (;;) {
      const all = [...(runtime as unknown as { executions: Map<string, { result: Promise<unknown> }> }).executions.values()];
      await Promise.all(all.map((e) => e.result));
      await runtime.queue.drained();
      await runtime.interruptions.drained();
      const after = (runtime as unknown as { executions: Map<string, unknown> }).executions.size;
      if (after === all.length) return all.length;
    }
  };
  return { runtime, home, bucket, artifactRoot, datasetUri, start, cleanup, settle };
}

export const statesEntered = (events: Array<{ type: string; state?: { name: string } }>) =>
  events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name);
