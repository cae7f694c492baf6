// Turns a job's terminal state into the waiting task's outcome: SendTaskSuccess with the stage summary read from
// result.json, or SendTaskFailure with a named error, the job's message and the tail of its log.
// At-least-once safe: without a parked token (already completed, or not ours) the event is a no-op.
// Verified: an event is only a claim. Before any callback the job is looked up on the compute port: it must exist,
// carry the labels of the run and stage its name (the token's key) stands for, and be terminal there in the state
// the event claims. The result is read from that run's own stage folder under the deployment's artifact root, never
// from a location an event names. A claim that fails a check is rejected (CompletionRejected, naming the check);
// the token stays parked for the real completion.
import type { ComputePort, ObjectStore, TaskCallbacks, TokenStore, CallbackResult } from './ports.js';
import type { StageSummary } from './model.js';
import { isTerminal, jobSeconds, stageOutcome, type JobState, type JobStatus } from './job-status.js';
import { labelsFor, parseJobName, type JobIdentity } from './names.js';
import { joinUri, resultUri } from './artifacts.js';
import { ErrorNames } from './errors.js';
import { StageResultSchema, type StageResult } from './contract.js';
import { formatIssues } from './validation.js';
import type { z } from 'zod';

export interface CompleteDeps {
  compute: ComputePort;
  tokens: TokenStore;
  callbacks: TaskCallbacks;
  store: ObjectStore;
  /** The deployment's artifact root (one per deployment): where every run's stage results are read from. */
  artifactRoot: string;
}

export type Completion = 'completed' | 'failed' | 'no-waiting-task' | 'task-gone';

/** What a job-state event claims; nothing of it is trusted until checked against the compute port. */
export interface CompletionClaim {
  jobId: string;
  state: JobState;
  identity: JobIdentity;
  /** The artifact root the publisher named, if any: only compared with the deployment's, never read from. */
  artifactRoot?: string;
}

/** Which check a claim failed. */
/** 'failure-record': a failing job's failure.json that cannot be read, breaks the contract or names another run (core/pushed-completion.ts). */
export type RejectedCheck = 'job-name' | 'identity' | 'artifact-root' | 'job-missing' | 'labels' | 'not-terminal' | 'state' | 'failure-record';

/** A completion claim the compute port does not bear out. Its message names the check and the job, never a token. */
export class CompletionRejected extends Error {
  override readonly name = 'CompletionRejected';
  constructor(
    readonly check: RejectedCheck,
    readonly jobId: string,
    message: string,
  ) {
    super(`completion of ${jobId} rejected (${check}): ${message}`);
  }
}

export interface CompletionReport {
  completion: Completion;
  /** The job as the compute port reported it (verified), when a waiting task was completed. */
  job?: JobStatus;
  identity?: JobIdentity;
}

/** Step Functions limits: error ≤ 256 chars, cause ≤ 32,768. */
const MAX_CAUSE = 32_768;
const LOG_TAIL_LINES = 30;
const IDENTITY_FIELDS = ['pipeline', 'runId', 'stage', 'attempt'] as const;
const clip = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n)}… (${s.length} characters)` : s);

/** The checks that need no lookup: the claim agrees with itself and with this deployment. Throws CompletionRejected. */
export function checkClaim(claim: CompletionClaim, deps: Pick<CompleteDeps, 'artifactRoot'>): JobIdentity {
  const reject = (check: RejectedCheck, message: string) => new CompletionRejected(check, claim.jobId, message);
  // The token is parked under the job's name, and the name is made from (pipeline, run, stage, attempt): that is the
  // identity of the task waiting on it.
  const identity = parseJobName(claim.jobId);
  if (!identity) throw reject('job-name', 'is not a stage job name');
  for (const f of IDENTITY_FIELDS) {
    if (claim.identity[f] !== identity[f]) throw reject('identity', `the event says ${f} "${clip(String(claim.identity[f]))}", the job's name says "${identity[f]}"`);
  }
  if (claim.artifactRoot !== undefined && joinUri(claim.artifactRoot) !== joinUri(deps.artifactRoot)) {
    throw reject('artifact-root', `the event names artifact root "${clip(claim.artifactRoot)}", not this deployment's`);
  }
  return identity;
}

/** Checks a claim against the compute port; returns the job as the port reports it, or throws CompletionRejected. */
export async function verifyCompletion(claim: CompletionClaim, deps: Pick<CompleteDeps, 'compute' | 'artifactRoot'>): Promise<{ job: JobStatus; identity: JobIdentity }> {
  const reject = (check: RejectedCheck, message: string) => new CompletionRejected(check, claim.jobId, message);
  const identity = checkClaim(claim, deps);
  const job = await deps.compute.get(claim.jobId);
  if (!job) throw reject('job-missing', `no such job on ${deps.compute.backend}`);
  for (const [key, want] of Object.entries(labelsFor(identity))) {
    const have = job.labels[key];
    if (have !== want) throw reject('labels', `label ${key} is ${have === undefined ? 'missing' : `"${clip(have)}"`}, not "${want}"`);
  }
  if (!isTerminal(job.state)) throw reject('not-terminal', `the event says ${claim.state}, but the job is ${job.state} on ${deps.compute.backend}`);
  if (job.state !== claim.state) throw reject('state', `the event says ${claim.state}, but the job ended ${job.state} on ${deps.compute.backend}`);
  return { job, identity };
}

export async function completeStage(claim: CompletionClaim, deps: CompleteDeps): Promise<CompletionReport> {
  // A claim at odds with itself or with this deployment is rejected even when nobody waits (a late forged copy is
  // still forged); the lookups wait until a task does.
  checkClaim(claim, deps);
  const token = await deps.tokens.get(claim.jobId);
  if (!token) return { completion: 'no-waiting-task' };
  const { job: status, identity } = await verifyCompletion(claim, deps);
  const outcome = stageOutcome(status);

  let result: CallbackResult;
  let completion: Completion;
  if (outcome.kind === 'succeeded') {
    const uri = resultUri(deps.artifactRoot, identity.pipeline, identity.runId, identity.stage);
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
  } else if (outcome.kind === 'failed') {
    const tail = await deps.compute.logs(status.jobId, LOG_TAIL_LINES).catch((e: Error) => `(logs unavailable: ${e.message})`);
    const cause = `${identity.stage} job ${status.jobId} ${status.state}: ${outcome.cause}\n--- last ${LOG_TAIL_LINES} log lines ---\n${tail}`;
    result = await deps.callbacks.failure(token, outcome.error, cause.length > MAX_CAUSE ? cause.slice(cause.length - MAX_CAUSE) : cause);
    completion = 'failed';
  } else {
    throw new CompletionRejected('not-terminal', claim.jobId, `the job is ${status.state}`); // verifyCompletion already refused it
  }
  await deps.tokens.delete(status.jobId);
  return { completion: result === 'gone' ? 'task-gone' : completion, job: status, identity };
}

/** Reads and checks a stage's result.json against the contract; says what is wrong when it does not match. */
async function readResult(store: ObjectStore, uri: string, expected: StageResult['stage']): Promise<{ ok: true; result: StageResult } | { ok: false; problem: string }> {
  const read = await readStageFile(store, uri, StageResultSchema, { missing: `wrote no result at ${uri}`, subject: 'its result' });
  if (!read.ok) return read;
  if (read.data.stage !== expected) return { ok: false, problem: `its result is for stage "${read.data.stage}", not "${expected}": ${uri}` };
  return { ok: true, result: read.data };
}

/**
 * Reads a JSON file a stage job wrote (its result, its failure record) and checks it against its contract schema;
 * says what is wrong when it is missing, not JSON or off the schema. Read errors (the store being briefly
 * unavailable) propagate, so the event is redelivered; bad content is a problem, not a throw.
 */
export async function readStageFile<T>(store: ObjectStore, uri: string, schema: z.ZodType<T>, words: { missing: string; subject: string }): Promise<{ ok: true; data: T } | { ok: false; problem: string }> {
  const text = await store.getText(uri);
  if (text === undefined) return { ok: false, problem: words.missing };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: `${words.subject} is not JSON (${(e as Error).message}): ${uri}` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: `${words.subject} breaks the stage contract: ${formatIssues(parsed.error.issues, uri)}` };
  return { ok: true, data: parsed.data };
}
