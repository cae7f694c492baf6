// The interruption handler's view of one machine: the local Ray head is a single "node" backed by a pretend spot
// instance; its "Ray pods" are the stage jobs running on it. Evicting stops the job through the Ray Jobs API, as a
// reclaimed node would kill it. Marks live in memory and surface through InterruptibleCompute (on EKS they are an
// annotation on the RayJob).
import type { ClusterActivity, ClusterPort, ComputePort, JobRequest, NodeGroupsPort, NodeInfo, RayClusterInfo, RayPod, ReaperPort } from '../core/ports.js';
import { isTerminal, type JobStatus } from '../core/job-status.js';

/** The instance id `sentinel simulate spot` interrupts. */
export const LOCAL_INSTANCE_ID = 'i-0000000000000000a';
export const LOCAL_NODE = 'local-ray-head';

export class InterruptibleCompute implements ComputePort {
  readonly marked = new Map<string, string>();
  constructor(private readonly inner: ComputePort) {}
  get backend() {
    return this.inner.backend;
  }
  private mark = (s: JobStatus): JobStatus => (this.marked.has(s.jobId) ? { ...s, interrupted: true } : s);
  submit(req: JobRequest) {
    return this.inner.submit(req);
  }
  async get(jobId: string) {
    const s = await this.inner.get(jobId);
    return s && this.mark(s);
  }
  async list(selector: Record<string, string>) {
    return (await this.inner.list(selector)).map(this.mark);
  }
  logs(jobId: string, tail: number) {
    return this.inner.logs(jobId, tail);
  }
  stop(jobId: string) {
    return this.inner.stop(jobId);
  }
  async endRun(run: { pipeline: string; runId: string }) {
    return this.inner.endRun ? this.inner.endRun(run) : { deleted: [] };
  }
}

export class LocalCluster implements ClusterPort {
  private unschedulable = false;
  constructor(private readonly compute: InterruptibleCompute) {}

  async nodeForInstance(instanceId: string): Promise<NodeInfo | undefined> {
    if (instanceId !== LOCAL_INSTANCE_ID) return undefined;
    return { name: LOCAL_NODE, providerID: `aws:///local/${LOCAL_INSTANCE_ID}`, unschedulable: this.unschedulable };
  }
  async cordon() {
    this.unschedulable = true;
  }
  private async running() {
    return (await this.compute.list({ 'app.kubernetes.io/managed-by': 'sentinel' })).filter((j) => !isTerminal(j.state));
  }
  async rayPodsOn(): Promise<RayPod[]> {
    return (await this.running()).map((j) => ({ namespace: 'local', name: j.jobId }));
  }
  async evict(pod: RayPod) {
    await this.compute.stop(pod.name);
    return 'evicted' as const;
  }
  async jobsOn() {
    return (await this.running()).map((j) => j.jobId);
  }
  async markInterrupted(jobId: string, reason: string) {
    this.compute.marked.set(jobId, reason);
  }
  /** A new spot node replaces the reclaimed one. */
  uncordon() {
    this.unschedulable = false;
  }
}

/**
 * The reaper's view of one machine: the local Ray head is one cluster. It "serves" while a Serve application is
 * deployed, so it is never reaped then. Suspending it is recorded and published, not enacted (the same head runs
 * this very command); on EKS the reaper sets RayCluster spec.suspend. No managed node groups exist locally.
 */
export class LocalReaper implements ReaperPort {
  suspended = false;
  constructor(
    private readonly compute: ComputePort,
    private readonly serving: () => Promise<boolean>,
    private readonly startedAt: number,
  ) {}
  async listRayClusters(): Promise<RayClusterInfo[]> {
    return [{ name: LOCAL_NODE, namespace: 'local', suspended: this.suspended, owner: (await this.serving()) ? 'rayservice' : 'none', createdAt: this.startedAt }];
  }
  async clusterActivity(): Promise<ClusterActivity[]> {
    return (await this.compute.list({ 'app.kubernetes.io/managed-by': 'sentinel' })).map((j) => ({ cluster: LOCAL_NODE, state: j.state, ...(j.endTime ? { endTime: j.endTime } : {}) }));
  }
  async suspend() {
    this.suspended = true;
  }
  async delete() {
    this.suspended = true;
  }
  async rayPodsInNodeGroup() {
    return 0;
  }
}

export const noNodeGroups: NodeGroupsPort = { desiredSize: async () => 0, scaleToZero: async () => undefined };
