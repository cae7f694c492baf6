// The completion watcher: list managed jobs, publish a state-change event for each terminal job that still has a
// task waiting on it, and heartbeat the waiting task of each running one (so a lost job times out its task).
import type { ComputePort, EventPublisher, TaskCallbacks, TokenStore, BusEvent } from './ports.js';
import { isTerminal, type JobStatus } from './job-status.js';
import { parseJobName } from './names.js';

export const JOB_EVENT_SOURCE = 'sentinel.jobs';
export const JOB_EVENT_DETAIL_TYPE = 'Ray Job State Change';

export interface JobStateChangeDetail {
  backend: ComputePort['backend'];
  jobId: string;
  pipeline: string;
  runId: string;
  stage: string;
  attempt: number;
  state: JobStatus['state'];
  reason?: string;
  message?: string;
  startTime?: number;
  endTime?: number;
  interrupted?: boolean;
}

export function jobStateChangeEvent(backend: ComputePort['backend'], s: JobStatus, now: Date): BusEvent<JobStateChangeDetail> | undefined {
  const id = parseJobName(s.jobId);
  if (!id) return undefined;
  const detail: JobStateChangeDetail = { backend, jobId: s.jobId, ...id, state: s.state };
  if (s.reason) detail.reason = s.reason;
  if (s.message) detail.message = s.message.slice(0, 2000);
  if (s.startTime) detail.startTime = s.startTime;
  if (s.endTime) detail.endTime = s.endTime;
  if (s.interrupted) detail.interrupted = true;
  return { source: JOB_EVENT_SOURCE, 'detail-type': JOB_EVENT_DETAIL_TYPE, detail, time: now.toISOString(), resources: [s.jobId] };
}

export interface WatchDeps {
  compute: ComputePort;
  tokens: TokenStore;
  callbacks: TaskCallbacks;
  publisher: EventPublisher;
  now: () => Date;
}

export async function watchJobs(deps: WatchDeps): Promise<{ listed: number; published: number; heartbeats: number }> {
  const jobs = await deps.compute.list({ 'app.kubernetes.io/managed-by': 'sentinel' });
  const events: BusEvent[] = [];
  let heartbeats = 0;
  for (const job of jobs) {
    const token = await deps.tokens.get(job.jobId);
    if (!token) continue; // nobody waits: already reported, or not a stage job
    if (isTerminal(job.state)) {
      const e = jobStateChangeEvent(deps.compute.backend, job, deps.now());
      if (e) events.push(e);
    } else {
      // A task that is gone (timed out, run stopped) no longer needs its token.
      if ((await deps.callbacks.heartbeat(token)) === 'gone') await deps.tokens.delete(job.jobId);
      else heartbeats++;
    }
  }
  if (events.length) await deps.publisher.publish(events);
  return { listed: jobs.length, published: events.length, heartbeats };
}
