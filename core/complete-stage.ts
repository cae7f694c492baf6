// Turns a job's terminal state into the waiting task's outcome: SendTaskSuccess with the stage summary read from
// result.json, or SendTaskFailure with a named error, the job's message and the tail of its log.
// At-least-once safe: without a parked token (already completed, or not ours) the event is a no-op.
import type { ComputePort, ObjectStore, TaskCallbacks, TokenStore, CallbackResult } from './ports.js';
import type { StageSummary } from './model.js';
import { jobSeconds, stageOutcome, type JobStatus } from './job-status.js';
import type { JobIdentity } from './names.js';
import { resultUri } from './artifacts.js';
import { ErrorNames } from './errors.js';
import { StageResultSchema, type StageResult } from './contract.js';
import { formatIssues } from './validation.js';

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
    const read = await readResult(deps.store, uri, identity.stage);
    if (!read.ok) {
      result = await deps.callbacks.failure(token, ErrorNames.RayJobFailed, `job ${status.jobId} succeeded but ${read.problem}`);
      completion = 'failed';
    } else {
      const stage = read.result;
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

/** Reads and checks a stage's result.json against the contract; says what is wrong when it does not match. */
async function readResult(store: ObjectStore, uri: string, expected: StageResult['stage']): Promise<{ ok: true; result: StageResult } | { ok: false; problem: string }> {
  // Read errors (the store being briefly unavailable) propagate and the event is redelivered; bad content fails.
  const text = await store.getText(uri);
  if (text === undefined) return { ok: false, problem: `wrote no result at ${uri}` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: `its result is not JSON (${(e as Error).message}): ${uri}` };
  }
  const parsed = StageResultSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: `its result breaks the stage contract: ${formatIssues(parsed.error.issues, uri)}` };
  if (parsed.data.stage !== expected) return { ok: false, problem: `its result is for stage "${parsed.data.stage}", not "${expected}": ${uri}` };
  return { ok: true, result: parsed.data };
}
