// The `Ray Job State Change` event: published by the completion watcher for each terminal job that has a task
// waiting on it, routed by the rule in patterns.ts to the completion consumer. Schema, builder and names in one place.
import { z } from 'zod';
import type { BusEvent, ComputePort } from '../core/ports.js';
import { JOB_STATES, type JobStatus } from '../core/job-status.js';
import { parseJobName } from '../core/names.js';
import { STAGES } from '../core/stages.js';

export const JOB_EVENT_SOURCE = 'sentinel.jobs';
export const JOB_EVENT_DETAIL_TYPE = 'Ray Job State Change';

/** Job and pipeline names are DNS labels (core/names.ts): nothing else can name a waiting task or a run folder. */
const JOB_ID = /^[a-z][a-z0-9-]*$/;

export const JobStateChangeDetailSchema = z
  .object({
    backend: z.enum(['ray-jobs', 'kuberay']),
    jobId: z.string().min(1).max(63).regex(JOB_ID, 'is not a stage job name'),
    pipeline: z.string().min(1).regex(JOB_ID, 'is not a pipeline name'),
    runId: z.string().regex(/^r[0-9a-f]{9}$/),
    stage: z.enum(STAGES),
    attempt: z.number().int().min(1),
    state: z.enum(JOB_STATES),
    reason: z.string().optional(),
    message: z.string().optional(),
    startTime: z.number().optional(),
    endTime: z.number().optional(),
    interrupted: z.boolean().optional(),
    /**
     * The watcher's artifact root, for whoever reads the bus. The consumer never reads a result from a location an
     * event names: it reads the run's own stage folder under its deployment's root, and rejects an event whose root
     * differs (core/complete-stage.ts).
     */
    artifactRoot: z.string().min(1),
  })
  .strict();

export type JobStateChangeDetail = z.infer<typeof JobStateChangeDetailSchema>;

export function jobStateChangeEvent(
  backend: ComputePort['backend'],
  s: JobStatus,
  artifactRoot: string,
  now: Date,
): BusEvent<JobStateChangeDetail> | undefined {
  const id = parseJobName(s.jobId);
  if (!id) return undefined;
  const detail: JobStateChangeDetail = { backend, jobId: s.jobId, ...id, state: s.state, artifactRoot };
  if (s.reason) detail.reason = s.reason;
  if (s.message) detail.message = s.message.slice(0, 2000);
  if (s.startTime) detail.startTime = s.startTime;
  if (s.endTime) detail.endTime = s.endTime;
  if (s.interrupted) detail.interrupted = true;
  return { source: JOB_EVENT_SOURCE, 'detail-type': JOB_EVENT_DETAIL_TYPE, detail, time: now.toISOString(), resources: [s.jobId] };
}

/** What an event claims about a job: core checks each part against the compute port before acting on it. */
export function claimFromDetail(d: JobStateChangeDetail) {
  return { jobId: d.jobId, state: d.state, identity: { pipeline: d.pipeline, runId: d.runId, stage: d.stage, attempt: d.attempt }, artifactRoot: d.artifactRoot };
}

/** Back from the event to a job status and identity (what the event says; not verified). */
export function jobFromDetail(d: JobStateChangeDetail) {
  const status: JobStatus = {
    jobId: d.jobId,
    state: d.state,
    labels: {},
    ...(d.reason ? { reason: d.reason } : {}),
    ...(d.message ? { message: d.message } : {}),
    ...(d.startTime ? { startTime: d.startTime } : {}),
    ...(d.endTime ? { endTime: d.endTime } : {}),
    ...(d.interrupted ? { interrupted: true } : {}),
  };
  return { status, identity: { pipeline: d.pipeline, runId: d.runId, stage: d.stage, attempt: d.attempt }, artifactRoot: d.artifactRoot };
}
