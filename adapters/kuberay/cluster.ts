// ClusterPort on Kubernetes (EKS + KubeRay): what core/interruption.ts does to a reclaimed spot node, as API calls.
// Needs exactly the spot handler's RBAC (core/kuberay/rbac.ts): nodes get/list/patch, pods list, pods/eviction
// create, and in the pipelines' namespace rayjobs list/patch.
import type { ClusterPort, EvictionResult, NodeInfo, RayPod } from '../../core/ports.js';
import { isTerminal } from '../../core/job-status.js';
import { ANNOTATIONS } from '../../core/kuberay/meta.js';
import { jobStatusFromRayJob } from '../../core/kuberay/status.js';
import type { KubeClient } from './client.js';
import { kubeFailure, toSentinelError, withRetry } from './retry.js';
import {
  clustersOfJob,
  ignoreNotFound,
  isFinished,
  listAll,
  listManagedRayJobs,
  mergePatch,
  paths,
  policyOf,
  RAY_CLUSTER_LABEL,
  RAY_POD_SELECTOR,
  selectorTerm,
  type NodeObject,
  type PodObject,
} from './kube-rest.js';

/** Next to ANNOTATIONS.interrupted ("true", what status mapping reads): why, for whoever looks at the RayJob. */
export const INTERRUPTED_REASON_ANNOTATION = `${ANNOTATIONS.interrupted}-reason`;

/**
 * A job that failed or stopped this recently on a reclaimed node may have died of the reclaim before the event was
 * handled (a state-change "terminated" arrives after the fact): it is marked too. Older finished jobs are history.
 */
const RECENTLY_ENDED_MS = 15 * 60_000;

/** Ray pods as this adapter hands them to core, which passes the same objects back to evict(). */
interface KubeRayPod extends RayPod {
  /** Already being deleted (evicted by an earlier delivery, or drained by Karpenter). */
  terminating: boolean;
}

/** The instance id in an EKS providerID, `aws:///<az>/<instance-id>`. */
export function instanceIdOf(providerID: string | undefined): string | undefined {
  const m = /^aws:\/\/\/[^/]*\/(i-[0-9a-f]+)$/.exec(providerID ?? '');
  return m?.[1];
}

/** The API server refused an eviction because a PodDisruptionBudget allows no disruption now (not API throttling). */
function isBudgetRefusal(e: unknown): boolean {
  const f = kubeFailure(e);
  if (f?.code !== 429) return false;
  return (f.status?.details?.causes ?? []).some((c) => c.reason === 'DisruptionBudget') || /disruption budget/i.test(f.status?.message ?? '');
}

export interface KubeClusterOptions {
  client: KubeClient;
  /** The pipelines' namespace: Sentinel's RayJobs and the Ray pods of their clusters live there. */
  namespace: string;
  now?: () => number;
}

export class KubeCluster implements ClusterPort {
  constructor(private readonly o: KubeClusterOptions) {}

  private get client() {
    return this.o.client;
  }

  /**
   * No field selector or well-known label carries the instance id (nodes are named after their private DNS name),
   * so the nodes are listed, page by page, and matched on providerID's last segment exactly.
   */
  async nodeForInstance(instanceId: string): Promise<NodeInfo | undefined> {
    const nodes = await this.wrap('list nodes', () => listAll<NodeObject>(this.client, paths.nodes()));
    const n = nodes.find((x) => instanceIdOf(x.spec?.providerID) === instanceId);
    return n && { name: n.metadata.name, providerID: n.spec!.providerID!, unschedulable: n.spec?.unschedulable === true };
  }

  /** What `kubectl cordon` does. A node already deleted (the instance is gone) has nothing left to cordon. */
  async cordon(node: string): Promise<void> {
    await this.wrap(`cordon node ${node}`, () => ignoreNotFound(() => mergePatch(this.client, paths.nodes(node), { spec: { unschedulable: true } })));
  }

  /**
   * Terminating pods are listed too: their clusters' jobs must still be marked (with Karpenter draining the node,
   * the pods may be terminating before this event is handled); evict() does not call the API for them again.
   */
  async rayPodsOn(node: string): Promise<RayPod[]> {
    const q = { fieldSelector: selectorTerm('spec.nodeName', node), labelSelector: RAY_POD_SELECTOR };
    const pods = await this.wrap(`list Ray pods on ${node}`, () => listAll<PodObject>(this.client, paths.pods(this.o.namespace), q));
    return pods
      .filter((p) => !isFinished(p))
      .map((p): KubeRayPod => {
        const rayCluster = p.metadata.labels?.[RAY_CLUSTER_LABEL];
        return { namespace: p.metadata.namespace, name: p.metadata.name, ...(rayCluster ? { rayCluster } : {}), terminating: !!p.metadata.deletionTimestamp };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Through the Eviction API, so PodDisruptionBudgets hold: a refusal is 'blocked', reported and not forced. The
   * pod keeps its own termination grace period (Ray gets its SIGTERM; the 2-minute notice leaves room for it).
   */
  async evict(pod: RayPod): Promise<EvictionResult> {
    if ((pod as Partial<KubeRayPod>).terminating) return 'gone';
    const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace } };
    const path = paths.eviction(pod.namespace, pod.name);
    return this.wrap(`evict pod ${pod.namespace}/${pod.name}`, () =>
      // Inside the retry: a budget's 429 is an answer, API throttling's 429 (and 5xx) are retried.
      withRetry(
        `evict ${pod.namespace}/${pod.name}`,
        async (): Promise<EvictionResult> => {
          try {
            await this.client.send('POST', path, { body });
            return 'evicted';
          } catch (e) {
            if (kubeFailure(e)?.code === 404) return 'gone';
            if (isBudgetRefusal(e)) return 'blocked';
            throw e;
          }
        },
        policyOf(this.client),
      ),
    );
  }

  /**
   * Sentinel's RayJobs on the given Ray clusters: their own cluster (status.rayClusterName) or an existing one their
   * clusterSelector names. Succeeded jobs and jobs that ended long ago are not interrupted by this node's loss.
   */
  async jobsOn(_node: string, rayClusters: string[]): Promise<string[]> {
    if (!rayClusters.length) return [];
    const wanted = new Set(rayClusters);
    const now = (this.o.now ?? Date.now)();
    const jobs = await this.wrap('list RayJobs', () => listManagedRayJobs(this.client, this.o.namespace));
    return jobs
      .filter((j) => clustersOfJob(j).some((c) => wanted.has(c)))
      .filter((j) => {
        const s = jobStatusFromRayJob(j);
        if (!isTerminal(s.state)) return true;
        return s.state !== 'SUCCEEDED' && (s.endTime === undefined || now - s.endTime < RECENTLY_ENDED_MS);
      })
      .map((j) => j.metadata.name)
      .sort();
  }

  /** Idempotent (a repeated merge patch of the same values changes nothing); a job already deleted is left alone. */
  async markInterrupted(jobId: string, reason: string): Promise<void> {
    const body = { metadata: { annotations: { [ANNOTATIONS.interrupted]: 'true', [INTERRUPTED_REASON_ANNOTATION]: reason.slice(0, 500) } } };
    await this.wrap(`mark RayJob ${jobId} interrupted`, () => ignoreNotFound(() => mergePatch(this.client, paths.ray('rayjobs', this.o.namespace, jobId), body)));
  }

  /** API failures become Sentinel's named errors (a 403 says which RBAC grant is missing). */
  private async wrap<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw toSentinelError(e, what);
    }
  }
}
