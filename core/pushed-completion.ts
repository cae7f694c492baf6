// The pushed completion: a stage job's own write of its result.json (S3 Object Created, or the local store's same
// event) completes the task waiting on it, without waiting for the watcher's next pass.
//
// The event is only a claim that a stage of a run finished. It names no job and no attempt (the key is the stage
// folder's), so the job is found on the compute port by the stage's labels, and the waiting one (a parked token) is
// the one completed. The job writes its result last and then exits: the backend reports it terminal a moment later
// (the Ray job's driver exits; KubeRay's operator reconciles), so the job is looked up again for up to `settleMs`.
// Then core/complete-stage.ts verifies and answers exactly as for the watcher's event: a job that is still running
// when the wait ends is rejected (CompletionRejected, not-terminal), and nothing is completed; a forged write for an
// unfinished job completes nothing. The outcome is the port's: success reads the result from the run's own stage
// folder, a job that ended FAILED or STOPPED anyway fails its task with the named error. Duplicates find no token.
//
// A failing job writes its failure record instead (failure.json, core/contract.ts StageFailureSchema), best effort,
// just before it exits non-zero. The record names the attempt, so the job is exactly `<pipeline>-<runId>-<stage>-
// <attempt>`: a late write of an earlier attempt names that attempt's job, whose task was answered long ago (no token),
// and never fails a later attempt. The record is read from the run's own stage folder under the deployment's artifact
// root (never from a location the event names) and must be for the run and stage of its key. It is a claim like any
// other: the port decides. The same wait for the job to be reported terminal; a job still running when it ends is
// rejected (not-terminal) and nothing is failed; a job that ended FAILED fails its task with the error the port
// reports (e.g. ValidationFailed naming the column, from the job's own last line), not the record's words.
import type { Clock } from './ports.js';
import { isTerminal, type JobStatus } from './job-status.js';
import { jobNameFor, labelsFor, parseJobName, type JobIdentity } from './names.js';
import type { Stage } from './stages.js';
import { completeStage, CompletionRejected, readStageFile, type CompleteDeps, type CompletionReport } from './complete-stage.js';
import { failureUri } from './artifacts.js';
import { StageFailureSchema, type StageFailure } from './contract.js';

export interface PushedCompletionDeps extends CompleteDeps {
  clock: Clock;
  /** How long a job that wrote its result may take to be reported terminal (default 20 s). */
  settleMs?: number;
}

/** What an Object Created of a stage's result.json says: this stage of this run wrote its result. */
export interface StageResultWrite {
  pipeline: string;
  runId: string;
  stage: Stage;
}

export interface PushedCompletionReport extends CompletionReport {
  /** The job the write was matched to (the stage's attempt with a waiting task). */
  jobId?: string;
  /** How long the job took, after the event arrived, to be reported terminal. */
  settledMs?: number;
}

/** Ray Tune's teardown after its result took 13 s on the loaded 2-core machine; KubeRay's status adds up to 3 s. */
export const DEFAULT_SETTLE_MS = 20_000;
const FIRST_LOOK_MS = 25;
/** Looks at most this far apart: a look is one GET (a RayJob on EKS, a Ray job locally); ≤ 10 a second. */
const MAX_LOOK_MS = 100;

export async function completeFromResultWrite(write: StageResultWrite, deps: PushedCompletionDeps): Promise<PushedCompletionReport> {
  // The stage's jobs on the port (one per attempt); the one a task waits on is the one the write completes.
  const jobs = await deps.compute.list(labelsFor(write));
  const waiting: Array<{ job: JobStatus; attempt: number }> = [];
  for (const job of jobs) {
    const id = parseJobName(job.jobId);
    if (!id || id.pipeline !== write.pipeline || id.runId !== write.runId || id.stage !== write.stage) continue;
    if (await deps.tokens.get(job.jobId)) waiting.push({ job, attempt: id.attempt });
  }
  if (waiting.length === 0) return { completion: 'no-waiting-task' };
  // Attempts of a stage run one after another: the latest is the one running now.
  const { job } = waiting.reduce((a, b) => (b.attempt > a.attempt ? b : a));
  // Until the port reports an end, the claim is "it succeeded".
  return settleAndComplete(job.jobId, job, parseJobName(job.jobId)!, 'SUCCEEDED', deps);
}

/** What an Object Created of a stage's failure.json says: this stage of this run wrote a failure record. */
export type StageFailureWrite = StageResultWrite;

export interface PushedFailureReport extends PushedCompletionReport {
  /** The record as read from the run's stage folder (what the job said; the outcome is the port's). */
  record?: StageFailure;
}

/**
 * A failing job's own write of its failure record: fails the task of the attempt the record names, once the port
 * reports that job terminal, with the port's outcome. A record that cannot be read, breaks the contract or speaks
 * for another run or stage is rejected (CompletionRejected 'failure-record'); an attempt nobody waits on (an
 * older attempt's late write, a duplicate) completes nothing.
 */
export async function completeFromFailureWrite(write: StageFailureWrite, deps: PushedCompletionDeps): Promise<PushedFailureReport> {
  const uri = failureUri(deps.artifactRoot, write.pipeline, write.runId, write.stage);
  const record = await readFailureRecord(deps, uri, write);
  const identity: JobIdentity = { pipeline: record.pipeline, runId: record.runId, stage: record.stage, attempt: record.attempt };
  const jobId = jobNameFor(identity.pipeline, identity.runId, identity.stage, identity.attempt);
  if (!(await deps.tokens.get(jobId))) return { completion: 'no-waiting-task', jobId, record };
  // Gone from the port: completeStage's verification rejects it (job-missing) and the token stays for the watcher.
  const report = await settleAndComplete(jobId, await deps.compute.get(jobId), identity, 'FAILED', deps);
  return { ...report, record };
}

/** Reads a stage's failure.json from the run's own folder; throws CompletionRejected saying what is wrong. */
async function readFailureRecord(deps: PushedCompletionDeps, uri: string, write: StageFailureWrite): Promise<StageFailure> {
  const reject = (message: string) => new CompletionRejected('failure-record', `${write.pipeline}-${write.runId}-${write.stage}`, message);
  // Read errors (the store briefly unavailable) propagate: the message is redelivered.
  const read = await readStageFile(deps.store, uri, StageFailureSchema, { missing: `no failure record at ${uri}`, subject: 'the failure record' });
  if (!read.ok) throw reject(read.problem);
  for (const f of ['pipeline', 'runId', 'stage'] as const) {
    if (read.data[f] !== write[f]) throw reject(`the failure record at ${uri} says ${f} "${read.data[f]}", its key says "${write[f]}"`);
  }
  return read.data;
}

/**
 * Looks the job up until the port reports it terminal (for up to settleMs, ≤ 10 looks a second), then completes it
 * through core/complete-stage.ts with the port's own terminal state as the claim, or `claim` while it still runs,
 * which verification refuses (not-terminal), or when it is gone (job-missing).
 */
async function settleAndComplete(jobId: string, first: JobStatus | undefined, identity: JobIdentity, claim: 'SUCCEEDED' | 'FAILED', deps: PushedCompletionDeps): Promise<PushedCompletionReport> {
  const started = deps.clock.now();
  const deadline = started + (deps.settleMs ?? DEFAULT_SETTLE_MS);
  let seen = first;
  for (let wait = FIRST_LOOK_MS; seen && !isTerminal(seen.state) && deps.clock.now() < deadline; wait = Math.min(wait * 2, MAX_LOOK_MS)) {
    await deps.clock.sleep(Math.min(wait, Math.max(0, deadline - deps.clock.now())));
    seen = await deps.compute.get(jobId);
  }
  const settledMs = deps.clock.now() - started;
  const state = seen && isTerminal(seen.state) ? seen.state : claim;
  const report = await completeStage({ jobId, state, identity }, deps);
  return { ...report, jobId, settledMs };
}
