// The few REST shapes the cluster-side adapters (cluster.ts, reaper.ts) need beyond KubeClient's ray.io helpers:
// core-API paths (nodes, pods, evictions), merge patches, and lists that follow `continue` to the end. Everything
// goes through KubeClient.send inside withRetry, so these calls are counted and retried like every other.
//
// Merge patch (not KubeClient.patch's JSON Patch): "set this field/annotation" is then one idempotent request that
// works whether or not the parent map (metadata.annotations, spec.suspend) exists yet; a JSON Patch `add` into an
// absent map is refused.
import type { KubeClient, ListPage } from './client.js';
import { DEFAULT_RETRY, kubeFailure, withRetry, type RetryPolicy } from './retry.js';
import { CLUSTER_SELECTOR_KEY, MANAGED_BY, MANAGED_BY_LABEL, RAY_GROUP, RAY_VERSION } from '../../core/kuberay/meta.js';
import type { RayJobObject } from '../../core/kuberay/status.js';

const enc = encodeURIComponent;
const MERGE_PATCH = 'application/merge-patch+json';

export const paths = {
  nodes: (name?: string) => `/api/v1/nodes${name ? `/${enc(name)}` : ''}`,
  /** Pods of one namespace, or of all namespaces when none is given. */
  pods: (namespace?: string) => (namespace ? `/api/v1/namespaces/${enc(namespace)}/pods` : '/api/v1/pods'),
  eviction: (namespace: string, pod: string) => `/api/v1/namespaces/${enc(namespace)}/pods/${enc(pod)}/eviction`,
  ray: (plural: 'rayjobs' | 'rayclusters' | 'rayservices', namespace: string, name?: string) =>
    `/apis/${RAY_GROUP}/${RAY_VERSION}/namespaces/${enc(namespace)}/${plural}${name ? `/${enc(name)}` : ''}`,
};

/**
 * The client's retry policy. The Lambdas' client (functions/aws/deps.ts) is a proxy that connects on first call and
 * turns every property into an async method, so `retry` is not a policy object there: fall back to the default.
 */
export const policyOf = (client: KubeClient): RetryPolicy => (client.retry && typeof client.retry === 'object' ? client.retry : DEFAULT_RETRY);

/** Label/field selectors are built from names the code or the deployment owns; refuse anything that would change their meaning. */
const SELECTOR_SAFE = /^[A-Za-z0-9._/-]+$/;
export function selectorTerm(key: string, value: string): string {
  if (!SELECTOR_SAFE.test(key) || !SELECTOR_SAFE.test(value)) throw new Error(`"${key}=${value}" is not a selector term`);
  return `${key}=${value}`;
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
}

/**
 * Every item of a list, page by page. A continue token older than etcd's compaction window answers 410 Gone: the
 * list starts over (bounded), as a partial list would silently miss objects.
 */
export async function listAll<T>(client: KubeClient, path: string, q: ListQuery = {}, pageSize = 500): Promise<T[]> {
  for (let restart = 0; ; restart++) {
    const items: T[] = [];
    let token: string | undefined;
    try {
      do {
        const query = { ...q, limit: pageSize, continue: token };
        const page = await withRetry(`list ${path}`, () => client.send<ListPage<T>>('GET', path, { query }), policyOf(client));
        items.push(...(page.items ?? []));
        token = page.metadata?.continue || undefined;
      } while (token);
      return items;
    } catch (e) {
      if (kubeFailure(e)?.code === 410 && restart < 2) continue;
      throw e;
    }
  }
}

export function mergePatch<T>(client: KubeClient, path: string, body: unknown): Promise<T> {
  return withRetry(`patch ${path}`, () => client.send<T>('PATCH', path, { query: { fieldManager: 'sentinel' }, body, contentType: MERGE_PATCH }), policyOf(client));
}

/** Runs a write whose target may already be gone; true when it was (404), which the callers count as done. */
export async function ignoreNotFound(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return false;
  } catch (e) {
    if (kubeFailure(e)?.code === 404) return true;
    throw e;
  }
}

/** The bits of Node and Pod objects the adapters read. */
export interface NodeObject {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { providerID?: string; unschedulable?: boolean };
}

export interface PodObject {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

/** KubeRay's labels on every Ray pod (head and workers). */
export const RAY_NODE_LABEL = 'ray.io/is-ray-node';
export const RAY_CLUSTER_LABEL = 'ray.io/cluster';
export const RAY_POD_SELECTOR = `${RAY_NODE_LABEL}=yes`;

/** A pod that has finished holds no resources and has nothing left to evict. */
export const isFinished = (p: PodObject) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** A RayJob as listed: status for the state, spec.clusterSelector for jobs on an existing cluster. */
export type RayJobListed = RayJobObject & { spec?: { clusterSelector?: Record<string, string> } };

/** Sentinel's RayJobs in its namespace (label app.kubernetes.io/managed-by=sentinel). */
export const listManagedRayJobs = (client: KubeClient, namespace: string) =>
  listAll<RayJobListed>(client, paths.ray('rayjobs', namespace), { labelSelector: selectorTerm(MANAGED_BY_LABEL, MANAGED_BY) });

/**
 * The RayClusters a job runs on: the one KubeRay recorded (status.rayClusterName: its own ephemeral cluster, or the
 * selected one once KubeRay has seen the job) and the one its clusterSelector names (before KubeRay has).
 */
export function clustersOfJob(j: RayJobListed): string[] {
  const names = [j.status?.rayClusterName, j.spec?.clusterSelector?.[CLUSTER_SELECTOR_KEY]].filter((n): n is string => !!n);
  return [...new Set(names)];
}
