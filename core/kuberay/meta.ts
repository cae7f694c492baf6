// Shared vocabulary of the KubeRay manifests: API coordinates, Sentinel's annotation keys, object shapes and the
// spec hash that makes submissions idempotent. Plain data only: no Kubernetes client here.
import { createHash } from 'node:crypto';

export const RAY_GROUP = 'ray.io';
export const RAY_VERSION = 'v1';
export const RAY_API_VERSION = `${RAY_GROUP}/${RAY_VERSION}`;

/** The env var that carries a stage's input (docs/stage-contract.md); same name on both compute backends. */
export { STAGE_INPUT_ENV } from '../stage-input.js';

export const ANNOTATIONS = {
  /** Hash of what was requested: a repeated submit with the same hash is the same job. */
  specHash: 'sentinel.dev/spec-hash',
  /** Set to "true" by the spot interruption handler on a job whose node was reclaimed. */
  interrupted: 'sentinel.dev/interrupted',
  /** The run whose model a RayService (and the Ray cluster built for it) serves. */
  run: 'sentinel.dev/run',
} as const;

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'sentinel';
export const PIPELINE_LABEL = 'sentinel.dev/pipeline';
export const RUN_LABEL = 'sentinel.dev/run';

/** KubeRay's key in RayJob.spec.clusterSelector: the name of the RayCluster to run on (the only key v1.7 reads). */
export const CLUSTER_SELECTOR_KEY = 'ray.io/cluster';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  generation?: number;
  deletionTimestamp?: string;
  uid?: string;
}

export interface KubeObject<Spec = Record<string, unknown>, Status = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
}

/** JSON with object keys sorted, so equal values hash equally whatever order their keys were built in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const specHash = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
