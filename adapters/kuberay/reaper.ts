// ReaperPort on Kubernetes (EKS + KubeRay): which Ray clusters Sentinel may reap, what ran on them, and the two
// actions (RayCluster spec.suspend: KubeRay deletes its pods and keeps the object; delete for a job's leftover
// ephemeral cluster). Needs, in the pipelines' namespace: rayclusters list/patch/delete, rayjobs list, rayservices
// get; cluster-wide: nodes list, pods list (core/kuberay/rbac.ts).
//
// Suspend vs. a new job on the same cluster: KubeRayCompute.submit creates the RayJob and then resumes its selected
// cluster (resumeSelectedCluster); suspend() suspends and then looks for live jobs on the cluster, resuming it if
// there is one. Whichever order the four calls interleave in, either the reaper sees the job or the submit sees the
// suspension, so a job never waits on a cluster the reaper put to sleep.
import { isKueueManaged } from '../../core/kuberay/kueue.js';
import type { ClusterActivity, RayClusterInfo, ReaperPort } from '../../core/ports.js';
import { isTerminal } from '../../core/job-status.js';
import { CLUSTER_SELECTOR_KEY, MANAGED_BY, MANAGED_BY_LABEL, PIPELINE_LABEL, RUN_LABEL, type KubeObject, type ObjectMeta } from '../../core/kuberay/meta.js';
import { jobStatusFromRayJob } from '../../core/kuberay/status.js';
import { IN_FLIGHT, IN_FLIGHT_LABEL } from '../../core/names.js';
import type { KubeClient } from './client.js';
import { isNotFound, toSentinelError } from './retry.js';
import {
  clustersOfJob,
  ignoreNotFound,
  isFinished,
  listAll,
  listManagedRayJobs,
  mergePatch,
  paths,
  RAY_POD_SELECTOR,
  selectorTerm,
  type NodeObject,
  type PodObject,
  type RayJobListed,
} from './kube-rest.js';

/** The label EKS managed node groups put on their nodes. */
export const NODEGROUP_LABEL = 'eks.amazonaws.com/nodegroup';

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

type RayClusterObject = KubeObject<{ suspend?: boolean }> & {
  metadata: ObjectMeta & { creationTimestamp?: string; ownerReferences?: OwnerReference[] };
};

const isManaged = (m: { labels?: Record<string, string> }) => m.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
/** A run's own cluster (core/kuberay/raycluster.ts): Sentinel's, labelled with its run, named after it, no owner. */
const isRunCluster = (c: RayClusterObject) => {
  const l = c.metadata.labels ?? {};
  const pipeline = l[PIPELINE_LABEL];
  const run = l[RUN_LABEL];
  return isManaged(c.metadata) && !!pipeline && !!run && c.metadata.name === `${pipeline}-${run}`;
};

/** The RayJob or RayService that owns a cluster (KubeRay sets itself as controller owner), if any. */
function ownerOf(c: RayClusterObject): OwnerReference | undefined {
  const refs = (c.metadata.ownerReferences ?? []).filter((r) => r.apiVersion.startsWith('ray.io/') && (r.kind === 'RayJob' || r.kind === 'RayService'));
  return refs.find((r) => r.controller) ?? refs[0];
}

type ResumeResult = 'resumed' | 'running' | 'missing';

async function resume(client: KubeClient, namespace: string, name: string): Promise<ResumeResult> {
  let c: RayClusterObject;
  try {
    c = await client.get<RayClusterObject>('rayclusters', namespace, name);
  } catch (e) {
    if (isNotFound(e)) return 'missing';
    throw toSentinelError(e, `RayCluster ${name}`);
  }
  // Only a suspended cluster is written: setting suspend=false where the field is absent would still bump the
  // cluster's generation and make KubeRay reconcile it for nothing.
  if (c.spec?.suspend !== true) return 'running';
  // Kueue suspends and admits it: unsuspending it here would bypass the queue's quota.
  if (isKueueManaged(c.metadata.labels)) return 'running';
  try {
    await mergePatch(client, paths.ray('rayclusters', namespace, name), { spec: { suspend: false } });
  } catch (e) {
    if (isNotFound(e)) return 'missing';
    throw toSentinelError(e, `resume RayCluster ${name}`);
  }
  return 'resumed';
}

/**
 * "The next submission resumes what it needs": a RayJob that selects an existing RayCluster the reaper suspended
 * would wait for it forever. Call after creating the RayJob (see the ordering note at the top of this file).
 */
export async function resumeSelectedCluster(client: KubeClient, namespace: string, selector: Record<string, string>): Promise<ResumeResult> {
  const name = selector[CLUSTER_SELECTOR_KEY];
  if (!name) return 'missing';
  return resume(client, namespace, name);
}

export interface KubeReaperOptions {
  client: KubeClient;
  /** The pipelines' namespace. */
  namespace: string;
}

export class KubeReaper implements ReaperPort {
  constructor(private readonly o: KubeReaperOptions) {}

  private get client() {
    return this.o.client;
  }
  private get ns() {
    return this.o.namespace;
  }

  /**
   * Sentinel's RayClusters: labelled managed-by=sentinel, or owned by one of its RayJobs/RayServices (KubeRay builds
   * those clusters; whether it copies the owner's labels onto them depends on its version, the owner reference is
   * always there). Clusters already being deleted are left out: there is nothing more to do with them.
   */
  async listRayClusters(): Promise<RayClusterInfo[]> {
    const [clusters, jobs] = await this.wrap('list RayClusters', () =>
      Promise.all([listAll<RayClusterObject>(this.client, paths.ray('rayclusters', this.ns)), listManagedRayJobs(this.client, this.ns)]),
    );
    const managedJobs = new Set(jobs.map((j) => j.metadata.uid));
    const kueueJobs = new Set(jobs.filter((j) => isKueueManaged(j.metadata.labels)).map((j) => j.metadata.uid));
    const serviceManaged = await this.managedServices(clusters.map(ownerOf).filter((r): r is OwnerReference => r?.kind === 'RayService'));
    const out: RayClusterInfo[] = [];
    for (const c of clusters) {
      if (c.metadata.deletionTimestamp) continue;
      const owner = ownerOf(c);
      const ownedByUs =
        (owner?.kind === 'RayJob' && managedJobs.has(owner.uid)) || (owner?.kind === 'RayService' && serviceManaged.has(owner.uid));
      if (!isManaged(c.metadata) && !ownedByUs) continue;
      const createdAt = Date.parse(c.metadata.creationTimestamp ?? '');
      out.push({
        name: c.metadata.name,
        namespace: this.ns,
        suspended: c.spec?.suspend === true,
        owner: owner?.kind === 'RayJob' ? 'rayjob' : owner?.kind === 'RayService' ? 'rayservice' : isRunCluster(c) ? 'run' : 'none',
        createdAt: Number.isFinite(createdAt) ? createdAt : 0,
        ...(isKueueManaged(c.metadata.labels) || (owner?.kind === 'RayJob' && kueueJobs.has(owner.uid)) ? { kueueManaged: true } : {}),
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The owning RayServices that are Sentinel's: read one by one (a pipeline has one; the Lambdas may only get them). */
  private async managedServices(refs: OwnerReference[]): Promise<Set<string>> {
    const byUid = new Map(refs.map((r) => [r.uid, r]));
    const managed = new Set<string>();
    await Promise.all(
      [...byUid.values()].map(async (r) => {
        try {
          const s = await this.client.get<KubeObject>('rayservices', this.ns, r.name);
          if (s.metadata.uid === r.uid && isManaged(s.metadata)) managed.add(r.uid);
        } catch (e) {
          if (!isNotFound(e)) throw toSentinelError(e, `RayService ${r.name}`);
        }
      }),
    );
    return managed;
  }

  /**
   * Each managed RayJob, once per cluster it runs on (once with cluster "" when it has none yet), with its state in
   * core's terms, its name and whether the watcher still has it in flight (retention leaves those alone).
   */
  async clusterActivity(): Promise<ClusterActivity[]> {
    const jobs = await this.wrap('list RayJobs', () => listManagedRayJobs(this.client, this.ns));
    return jobs.flatMap((j) => {
      const s = jobStatusFromRayJob(j);
      const clusters = clustersOfJob(j);
      const inFlight = j.metadata.labels?.[IN_FLIGHT_LABEL] === IN_FLIGHT;
      return (clusters.length ? clusters : ['']).map((cluster) => ({
        cluster,
        state: s.state,
        ...(s.endTime !== undefined ? { endTime: s.endTime } : {}),
        jobId: j.metadata.name,
        ...(inFlight ? { inFlight } : {}),
      }));
    });
  }

  /** Retention: a finished RayJob goes (Background: its cluster, if KubeRay left one, follows on its own). */
  async deleteJob(jobId: string): Promise<void> {
    await this.wrap(`delete RayJob ${jobId}`, () => ignoreNotFound(() => this.client.delete('rayjobs', this.ns, jobId, 'Background')));
  }

  async suspend(cluster: RayClusterInfo): Promise<void> {
    const gone = await this.wrap(`suspend RayCluster ${cluster.name}`, () =>
      ignoreNotFound(() => mergePatch(this.client, paths.ray('rayclusters', this.ns, cluster.name), { spec: { suspend: true } })),
    );
    if (gone) return;
    // A job submitted since the plan was made: give its cluster back (see the ordering note at the top).
    const live = (await this.wrap('list RayJobs', () => listManagedRayJobs(this.client, this.ns))).some(
      (j: RayJobListed) => clustersOfJob(j).includes(cluster.name) && !isTerminal(jobStatusFromRayJob(j).state),
    );
    if (live) await resume(this.client, this.ns, cluster.name);
  }

  /** Foreground: the RayCluster goes only after its pods, so the nodes are free when it is gone. */
  async delete(cluster: RayClusterInfo): Promise<void> {
    await this.wrap(`delete RayCluster ${cluster.name}`, () => ignoreNotFound(() => this.client.delete('rayclusters', this.ns, cluster.name, 'Foreground')));
  }

  /**
   * Ray pods on the group's nodes, in any namespace (someone else's Ray pods keep the nodes busy too). Finished pods
   * hold nothing; terminating ones still run and count.
   */
  async rayPodsInNodeGroup(nodeGroup: string): Promise<number> {
    return this.wrap(`count Ray pods in node group ${nodeGroup}`, async () => {
      const nodes = await listAll<NodeObject>(this.client, paths.nodes(), { labelSelector: selectorTerm(NODEGROUP_LABEL, nodeGroup) });
      const counts = await Promise.all(
        nodes.map(async (n) => {
          const q = { fieldSelector: selectorTerm('spec.nodeName', n.metadata.name), labelSelector: RAY_POD_SELECTOR };
          return (await listAll<PodObject>(this.client, paths.pods(), q)).filter((p) => !isFinished(p)).length;
        }),
      );
      return counts.reduce((a, b) => a + b, 0);
    });
  }

  private async wrap<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw toSentinelError(e, what);
    }
  }
}
