// What KubeRay reports, in core's terms: RayJob status → JobStatus, RayService status → ServeStatus.
import type { JobState, JobStatus } from '../job-status.js';
import type { ServeStatus } from '../ports.js';
import { ANNOTATIONS, type KubeObject } from './meta.js';

export interface RayJobStatusFields {
  jobStatus?: string;
  jobDeploymentStatus?: string;
  reason?: string;
  message?: string;
  startTime?: string;
  endTime?: string;
  jobId?: string;
  dashboardURL?: string;
  rayClusterName?: string;
}

export type RayJobObject = KubeObject<unknown, RayJobStatusFields>;

const RAY_TERMINAL = ['SUCCEEDED', 'FAILED', 'STOPPED'];
/** Reasons KubeRay gives when it stopped the job itself (core names these RayJobStopped). */
const DEADLINE_REASONS = ['DeadlineExceeded', 'PreRunningDeadlineExceeded'];

function stateOf(s: RayJobStatusFields, deleting: boolean): { state: JobState; message?: string } {
  const job = s.jobStatus ?? '';
  switch (s.jobDeploymentStatus) {
    // KubeRay's terminal deployment states: only these end a stage (jobStatus alone can lead them).
    case 'Complete':
      return { state: RAY_TERMINAL.includes(job) ? (job as JobState) : 'FAILED' };
    case 'Failed':
      if (DEADLINE_REASONS.includes(s.reason ?? '') || job === 'STOPPED') return { state: 'STOPPED' };
      return { state: 'FAILED' };
    case 'ValidationFailed':
      // The operator refused the spec; core turns a "ValidationFailed: …" message into the ValidationFailed error.
      return { state: 'FAILED', message: `ValidationFailed: ${s.message ?? 'KubeRay rejected the RayJob spec'}` };
  }
  // Being deleted (stopped by Sentinel) and not finished: it will not finish now.
  if (deleting) return { state: 'STOPPED', message: s.message ?? 'the RayJob is being deleted' };
  // Running with a terminal jobStatus: Ray is done, KubeRay has not concluded yet; not terminal for us either.
  if (s.jobDeploymentStatus === 'Running' && (job === 'RUNNING' || RAY_TERMINAL.includes(job))) return { state: 'RUNNING' };
  // New, Initializing, Waiting, Suspending, Suspended (queued by Kueue), Retrying, Running before Ray reports.
  return { state: 'PENDING' };
}

const epochMs = (t?: string) => {
  const ms = t ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

/**
 * A deadline the operator enforced by status only: v1.7 sets jobDeploymentStatus=Failed with reason DeadlineExceeded
 * (or PreRunningDeadlineExceeded) and leaves jobStatus as it was (RUNNING) and the Ray job running; only deleting the
 * RayJob makes its finalizer stop the job. Once the RayJob is being deleted there is nothing left to do.
 */
const leftRunning = (s: RayJobStatusFields, deleting: boolean) =>
  !deleting && s.jobDeploymentStatus === 'Failed' && DEADLINE_REASONS.includes(s.reason ?? '') && !RAY_TERMINAL.includes(s.jobStatus ?? '');

export function jobStatusFromRayJob(o: RayJobObject): JobStatus {
  const s = o.status ?? {};
  const deleting = Boolean(o.metadata.deletionTimestamp);
  const { state, message } = stateOf(s, deleting);
  const msg = message ?? s.message;
  const start = epochMs(s.startTime);
  const end = epochMs(s.endTime);
  return {
    jobId: o.metadata.name,
    state,
    labels: { ...(o.metadata.labels ?? {}) },
    ...(s.reason ? { reason: s.reason } : o.metadata.deletionTimestamp && state === 'STOPPED' ? { reason: 'Deleted' } : {}),
    ...(msg ? { message: msg } : {}),
    ...(start !== undefined ? { startTime: start } : {}),
    ...(end !== undefined ? { endTime: end } : {}),
    ...(o.metadata.annotations?.[ANNOTATIONS.interrupted] === 'true' ? { interrupted: true } : {}),
    ...(leftRunning(s, deleting) ? { needsStop: true } : {}),
  };
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface AppStatus {
  status?: string;
  message?: string;
}
interface ServiceStatus {
  applicationStatuses?: Record<string, AppStatus>;
  rayClusterName?: string;
}
export interface RayServiceStatusFields {
  conditions?: Condition[];
  activeServiceStatus?: ServiceStatus;
  pendingServiceStatus?: ServiceStatus;
  observedGeneration?: number;
}
export type RayServiceObject = KubeObject<unknown, RayServiceStatusFields>;

const SERVE_STATES: readonly ServeStatus['state'][] = ['NOT_STARTED', 'DEPLOYING', 'RUNNING', 'DEPLOY_FAILED', 'UNHEALTHY', 'DELETING'];
const serveState = (s?: string): ServeStatus['state'] => (SERVE_STATES.includes(s as ServeStatus['state']) ? (s as ServeStatus['state']) : 'UNKNOWN');

/**
 * `activeRunId` is the run stamped on the active Ray cluster's spec (rayservice.ts): the cluster serving traffic only
 * ever received that run's config, so its application status is that run's status. During an upgrade the new config
 * is on the pending cluster; its failure is reported (DEPLOY_FAILED) while the active run keeps serving.
 */
export function serveStatusFromRayService(
  o: RayServiceObject | undefined,
  application: string,
  activeRunId?: string,
  pendingRunId?: string,
): ServeStatus {
  if (!o) return { state: 'NOT_STARTED' };
  const s = o.status ?? {};
  const cond = (type: string) => s.conditions?.find((c) => c.type === type);
  const ready = cond('Ready');
  const upgrading = cond('UpgradeInProgress')?.status === 'True';
  const run = activeRunId ? { runId: activeRunId } : {};
  const pendingApp = s.pendingServiceStatus?.applicationStatuses?.[application];
  if (ready?.status === 'False' && ready.reason === 'ValidationFailed') {
    return { state: 'DEPLOY_FAILED', message: `KubeRay rejected the RayService: ${ready.message ?? ''}`.trim(), ...run };
  }
  if (upgrading && (pendingApp?.status === 'DEPLOY_FAILED' || pendingApp?.status === 'UNHEALTHY')) {
    return { state: 'DEPLOY_FAILED', message: `new config failed on the pending cluster${pendingApp.message ? `: ${pendingApp.message}` : ''}`, ...run };
  }
  const app = s.activeServiceStatus?.applicationStatuses?.[application];
  const pendingState = pendingApp ? serveState(pendingApp.status) : 'DEPLOYING';
  const pending = {
    state: pendingState,
    ...(pendingRunId ? { runId: pendingRunId } : {}),
    ...(pendingApp?.message ? { message: pendingApp.message } : {}),
  };
  if (!app && upgrading && s.activeServiceStatus?.rayClusterName && ready?.status === 'True') {
    // KubeRay v1.7 empties the active cluster's applicationStatuses while UpgradeInProgress=True, though that
    // cluster still serves (Ready=True): the old run is serving and the new one is pending.
    const next = pendingRunId ? `run ${pendingRunId}` : 'the new config';
    return { state: 'RUNNING', message: `upgrade in progress: ${next} is ${pendingState} on a new cluster`, ...run, pending };
  }
  if (!app) {
    // First deployment: nothing active yet; the pending cluster is coming up.
    const state = pendingApp ? serveState(pendingApp.status) : 'DEPLOYING';
    return { state: state === 'RUNNING' ? 'DEPLOYING' : state, ...(pendingApp?.message ? { message: pendingApp.message } : {}) };
  }
  let state = serveState(app.status);
  let message = app.message || undefined;
  // RUNNING in Serve but not yet reachable (no serve endpoints) is still deploying from a client's view.
  if (state === 'RUNNING' && ready && ready.status !== 'True') {
    state = 'DEPLOYING';
    message = [ready.reason, ready.message].filter(Boolean).join(': ') || message;
  }
  if (upgrading && state === 'RUNNING') message = 'upgrade in progress: the new config is deploying on a new cluster';
  return { state, ...(message ? { message } : {}), ...run, ...(upgrading ? { pending } : {}) };
}
