// Submits one stage as one compute job and parks the task token until the job ends.
// Idempotent: a redelivered submit finds the same job; a retry after a failed attempt gets the next attempt number,
// and the job writes into the same stage folder, so train and tune resume from their checkpoints.
import type { ComputePort, ObjectStore, RunStageShape, TaskCallbacks, TokenStore } from './ports.js';
import type { ChampionRecord, RunContext, StageSummaries, StageSummary } from './model.js';
import { STAGES, type Stage } from './stages.js';
import { buildStageInput } from './stage-input.js';
import { jobNameFor, labelsFor } from './names.js';
import { championUri, joinUri, resultUri, stageUri } from './artifacts.js';
import { StageResultSchema } from './contract.js';
import { isTerminal, stageOutcome, type JobStatus } from './job-status.js';
import { ErrorNames, SentinelError, type ErrorName } from './errors.js';

export interface SubmitDeps {
  compute: ComputePort;
  tokens: TokenStore;
  store: ObjectStore;
  /** Completes a reused stage's task at once (a resumed run); needed only when the run input reuses stages. */
  callbacks?: TaskCallbacks;
}

export interface Submitted {
  jobId: string;
  attempt: number;
  created: boolean;
  /** A new attempt after a failed one: that job and the error it failed with (what the retry metric counts). */
  retryOf?: { jobId: string; error: ErrorName };
  /** A resumed run's stage that was not run again: the run whose result it reused. */
  reusedFrom?: string;
  /** Checkpoint objects copied from the resumed run's stage folder before the first attempt. */
  checkpointsCopied?: number;
}

const MAX_ATTEMPTS = 20;

/** Every stage's resources and Ray workers: what a cluster shared by the run (cluster mode `run`) sizes for. */
export function runStagesOf(spec: RunContext['spec']): RunStageShape[] {
  const t = spec.stages;
  return STAGES.map((stage) => ({
    stage,
    resources: t[stage].resources,
    workers: stage === 'train' ? t.train.numWorkers : stage === 'tune' ? t.tune.maxConcurrent : 1,
  }));
}

export async function submitStage(
  req: { taskToken: string; stage: Stage; run: RunContext; stages?: StageSummaries },
  deps: SubmitDeps,
): Promise<Submitted> {
  const { run, stage } = req;
  const reused = run.resume?.reuse[stage];
  if (reused) return reuseStage(req.taskToken, stage, run, reused, deps);
  const champion = stage === 'evaluate' ? await deps.store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline)) : undefined;
  const input = buildStageInput(run, stage, req.stages, champion);
  const spec = run.spec.stages[stage];

  let previous: JobStatus | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const jobId = jobNameFor(run.pipeline, run.runId, stage, attempt);
    const existing = await deps.compute.get(jobId);
    if (existing && (existing.state === 'FAILED' || existing.state === 'STOPPED')) {
      previous = existing; // an earlier attempt
      continue;
    }
    // Token first: a job that ends at once must still find someone waiting.
    await deps.tokens.put(jobId, req.taskToken);
    if (existing && (!isTerminal(existing.state) || existing.state === 'SUCCEEDED')) {
      return { jobId, attempt, created: false }; // duplicate delivery: the watcher reports this job's end
    }
    const identity = { pipeline: run.pipeline, runId: run.runId, stage, attempt };
    const checkpointsCopied = attempt === 1 && !existing ? await copyCheckpoints(run, stage, deps.store) : undefined;
    const res = await deps.compute.submit({
      jobId,
      identity,
      module: spec.module,
      input: { ...input },
      ...(run.spec.code ? { pythonPath: run.spec.code } : {}),
      resources: spec.resources,
      timeoutSeconds: spec.timeoutSeconds,
      image: run.spec.image,
      cluster: run.spec.cluster,
      labels: labelsFor(identity),
      runStages: runStagesOf(run.spec),
    });
    const failed = previous ? stageOutcome(previous) : undefined;
    const retryOf = previous && res.created && failed?.kind === 'failed' ? { jobId: previous.jobId, error: failed.error } : undefined;
    return { jobId, attempt, created: res.created, ...(retryOf ? { retryOf } : {}), ...(checkpointsCopied ? { checkpointsCopied } : {}) };
  }
  throw new SentinelError(ErrorNames.RayJobFailed, `already ${MAX_ATTEMPTS} failed attempts`, `stage ${stage} of run ${run.runId}`);
}

/** A resumed run's finished stage: its earlier result.json becomes this task's output; no job runs. */
async function reuseStage(taskToken: string, stage: Stage, run: RunContext, uri: string, deps: SubmitDeps): Promise<Submitted> {
  const from = run.resume!.from;
  if (!deps.callbacks) throw new SentinelError(ErrorNames.ValidationFailed, 'this deployment cannot complete a reused stage (submit-stage has no task callbacks)', `run.resume.reuse.${stage}`);
  const raw = await deps.store.getJson(uri);
  const parsed = StageResultSchema.safeParse(raw);
  if (!parsed.success || parsed.data.stage !== stage) {
    throw new SentinelError(ErrorNames.ValidationFailed, `${uri} is not a ${stage} result (resume from ${from} without reusing ${stage})`, `run.resume.reuse.${stage}`);
  }
  // The result is copied into this run's own stage folder, so the resumed run's records are complete on their own
  // (status, report, a later resume of it); its artifacts stay the earlier run's (immutable), as the result names them.
  const copy = resultUri(run.artifactRoot, run.pipeline, run.runId, stage);
  if (copy !== uri) await deps.store.putJson(copy, raw); // as read: nothing the schema does not know is dropped
  const summary: StageSummary = {
    stage,
    jobId: jobNameFor(run.pipeline, from, stage, 1),
    attempt: 0,
    resultUri: copy,
    metrics: parsed.data.metrics,
    artifacts: parsed.data.artifacts,
    details: { ...(parsed.data.details ?? {}), reusedFrom: from },
    jobSeconds: 0,
  };
  await deps.callbacks.success(taskToken, summary);
  return { jobId: summary.jobId, attempt: 0, created: false, reusedFrom: from };
}

/** Before a resumed stage's first attempt: the earlier run's checkpoints go where this run's job looks for them. */
async function copyCheckpoints(run: RunContext, stage: Stage, store: ObjectStore): Promise<number | undefined> {
  const from = run.resume?.checkpoints[stage];
  if (!from || !store.copyPrefix) return undefined;
  return store.copyPrefix(joinUri(from, 'checkpoints'), joinUri(stageUri(run.artifactRoot, run.pipeline, run.runId, stage), 'checkpoints'));
}
