// The completion watcher, the safety net for jobs that end without their completion being pushed (OOM, a lost
// node): list the jobs in flight, publish a state-change event for each terminal job that still has a task waiting
// on it, and heartbeat the waiting task of each running one (so a lost job times out its task); then delete each job
// that ended for Sentinel while its backend left it running (KubeRay's DeadlineExceeded).
// A terminal job nobody waits on any more (its completion consumed, its task gone) is settled: it leaves the
// in-flight list, so a tick costs one token lookup per stage in flight, not one per job ever run.
// Deployed, the watcher is armed (core/arming.ts) and re-arms itself only while something is still in flight.
import type { ComputePort, EventPublisher, TaskCallbacks, TokenStore, BusEvent } from './ports.js';
import { isTerminal } from './job-status.js';
import { jobStateChangeEvent } from '../events/job-state-change.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from './kuberay/meta.js';
import { armWatcher, tryArm, type Armed, type WatcherArming } from './arming.js';

export interface WatchDeps {
  compute: ComputePort;
  tokens: TokenStore;
  callbacks: TaskCallbacks;
  publisher: EventPublisher;
  now: () => Date;
  /** Where runs keep artifacts (one root per deployment). */
  artifactRoot: string;
  /** Deployed: re-arm the watcher's one-time schedule while stages are in flight. Absent: the caller loops (local). */
  rearm?: WatcherArming;
}

export interface WatchResult {
  listed: number;
  published: number;
  heartbeats: number;
  stopped: string[];
  /** Ended jobs nobody waits on, taken off the in-flight list this tick. */
  settled: number;
  /** Jobs still in flight after this tick (running, or ended with a task still waiting). */
  inFlight: number;
  /** The next tick armed (deployed, something still in flight), or why it could not be. */
  rearmed?: Armed;
}

export async function watchJobs(deps: WatchDeps): Promise<WatchResult> {
  const selector = { [MANAGED_BY_LABEL]: MANAGED_BY };
  const jobs = deps.compute.listInFlight ? await deps.compute.listInFlight(selector) : await deps.compute.list(selector);
  const events: BusEvent[] = [];
  const settle: string[] = [];
  let heartbeats = 0;
  let inFlight = 0;
  for (const job of jobs) {
    const token = await deps.tokens.get(job.jobId);
    if (!token) {
      // Nobody waits: already reported (pushed, or by an earlier tick) or not a stage job. Ended: settled. Running
      // without a task (its run stopped): still in flight until execution-ended or finish-run deletes it.
      if (isTerminal(job.state)) settle.push(job.jobId);
      else inFlight++;
      continue;
    }
    inFlight++;
    if (isTerminal(job.state)) {
      // Reported again each tick until the consumer completes the task and drops the token (then settled).
      const e = jobStateChangeEvent(deps.compute.backend, job, deps.artifactRoot, deps.now());
      if (e) events.push(e);
    } else if ((await deps.callbacks.heartbeat(token)) === 'gone') {
      // A task that is gone (timed out, run stopped) no longer needs its token.
      await deps.tokens.delete(job.jobId);
    } else heartbeats++;
  }
  if (events.length) await deps.publisher.publish(events);
  // After its end is published (so the waiting task learns why), a job the backend left running past its deadline
  // is deleted: KubeRay stops the Ray job only then. Token or not: a reported one may still be running.
  const stopped: string[] = [];
  for (const job of jobs) {
    if (!job.needsStop) continue;
    await deps.compute.stop(job.jobId);
    stopped.push(job.jobId);
  }
  let settled = 0;
  if (deps.compute.settle) {
    for (const jobId of settle) {
      if (stopped.includes(jobId)) continue; // deleted: nothing to settle
      await deps.compute.settle(jobId);
      settled++;
    }
  }
  const res: WatchResult = { listed: jobs.length, published: events.length, heartbeats, stopped, settled, inFlight };
  // Nothing in flight: no next tick. The next submit arms the watcher again.
  if (deps.rearm && inFlight > 0) res.rearmed = await tryArm(() => armWatcher(deps.rearm!, deps.now()));
  return res;
}
