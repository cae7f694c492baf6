// Submits one stage as one compute job and parks the task token until the job ends.
// Idempotent: a redelivered submit finds the same job; a retry after a failed attempt gets the next attempt number,
// and the job writes into the same stage folder, so train and tune resume from their checkpoints.
import type { ComputePort, ObjectStore, TokenStore } from './ports.js';
import type { ChampionRecord, RunContext, StageSummaries } from './model.js';
import type { Stage } from './stages.js';
import { buildStageInput } from './stage-input.js';
import { jobNameFor, labelsFor } from './names.js';
import { championUri } from './artifacts.js';
import { isTerminal, stageOutcome, type JobStatus } from './job-status.js';
import { ErrorNames, SentinelError, type ErrorName } from './errors.js';

export interface SubmitDeps {
  compute: ComputePort;
  tokens: TokenStore;
  store: ObjectStore;
}

export interface Submitted {
  jobId: string;
  attempt: number;
  created: boolean;
  /** A new attempt after a failed one: that job and the error it failed with (what the retry metric counts). */
  retryOf?: { jobId: string; error: ErrorName };
}

const MAX_ATTEMPTS = 20;

export async function submitStage(
  req: { taskToken: string; stage: Stage; run: RunContext; stages?: StageSummaries },
  deps: SubmitDeps,
): Promise<Submitted> {
  const { run, stage } = req;
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
    });
    const failed = previous ? stageOutcome(previous) : undefined;
    const retryOf = previous && res.created && failed?.kind === 'failed' ? { jobId: previous.jobId, error: failed.error } : undefined;
    return { jobId, attempt, created: res.created, ...(retryOf ? { retryOf } : {}) };
  }
  throw new SentinelError(ErrorNames.RayJobFailed, `already ${MAX_ATTEMPTS} failed attempts`, `stage ${stage} of run ${run.runId}`);
}
