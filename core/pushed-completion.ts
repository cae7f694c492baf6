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
import type { Clock } from './ports.js';
import { isTerminal, type JobStatus } from './job-status.js';
import { labelsFor, parseJobName } from './names.js';
import type { Stage } from './stages.js';
import { completeStage, type CompleteDeps, type CompletionReport } from './complete-stage.js';

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
  const identity = parseJobName(job.jobId)!;

  const started = deps.clock.now();
  const deadline = started + (deps.settleMs ?? DEFAULT_SETTLE_MS);
  let seen: JobStatus | undefined = job;
  for (let wait = FIRST_LOOK_MS; seen && !isTerminal(seen.state) && deps.clock.now() < deadline; wait = Math.min(wait * 2, MAX_LOOK_MS)) {
    await deps.clock.sleep(Math.min(wait, Math.max(0, deadline - deps.clock.now())));
    seen = await deps.compute.get(job.jobId);
  }
  const settledMs = deps.clock.now() - started;
  // The claim is the port's own terminal state once there is one; until then "it succeeded", which verification
  // refuses while the job runs (not-terminal), or when it is gone (job-missing).
  const state = seen && isTerminal(seen.state) ? seen.state : 'SUCCEEDED';
  const report = await completeStage({ jobId: job.jobId, state, identity }, deps);
  return { ...report, jobId: job.jobId, settledMs };
}
