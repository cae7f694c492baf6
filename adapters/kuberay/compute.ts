// ComputePort over KubeRay: one RayJob per stage attempt, interchangeable with the Ray Jobs REST backend
// (adapters/ray/jobs-compute.ts): same job ids, same idempotency, same states.
//
// logs(): a pointer, not the log text. In HTTPMode there is no submitter pod whose log holds the driver output, and
// the driver's log lives on the Ray head, reachable only inside the cluster network. What the Lambda can give is
// where to look (RayJob, Ray job id, dashboard) plus KubeRay's status message, which for a failed job carries Ray's
// own message including the tail of the driver's log.
import type { ComputePort, JobRequest, RunEnded } from '../../core/ports.js';
import { runClusterNameFor, runLabelsFor } from '../../core/names.js';
import { runClusterFor, type RayClusterManifest, type RunClusterOptions } from '../../core/kuberay/raycluster.js';
import type { JobStatus } from '../../core/job-status.js';
import { ErrorNames, SentinelError } from '../../core/errors.js';
import { ANNOTATIONS, CLUSTER_SELECTOR_KEY, type KubeObject } from '../../core/kuberay/meta.js';
import { rayJobFor, type RayJobManifest, type RayJobOptions } from '../../core/kuberay/rayjob.js';
import { jobStatusFromRayJob, type RayJobObject } from '../../core/kuberay/status.js';
import type { KubeClient } from './client.js';
import { isAlreadyExists, isNotFound, kubeFailure, toSentinelError } from './retry.js';
import { resumeSelectedCluster } from './reaper.js';
import { mergePatch, paths } from './kube-rest.js';
import { IN_FLIGHT, IN_FLIGHT_LABEL, SETTLED } from '../../core/names.js';

const RAYJOBS = 'rayjobs';
const RAYCLUSTERS = 'rayclusters';
type RayClusterObject = KubeObject;

export interface KubeRayComputeOptions extends Partial<Omit<RayJobOptions, 'namespace'>>, Pick<RunClusterOptions, 'workerIdleSeconds'> {
  client: KubeClient;
  namespace: string;
  /** Page size of list() (the API server's limit/continue pagination). */
  pageSize?: number;
}

/** Label selectors are built from label maps the code owns; refuse anything that would change the selector's meaning. */
const SELECTOR_SAFE = /^[A-Za-z0-9._/-]*$/;
function labelSelector(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => {
      if (!k || !SELECTOR_SAFE.test(k) || !SELECTOR_SAFE.test(v)) throw new SentinelError(ErrorNames.ValidationFailed, `"${k}=${v}" is not a label selector term`, 'selector');
      return `${k}=${v}`;
    })
    .join(',');
}

export class KubeRayCompute implements ComputePort {
  readonly backend = 'kuberay' as const;
  constructor(private readonly o: KubeRayComputeOptions) {}

  private get client() {
    return this.o.client;
  }
  private get ns() {
    return this.o.namespace;
  }

  /** The manifest submit() creates (for rendering and tests). */
  manifestFor(req: JobRequest): RayJobManifest {
    return rayJobFor(req, { ...this.o, namespace: this.ns });
  }

  /** The run's RayCluster a `run`-mode request's job selects (for rendering and tests). */
  runClusterFor(req: JobRequest): RayClusterManifest {
    return runClusterFor(req, { ...this.o, namespace: this.ns });
  }

  async submit(req: JobRequest) {
    const manifest = this.manifestFor(req);
    // The run's cluster first: the job selects it, and KubeRay would wait on a cluster that is not there.
    if (req.cluster.mode === 'run') await this.ensureRunCluster(req);
    try {
      if (req.cluster.mode === 'existing') await this.requireCluster(req.cluster.selector[CLUSTER_SELECTOR_KEY]!);
      await this.client.create(RAYJOBS, this.ns, manifest);
      // After the create, not before: reaper.ts explains why this order never strands a job on a suspended cluster.
      if (req.cluster.mode === 'existing') await resumeSelectedCluster(this.client, this.ns, req.cluster.selector);
      return { jobId: req.jobId, created: true };
    } catch (e) {
      if (!isAlreadyExists(e)) throw toSentinelError(e, `RayJob ${req.jobId}`);
    }
    // A redelivered submit, or a concurrent one that won the race: the same request is the same job.
    const existing = await this.read(req.jobId);
    const want = manifest.metadata.annotations[ANNOTATIONS.specHash];
    if (existing && existing.metadata.annotations?.[ANNOTATIONS.specHash] === want) {
      // The first submit may have died between create and resume: resuming again is idempotent.
      if (req.cluster.mode === 'existing') await resumeSelectedCluster(this.client, this.ns, req.cluster.selector);
      return { jobId: req.jobId, created: false };
    }
    throw new SentinelError(ErrorNames.ValidationFailed, 'a job with this name exists with a different spec', req.jobId);
  }

  /**
   * Creates the run's RayCluster once, as the RayJobs are: AlreadyExists with the same spec hash is the same cluster
   * (every stage after the first, a redelivered submit, a concurrent one); a different spec, or a cluster being
   * deleted because the run has ended, is refused. A suspended one (the reaper's) is resumed.
   */
  private async ensureRunCluster(req: JobRequest): Promise<'created' | 'existing'> {
    const cluster = this.runClusterFor(req);
    const name = cluster.metadata.name;
    try {
      await this.client.create(RAYCLUSTERS, this.ns, cluster);
      this.runClustersCreated++;
      return 'created';
    } catch (e) {
      if (!isAlreadyExists(e)) throw toSentinelError(e, `RayCluster ${name}`);
    }
    let existing: RayClusterObject;
    try {
      existing = await this.client.get<RayClusterObject>(RAYCLUSTERS, this.ns, name);
    } catch (e) {
      throw toSentinelError(e, `RayCluster ${name}`);
    }
    if (existing.metadata.deletionTimestamp) throw new SentinelError(ErrorNames.ValidationFailed, `the run's RayCluster is being deleted (the run has ended)`, name);
    if (existing.metadata.annotations?.[ANNOTATIONS.specHash] !== cluster.metadata.annotations[ANNOTATIONS.specHash]) {
      throw new SentinelError(ErrorNames.ValidationFailed, 'the run\'s RayCluster exists with a different spec', name);
    }
    await resumeSelectedCluster(this.client, this.ns, { [CLUSTER_SELECTOR_KEY]: name });
    return 'existing';
  }

  /** RayClusters this adapter created for runs (what the benchmark and tests count). */
  runClustersCreated = 0;

  /**
   * The run is over: delete its RayCluster (Background: the object goes now, Kubernetes collects its pods; nobody
   * waits for the nodes). Idempotent; NotFound (never created, already deleted, another mode) is nothing to do.
   */
  async endRun(run: { pipeline: string; runId: string }): Promise<RunEnded> {
    const name = runClusterNameFor(run.pipeline, run.runId);
    try {
      const c = await this.client.get<RayClusterObject>(RAYCLUSTERS, this.ns, name);
      // Only the run's own cluster: never a user's cluster that happens to carry the name.
      const labels = c.metadata.labels ?? {};
      const mine = Object.entries(runLabelsFor(run.pipeline, run.runId)).every(([k, v]) => labels[k] === v);
      if (!mine) return { deleted: [], note: `RayCluster ${name} is not this run's (labels differ): left alone` };
      if (c.metadata.deletionTimestamp) return { deleted: [name] };
      await this.client.delete(RAYCLUSTERS, this.ns, name, 'Background');
      return { deleted: [name] };
    } catch (e) {
      if (isNotFound(e)) return { deleted: [] };
      throw toSentinelError(e, `RayCluster ${name}`);
    }
  }

  /** An existing-cluster job would wait forever for a cluster that is not there: say so at submit. */
  private async requireCluster(name: string) {
    try {
      await this.client.get('rayclusters', this.ns, name);
    } catch (e) {
      if (isNotFound(e)) throw new SentinelError(ErrorNames.ValidationFailed, `RayCluster "${name}" not found in namespace ${this.ns}`, 'cluster.selector');
      throw e;
    }
  }

  private async read(jobId: string): Promise<RayJobObject | undefined> {
    try {
      return await this.client.get<RayJobObject>(RAYJOBS, this.ns, jobId);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toSentinelError(e, `RayJob ${jobId}`);
    }
  }

  async get(jobId: string): Promise<JobStatus | undefined> {
    const o = await this.read(jobId);
    return o ? jobStatusFromRayJob(o) : undefined;
  }

  async list(selector: Record<string, string>): Promise<JobStatus[]> {
    const q = { labelSelector: labelSelector(selector), limit: this.o.pageSize ?? 500 };
    // A continue token older than etcd's compaction window answers 410 Gone: start over (bounded).
    for (let restart = 0; ; restart++) {
      const out: JobStatus[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await this.client.list<RayJobObject>(RAYJOBS, this.ns, { ...q, ...(token ? { continue: token } : {}) });
          for (const item of page.items) out.push(jobStatusFromRayJob(item));
          token = page.metadata?.continue || undefined;
        } while (token);
        return out;
      } catch (e) {
        if (kubeFailure(e)?.code === 410 && restart < 2) continue;
        throw toSentinelError(e, 'list RayJobs');
      }
    }
  }

  /** Only the RayJobs still labelled in flight (IN_FLIGHT_LABEL=true): the watcher's list, whatever the history. */
  listInFlight(selector: Record<string, string>): Promise<JobStatus[]> {
    return this.list({ ...selector, [IN_FLIGHT_LABEL]: IN_FLIGHT });
  }

  /** Takes an ended RayJob off the in-flight list (label to "false": idempotent, a merge patch of one label). */
  async settle(jobId: string): Promise<void> {
    try {
      await mergePatch(this.client, paths.ray(RAYJOBS, this.ns, jobId), { metadata: { labels: { [IN_FLIGHT_LABEL]: SETTLED } } });
    } catch (e) {
      if (!isNotFound(e)) throw toSentinelError(e, `RayJob ${jobId}`);
    }
  }

  async logs(jobId: string, tailLines: number): Promise<string> {
    const o = await this.read(jobId);
    if (!o) return `(no RayJob ${this.ns}/${jobId})`;
    const s = o.status ?? {};
    const rayJob = s.jobId ?? jobId;
    const where = [
      `RayJob ${this.ns}/${jobId}: Ray job ${rayJob}${s.rayClusterName ? ` on RayCluster ${s.rayClusterName}` : ''}`,
      s.dashboardURL
        ? `driver log: GET http://${s.dashboardURL}/api/jobs/${rayJob}/logs (inside the cluster; kubectl -n ${this.ns} port-forward svc/${jobId}-head-svc 8265)`
        : 'driver log: the Ray dashboard of the job\'s cluster, once KubeRay has started it',
    ];
    const message = (s.message ?? '').split('\n').filter((l) => l.length > 0).slice(-tailLines);
    return [...where, ...message].join('\n');
  }

  async stop(jobId: string): Promise<void> {
    try {
      // Foreground: the RayJob goes only after what it owns (its RayCluster, pods) is gone; KubeRay's finalizer
      // stops the Ray job first, which matters on an existing cluster that stays up.
      await this.client.delete(RAYJOBS, this.ns, jobId, 'Foreground');
    } catch (e) {
      if (!isNotFound(e)) throw toSentinelError(e, `RayJob ${jobId}`);
    }
  }

  /** ClusterPort.markInterrupted for KubeRay: the annotation makes the job's failure map to SpotInterrupted. */
  async markInterrupted(jobId: string, reason: string): Promise<void> {
    const key = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');
    try {
      await this.client.patch(RAYJOBS, this.ns, jobId, [
        { op: 'add', path: `/metadata/annotations/${key(ANNOTATIONS.interrupted)}`, value: 'true' },
        { op: 'add', path: `/metadata/annotations/${key(`${ANNOTATIONS.interrupted}-reason`)}`, value: reason.slice(0, 500) },
      ]);
    } catch (e) {
      if (!isNotFound(e)) throw toSentinelError(e, `RayJob ${jobId}`);
    }
  }
}
