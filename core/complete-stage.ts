// Turns a job's terminal state into the waiting task's outcome: SendTaskSuccess with the stage summary read from
// result.json, or SendTaskFailure with a named error, the job's message and the tail of its log.
// At-least-once safe: without a parked token (already completed, or not ours) the event is a no-op.
import type { ComputePort, ObjectStore, TaskCallbacks, TokenStore, CallbackResult } from './ports.js';
import type { StageResult, StageSummary } from './model.js';
import { jobSeconds, stageOutcome, type JobStatus } from './job-status.js';
import type { JobIdentity } from './names.js';
import { resultUri } from './artifacts.js';
import { ErrorNames } from './errors.js';

export interface CompleteDeps {
  compute: ComputePort;
  tokens: TokenStore;
  callbacks: TaskCallbacks;
  store: ObjectStore;
}

export type Completion = 'completed' | 'failed' | 'no-waiting-task' | 'still-running' | 'task-gone';

/** Step Functions limits: error ≤ 256 chars, cause ≤ 32,768. */
const MAX_CAUSE = 32_768;
const LOG_TAIL_LINES = 30;

export async function completeStage(
  job: { status: JobStatus; identity: JobIdentity; artifactRoot: string },
  deps: CompleteDeps,
): Promise<Completion> {
  const { status, identity } = job;
  const token = await deps.tokens.get(status.jobId);
  if (!token) return 'no-waiting-task';
  const outcome = stageOutcome(status);
  if (outcome.kind === 'running') return 'still-running';

  let result: CallbackResult;
  let completion: Completion;
  if (outcome.kind === 'succeeded') {
    const uri = resultUri(job.artifactRoot, identity.pipeline, identity.runId, identity.stage);
    const stage = await deps.store.getJson<StageResult>(uri);
    if (!stage) {
      result = await deps.callbacks.failure(token, ErrorNames.RayJobFailed, `job ${status.jobId} succeeded but wrote no result at ${uri}`);
      completion = 'failed';
    } else {
      const summary: StageSummary = {
        stage: identity.stage,
        jobId: status.jobId,
        attempt: identity.attempt,
        resultUri: uri,
        metrics: stage.metrics,
        artifacts: stage.artifacts,
        ...(stage.details ? { details: stage.details } : {}),
        jobSeconds: jobSeconds(status),
      };
      result = await deps.callbacks.success(token, summary);
      completion = 'completed';
    }
  } else {
    const tail = await deps.compute.logs(status.jobId, LOG_TAIL_LINES).catch((e: Error) => `(logs unavailable: ${e.message})`);
    const cause = `${identity.stage} job ${status.jobId} ${status.state}: ${outcome.cause}\n--- last ${LOG_TAIL_LINES} log lines ---\n${tail}`;
    result = await deps.callbacks.failure(token, outcome.error, cause.length > MAX_CAUSE ? cause.slice(cause.length - MAX_CAUSE) : cause);
    completion = 'failed';
  }
  await deps.tokens.delete(status.jobId);
  return result === 'gone' ? 'task-gone' : completion;
}
