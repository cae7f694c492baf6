// An execution that ended early: Step Functions' `Execution Status Change` (ABORTED, TIMED_OUT, FAILED) for the
// pipeline's state machine (events/patterns.ts executionEndedPattern) → this. Nothing in the state machine runs
// after a StopExecution or an execution timeout, so without this the run's Ray jobs keep running and its run.json
// says RUNNING forever. It deletes every job of the run that is still going (or that its backend left running past
// a deadline), drops their task tokens, and records the end in run.json with when and why. Idempotent: a run
// already recorded as ended keeps its record (a FAILED execution after RecordFailure is the normal failed path),
// and a redelivered event finds nothing left to stop.
import { z } from 'zod';
import type { BusEvent, ComputePort, EventPublisher, ObjectStore, TokenStore } from './ports.js';
import { endRunCompute, type RunComputeEnded } from './run-compute.js';
import type { RunRecord } from './model.js';
import { runRecordUri } from './artifacts.js';
import { isTerminal } from './job-status.js';
import { releaseRunSlot } from './run-slots.js';
import { RUN_ID_PATTERN } from './run-id.js';
import { runEvent } from '../events/run-events.js';

export const EXECUTION_END_STATUSES = ['ABORTED', 'TIMED_OUT', 'FAILED'] as const;
export type ExecutionEndStatus = (typeof EXECUTION_END_STATUSES)[number];

/** The detail of `Step Functions Execution Status Change` as far as this reads it (AWS adds fields over time). */
export const ExecutionStatusChangeDetailSchema = z
  .object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    name: z.string().min(1),
    status: z.enum(EXECUTION_END_STATUSES),
    startDate: z.number().nullish(),
    stopDate: z.number().nullish(),
    /** The execution's input as a JSON string (absent when too large for the event). */
    input: z.string().nullish(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  })
  .passthrough();
export type ExecutionStatusChangeDetail = z.infer<typeof ExecutionStatusChangeDetailSchema>;

export interface ExecutionEndedDeps {
  compute: ComputePort;
  tokens: TokenStore;
  store: ObjectStore;
  /** The deployment's artifact root, for an execution whose input is not in the event. */
  artifactRoot: string;
  publisher?: EventPublisher;
  now: () => Date;
}

export interface ExecutionEnded {
  pipeline?: string;
  runId?: string;
  stoppedJobs: string[];
  /** What ending the run released on the compute backend (ComputePort.endRun). */
  runEnded?: RunComputeEnded;
  /** What run.json says now: recorded by this call, already ended before it, or no run (rejected input). */
  record: 'recorded' | 'already-ended' | 'no-run';
  status?: string;
}

/** The run an execution is about: its input's `run` when present, else its name (`<pipeline>-<runId>`). */
export function runOfExecution(d: ExecutionStatusChangeDetail, artifactRoot: string): { pipeline: string; runId: string; artifactRoot: string } | undefined {
  if (d.input) {
    try {
      const run = (JSON.parse(d.input) as { run?: { pipeline?: unknown; runId?: unknown; artifactRoot?: unknown } }).run;
      if (run && typeof run.pipeline === 'string' && typeof run.runId === 'string' && RUN_ID_PATTERN.test(run.runId)) {
        return { pipeline: run.pipeline, runId: run.runId, artifactRoot: typeof run.artifactRoot === 'string' ? run.artifactRoot : artifactRoot };
      }
    } catch {
      // not JSON: fall back to the name
    }
  }
  const m = /^([a-z][a-z0-9-]*)-(r[0-9a-f]{9})$/.exec(d.name);
  return m ? { pipeline: m[1]!, runId: m[2]!, artifactRoot } : undefined;
}

const ERROR_OF: Record<ExecutionEndStatus, string> = { ABORTED: 'ExecutionAborted', TIMED_OUT: 'States.Timeout', FAILED: 'States.Runtime' };
const WHY: Record<ExecutionEndStatus, string> = {
  ABORTED: 'the execution was stopped (StopExecution)',
  TIMED_OUT: 'the execution timed out',
  FAILED: 'the execution failed before the run was recorded',
};

export async function executionEnded(d: ExecutionStatusChangeDetail, deps: ExecutionEndedDeps): Promise<ExecutionEnded> {
  const run = runOfExecution(d, deps.artifactRoot);
  if (!run) return { stoppedJobs: [], record: 'no-run' };
  const stoppedJobs: string[] = [];
  const jobs = await deps.compute.list({ 'sentinel.dev/pipeline': run.pipeline, 'sentinel.dev/run': run.runId });
  for (const job of jobs) {
    await deps.tokens.delete(job.jobId); // nobody waits any more: the watcher must not report it
    if (!isTerminal(job.state) || job.needsStop) {
      await deps.compute.stop(job.jobId);
      stoppedJobs.push(job.jobId);
    }
  }

  // Its jobs stopped, the run's own compute goes too (KubeRay: the run's RayCluster); an error leaves it to the reaper.
  const runEnded = await endRunCompute(deps.compute, run);
  // Ended: its run slot, or its place in the queue (an execution stopped while queued), goes to the next run.
  await releaseRunSlot(run.artifactRoot, run.pipeline, run.runId, deps).catch(() => false);
  const uri = runRecordUri(run.artifactRoot, run.pipeline, run.runId);
  const before = await deps.store.getJson<RunRecord>(uri);
  const base = { pipeline: run.pipeline, runId: run.runId, stoppedJobs, runEnded };
  // No record: the input was rejected before PrepareRun (nothing started) — nothing to record.
  if (!before) return { ...base, record: 'no-run' };
  if (before.status !== 'RUNNING') return { ...base, record: 'already-ended', status: before.status };

  const at = new Date(d.stopDate ?? deps.now().getTime()).toISOString();
  const error = d.error || ERROR_OF[d.status];
  const cause = (d.cause || WHY[d.status]).slice(0, 2000);
  const ended = { by: 'execution-ended', at, reason: `${d.status}: ${error}: ${cause}`.slice(0, 2000) };
  // ABORTED is a stop on request (cancel, console, StopExecution): CANCELLED; a timeout or failure is FAILED.
  const status = d.status === 'ABORTED' ? 'CANCELLED' : 'FAILED';
  const record = {
    ...before,
    status,
    endedAt: at,
    outcome: { error, cause, stage: d.status },
    ended,
  } satisfies Omit<RunRecord, 'status'> & { status: string; ended: typeof ended };
  await deps.store.putJson(uri, record);
  if (deps.publisher) {
    const e: BusEvent = runEvent('failed', { pipeline: run.pipeline, runId: run.runId, startedAt: before.startedAt, endedAt: at, error, cause, stage: d.status }, deps.now());
    await deps.publisher.publish([e]);
  }
  return { ...base, record: 'recorded', status };
}
