// The completion watcher: list managed jobs, publish a state-change event for each terminal job that still has a
// task waiting on it, and heartbeat the waiting task of each running one (so a lost job times out its task); then
// delete each job that ended for Sentinel while its backend left it running (KubeRay's DeadlineExceeded).
import type { ComputePort, EventPublisher, TaskCallbacks, TokenStore, BusEvent } from './ports.js';
import { isTerminal } from './job-status.js';
import { jobStateChangeEvent } from '../events/job-state-change.js';

export interface WatchDeps {
  compute: ComputePort;
  tokens: TokenStore;
  callbacks: TaskCallbacks;
  publisher: EventPublisher;
  now: () => Date;
  /** Where runs keep artifacts (one root per deployment). */
  artifactRoot: string;
}

export async function watchJobs(deps: WatchDeps): Promise<{ listed: number; published: number; heartbeats: number; stopped: string[] }> {
  const jobs = await deps.compute.list({ 'app.kubernetes.io/managed-by': 'sentinel' });
  const events: BusEvent[] = [];
  let heartbeats = 0;
  for (const job of jobs) {
    const token = await deps.tokens.get(job.jobId);
    if (!token) continue; // nobody waits: already reported, or not a stage job
    if (isTerminal(job.state)) {
      const e = jobStateChangeEvent(deps.compute.backend, job, deps.artifactRoot, deps.now());
      if (e) events.push(e);
    } else {
      // A task that is gone (timed out, run stopped) no longer needs its token.
      if ((await deps.callbacks.heartbeat(token)) === 'gone') await deps.tokens.delete(job.jobId);
      else heartbeats++;
    }
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
  return { listed: jobs.length, published: events.length, heartbeats, stopped };
}
