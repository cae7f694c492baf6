// What the cluster-side entries (handle-interruption, reap-idle) add to deps.ts: the ClusterPort/ReaperPort over the
// same lazily connected Kubernetes client, EKS node groups, and their settings. Nothing does I/O at module init.
// Not a Lambda entry (infra/bundles.ts skips it).
//
// Settings, as infra/functions.ts sets them (deps.ts ENV; test/infra checks the two agree):
//   SENTINEL_NAMESPACE                  the pipelines' namespace
//   SENTINEL_IDLE_TIMEOUT_MINUTES       idle time before a Ray cluster is suspended/deleted (> 0)
//   SENTINEL_SCALE_TO_ZERO_NODEGROUPS   comma list of managed node groups the reaper may scale to zero (may be empty)
//   SENTINEL_NODE_HANDLING              true/false: cordon + evict on a spot warning; false where Karpenter (or the
//                                       node termination handler) already drains, so jobs are only marked.
//                                       Optional, default true: infra deploys the handler only when it handles nodes.
import type { ClusterPort, NodeGroupsPort, ReaperPort } from '../../core/ports.js';
import { KubeCluster } from '../../adapters/kuberay/cluster.js';
import { KubeReaper } from '../../adapters/kuberay/reaper.js';
import { EksNodeGroups } from '../../adapters/aws/eks-nodegroups.js';
import { ENV, eks, env, kubeClient, lazy } from './deps.js';

export const NODE_HANDLING_ENV = 'SENTINEL_NODE_HANDLING';

type Env = Record<string, string | undefined>;

/** true/false only: a typo must not silently turn node handling off (or on). */
export function parseBool(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`${name} must be "true" or "false" (got "${value}")`);
}

export function nodeHandling(e: Env = process.env): boolean {
  return parseBool(NODE_HANDLING_ENV, e[NODE_HANDLING_ENV], true);
}

export function idleMs(e: Env = process.env): number {
  const raw = e[ENV.idleTimeoutMinutes];
  const minutes = Number(raw);
  if (raw === undefined || raw === '' || !(minutes > 0) || !Number.isFinite(minutes)) throw new Error(`${ENV.idleTimeoutMinutes} must be a number of minutes > 0 (got "${raw ?? ''}")`);
  return minutes * 60_000;
}

/** EKS node group names: 1–63 letters, digits, - and _, starting with a letter or digit. */
const NODEGROUP = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
export function managedNodeGroups(e: Env = process.env): string[] {
  const groups = (e[ENV.scaleToZeroNodeGroups] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = groups.filter((g) => !NODEGROUP.test(g));
  if (bad.length) throw new Error(`${ENV.scaleToZeroNodeGroups}: not node group names: ${bad.join(', ')}`);
  return [...new Set(groups)];
}

const cache = new Map<string, unknown>();
function once<T>(key: string, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}

export const clusterPort = (): ClusterPort => once('cluster', () => lazy(() => new KubeCluster({ client: kubeClient(), namespace: env(ENV.namespace) })));
export const reaperPort = (): ReaperPort => once('reaper', () => lazy(() => new KubeReaper({ client: kubeClient(), namespace: env(ENV.namespace) })));
export const nodeGroupsPort = (): NodeGroupsPort =>
  once('nodegroups', () => lazy(() => new EksNodeGroups(eks(), env(ENV.clusterName))));
