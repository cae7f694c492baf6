// A compute backend's view of a job, and how it maps to a stage outcome and the state machine's named errors.
// Both backends speak Ray's job states (KubeRay's RayJob.status.jobStatus uses the same names).
import { ErrorNames, type ErrorName } from './errors.js';

export const JOB_STATES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: readonly JobState[] = ['SUCCEEDED', 'FAILED', 'STOPPED'];
export const isTerminal = (s: JobState) => TERMINAL_STATES.includes(s);

export interface JobStatus {
  jobId: string;
  state: JobState;
  /** Backend reason code (KubeRay: status.reason, e.g. DeadlineExceeded) if any. */
  reason?: string;
  message?: string;
  /** Epoch milliseconds. */
  startTime?: number;
  endTime?: number;
  labels: Record<string, string>;
  /** Set when the job's node was reclaimed (spot interruption handler marks it). */
  interrupted?: boolean;
  /**
   * Terminal for Sentinel, but the backend left the job itself running: KubeRay v1.7 marks a RayJob past
   * activeDeadlineSeconds Failed/DeadlineExceeded and never stops its Ray job. Whoever sees it deletes it (the
   * watcher after publishing its end, finish-run, execution-ended), which makes the operator stop the Ray job.
   */
  needsStop?: boolean;
}

export type StageOutcome =
  | { kind: 'running' }
  | { kind: 'succeeded' }
  | { kind: 'failed'; error: ErrorName; cause: string };

export function stageOutcome(s: JobStatus): StageOutcome {
  if (!isTerminal(s.state)) return { kind: 'running' };
  if (s.state === 'SUCCEEDED') return { kind: 'succeeded' };
  const detail = [s.reason, s.message].filter(Boolean).join(': ') || `job ${s.state.toLowerCase()}`;
  if (s.interrupted) return { kind: 'failed', error: ErrorNames.SpotInterrupted, cause: `node reclaimed (spot interruption); ${detail}` };
  if (s.state === 'STOPPED') return { kind: 'failed', error: ErrorNames.RayJobStopped, cause: detail };
  // Jobs report bad input as a line "ValidationFailed: <what and where>" (docs/stage-contract.md).
  const invalid = /ValidationFailed: ([^\n]+)/.exec(s.message ?? '');
  if (invalid) return { kind: 'failed', error: ErrorNames.ValidationFailed, cause: invalid[1]! };
  return { kind: 'failed', error: ErrorNames.RayJobFailed, cause: detail };
}

export const jobSeconds = (s: JobStatus) =>
  s.startTime && s.endTime && s.endTime >= s.startTime ? (s.endTime - s.startTime) / 1000 : 0;
