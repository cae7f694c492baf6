// Test doubles of Sentinel's own ports (not of AWS): an in-memory compute backend whose "jobs" write the result.json
// a real job would, with scriptable failures, and an in-memory serving backend.
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ComputePort, JobRequest, ServeStatus, ServingPort, TaskCallbacks, TokenStore } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import type { ServeConfig } from '../../core/serve-config.js';
import { ErrorNames, SentinelError } from '../../core/errors.js';
import type { Stage } from '../../core/stages.js';

export type Behaviour =
  | { kind: 'succeed'; metrics?: Record<string, number> }
  /** writesFailure: the job writes its failure record (failure.json) as stage_main does, then ends FAILED a moment later. */
  | { kind: 'fail'; message: string; writesFailure?: boolean }
  | { kind: 'interrupted' }
  | { kind: 'unavailable' } // submit throws ComputeUnavailable
  | { kind: 'hang' }; // never finishes (lost job)

export class FakeCompute implements ComputePort {
  readonly backend = 'ray-jobs' as const;
  readonly jobs = new Map<string, JobStatus & { req: JobRequest }>();
  readonly submits: string[] = [];
  readonly stops: string[] = [];
  /** Per stage, a queue of behaviours: one per submit attempt; the last one repeats. */
  constructor(private readonly script: Partial<Record<Stage, Behaviour[]>> = {}, private readonly jobMs = 20) {}

  private next(stage: Stage): Behaviour {
    const q = this.script[stage];
    if (!q || q.length === 0) return { kind: 'succeed' };
    return q.length > 1 ? q.shift()! : q[0]!;
  }

  async submit(req: JobRequest) {
    if (this.jobs.has(req.jobId)) return { jobId: req.jobId, created: false };
    const b = this.next(req.identity.stage);
    if (b.kind === 'unavailable') throw new SentinelError(ErrorNames.ComputeUnavailable, 'connection refused', 'fake');
    this.submits.push(req.jobId);
    const job = { jobId: req.jobId, state: 'RUNNING' as JobStatus['state'], labels: req.labels, startTime: Date.now(), req };
    this.jobs.set(req.jobId, job);
    if (b.kind !== 'hang') setTimeout(() => void this.finish(req, b), this.jobMs);
    return { jobId: req.jobId, created: true };
  }

  private async finish(req: JobRequest, b: Behaviour) {
    const job = this.jobs.get(req.jobId)!;
    if (job.state !== 'RUNNING') return;
    if (b.kind === 'succeed') {
      const input = req.input as { stage: Stage; stageUri: string };
      const result = fakeResult(input.stage, input.stageUri, b.metrics);
      await mkdir(input.stageUri, { recursive: true });
      await writeFile(`${input.stageUri}/result.json`, JSON.stringify(result));
      Object.assign(job, { state: 'SUCCEEDED', endTime: Date.now() + 1000 });
    } else if (b.kind === 'fail' && b.writesFailure) {
      const input = req.input as { pipeline: string; runId: string; stage: Stage; stageUri: string };
      const reason = b.message.split('\n').at(-1)!;
      const record = { pipeline: input.pipeline, runId: input.runId, stage: input.stage, attempt: req.identity.attempt, error: reason.split(':')[0], reason, time: new Date().toISOString() };
      await mkdir(input.stageUri, { recursive: true });
      await writeFile(`${input.stageUri}/failure.json`, JSON.stringify(record));
      setTimeout(() => Object.assign(job, { state: 'FAILED', message: b.message, endTime: Date.now() }), 30); // the process exits after its write
    } else if (b.kind === 'fail') {
      Object.assign(job, { state: 'FAILED', message: b.message, endTime: Date.now() });
    } else if (b.kind === 'interrupted') {
      Object.assign(job, { state: 'FAILED', message: 'node lost', interrupted: true, endTime: Date.now() });
    }
  }

  async get(jobId: string) {
    const j = this.jobs.get(jobId);
    if (!j) return undefined;
    const { req: _req, ...status } = j;
    return status;
  }
  async list(selector: Record<string, string>) {
    return [...this.jobs.values()]
      .filter((j) => Object.entries(selector).every(([k, v]) => j.labels[k] === v))
      .map(({ req: _req, ...s }) => s);
  }
  async logs(jobId: string) {
    return `log of ${jobId}\nTraceback: boom`;
  }
  async stop(jobId: string) {
    const j = this.jobs.get(jobId);
    this.stops.push(jobId);
    if (j && j.state === 'RUNNING') Object.assign(j, { state: 'STOPPED', endTime: Date.now() });
  }
}

/** The result.json each stage writes (docs/stage-contract.md), with overridable metrics. */
export function fakeResult(stage: Stage, stageUri: string, metrics: Record<string, number> = {}) {
  const base: Record<Stage, Record<string, number>> = {
    ingest: { rows: 569, features: 30, train_rows: 397, validation_rows: 86, test_rows: 86 },
    train: { validation_roc_auc: 0.95, iterations: 50 },
    tune: { validation_roc_auc: 0.97, trials: 4, stopped_early: 2 },
    evaluate: { candidate_roc_auc: 0.96 },
  };
  const artifacts: Record<Stage, Record<string, string>> = {
    ingest: { train: `${stageUri}/train.parquet`, validation: `${stageUri}/validation.parquet`, test: `${stageUri}/test.parquet`, manifest: `${stageUri}/manifest.json` },
    train: { model: `${stageUri}/model`, checkpoint: `${stageUri}/checkpoints` },
    tune: { model: `${stageUri}/model`, curves: `${stageUri}/curves.svg`, trials: `${stageUri}/trials.json` },
    evaluate: {},
  };
  return { stage, metrics: { ...base[stage], ...metrics }, artifacts: artifacts[stage], details: {} };
}

export class FakeServing implements ServingPort {
  readonly applied: ServeConfig[] = [];
  private current?: { runId: string };
  constructor(private readonly behaviour: 'ok' | 'fail' = 'ok') {}
  async apply(_pipeline: string, config: ServeConfig) {
    this.applied.push(config);
    this.current = { runId: config.applications[0]!.args.run_id };
  }
  async status(): Promise<ServeStatus> {
    if (!this.current) return { state: 'NOT_STARTED' };
    if (this.behaviour === 'fail') return { state: 'DEPLOY_FAILED', message: 'replica crashed', runId: this.current.runId };
    return { state: 'RUNNING', runId: this.current.runId };
  }
  endpoint(_p: string, route: string) {
    return `http://127.0.0.1:8000${route}`;
  }
}

/**
 * Compare-and-swap over an in-memory map, for test stores: the version is the JSON of the value, so any change is a
 * new version; `ifNoneMatch: '*'` creates only when absent.
 */
export function memoryCas(data: Map<string, unknown>) {
  return {
    getJsonVersioned: async <T>(uri: string) => (data.has(uri) ? { value: structuredClone(data.get(uri)) as T, version: JSON.stringify(data.get(uri)) } : undefined),
    putJsonIf: async (uri: string, value: unknown, cond: { ifMatch: string } | { ifNoneMatch: '*' }): Promise<'ok' | 'conflict'> => {
      const holds = 'ifMatch' in cond ? data.has(uri) && JSON.stringify(data.get(uri)) === cond.ifMatch : !data.has(uri);
      if (!holds) return 'conflict';
      data.set(uri, structuredClone(value));
      return 'ok';
    },
  };
}

/** Task callbacks that record each call (success, failure) and answer 'ok'. */
export class RecordingCallbacks implements TaskCallbacks {
  calls: Array<[string, ...unknown[]]> = [];
  async success(t: string, o: unknown) {
    this.calls.push(['success', t, o]);
    return 'ok' as const;
  }
  async failure(t: string, e: string, c: string) {
    this.calls.push(['failure', t, e, c]);
    return 'ok' as const;
  }
  async heartbeat() {
    return 'ok' as const;
  }
}

/** The token store in memory. */
export class MemoryTokens implements TokenStore {
  readonly map = new Map<string, string>();
  async put(j: string, t: string) {
    this.map.set(j, t);
  }
  async get(j: string) {
    return this.map.get(j);
  }
  async delete(j: string) {
    this.map.delete(j);
  }
}
