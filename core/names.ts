// Names of compute objects. Ray job submission ids and Kubernetes object names come from here, so both backends
// agree and a stage's job can be found again from (pipeline, run, stage, attempt) alone.
import type { Stage } from './stages.js';
import { RUN_ID_PATTERN } from './run-id.js';
import { quoted, validationFailed } from './errors.js';

/**
 * KubeRay derives the RayCluster name from the RayJob name plus a suffix and checks the length, so RayJob names stay
 * within 47 characters (stricter than the API server's 253); they are also DNS-1035 labels (start with a letter),
 * which Service names derived from them require.
 */
export const MAX_JOB_NAME = 47;
const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function jobNameFor(pipeline: string, runId: string, stage: Stage, attempt: number): string {
  if (!RUN_ID_PATTERN.test(runId)) throw validationFailed(`${quoted(runId)} is not a run id`, 'runId');
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > 99) throw validationFailed(`${quoted(attempt)} is out of range 1-99`, 'attempt');
  const name = `${pipeline}-${runId}-${stage}-${attempt}`;
  if (name.length > MAX_JOB_NAME || !DNS1035.test(name)) throw validationFailed(`${quoted(name)} is not a valid job name`, 'pipeline');
  return name;
}

export interface JobIdentity {
  pipeline: string;
  runId: string;
  stage: Stage;
  attempt: number;
}

/** Inverse of jobNameFor: pipeline names may contain '-', so parse from the right. */
export function parseJobName(name: string): JobIdentity | undefined {
  const m = /^([a-z][a-z0-9-]*)-(r[0-9a-f]{9})-(ingest|train|tune|evaluate)-([0-9]{1,2})$/.exec(name);
  if (!m) return undefined;
  return { pipeline: m[1]!, runId: m[2]!, stage: m[3] as Stage, attempt: Number(m[4]) };
}

/** Labels put on every object Sentinel creates (Kubernetes labels; Ray job metadata locally). */
export function labelsFor(id: Omit<JobIdentity, 'attempt'> & { attempt?: number }): Record<string, string> {
  const labels: Record<string, string> = {
    'app.kubernetes.io/managed-by': 'sentinel',
    'sentinel.dev/pipeline': id.pipeline,
    'sentinel.dev/run': id.runId,
    'sentinel.dev/stage': id.stage,
  };
  if (id.attempt !== undefined) labels['sentinel.dev/attempt'] = String(id.attempt);
  return labels;
}

/**
 * The run's own Ray cluster (KubeRay: one RayCluster per run, every stage's RayJob selects it). Named like the run's
 * execution, `<pipeline>-<runId>`: shorter than any of its jobs' names, so within KubeRay's 53 for a RayCluster.
 */
export function runClusterNameFor(pipeline: string, runId: string): string {
  if (!RUN_ID_PATTERN.test(runId)) throw validationFailed(`${quoted(runId)} is not a run id`, 'runId');
  const name = `${pipeline}-${runId}`;
  if (name.length > MAX_JOB_NAME || !DNS1035.test(name)) throw validationFailed(`${quoted(name)} is not a valid cluster name`, 'pipeline');
  return name;
}

/** Labels of an object that belongs to a whole run rather than one stage (the run's Ray cluster). */
export function runLabelsFor(pipeline: string, runId: string): Record<string, string> {
  return { 'app.kubernetes.io/managed-by': 'sentinel', 'sentinel.dev/pipeline': pipeline, 'sentinel.dev/run': runId };
}

/**
 * On each RayJob while it is in flight ("true" from creation; "false" once the watcher has seen it end and nobody
 * waits on it): the watcher lists by this label, so its cost follows the stages in flight, not every job ever run.
 * Not part of labelsFor: a job's identity does not change when it settles.
 */
export const IN_FLIGHT_LABEL = 'sentinel.dev/in-flight';
export const IN_FLIGHT = 'true';
export const SETTLED = 'false';
