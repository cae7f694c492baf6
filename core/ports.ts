// Ports: what core needs from the outside world. Adapters (local, Ray Jobs REST, KubeRay, AWS) implement them;
// core never imports an SDK.
import type { JobIdentity } from './names.js';
import type { JobStatus } from './job-status.js';
import type { PipelineSpec } from './spec.js';
import type { ServeConfig } from './serve-config.js';

type StageSpec = PipelineSpec['stages']['ingest'];

/** Everything a backend needs to run one stage as one job. */
export interface JobRequest {
  jobId: string;
  identity: JobIdentity;
  /** Python module run as `python -m <module>`; validated by the spec schema. */
  module: string;
  /** The stage input, passed to the job as data (env SENTINEL_STAGE_INPUT), never as shell text. */
  input: Record<string, unknown>;
  /** The pipeline's own Python modules (spec.code), put on the job's PYTHONPATH (and its Ray workers'). */
  pythonPath?: string;
  resources: StageSpec['resources'];
  timeoutSeconds: number;
  image: string;
  cluster: PipelineSpec['cluster'];
  labels: Record<string, string>;
  /**
   * Every stage of the run with its resources and Ray workers: what a cluster shared by the whole run (cluster mode
   * `run`) must be able to scale to. Absent: the request's own stage is all there is to size for.
   */
  runStages?: RunStageShape[];
}

/** One stage's compute as the run's shared cluster sizes for it. */
export interface RunStageShape {
  stage: JobIdentity['stage'];
  resources: StageSpec['resources'];
  /** Ray workers the stage runs in parallel (train's numWorkers, tune's maxConcurrent trials, else 1). */
  workers: number;
}

/** What ending a run released on the backend. */
export interface RunEnded {
  /** Compute deleted for the run (KubeRay: its RayCluster), empty when there was none left. */
  deleted: string[];
  /** Why nothing per run exists on this backend, when that is the case. */
  note?: string;
}

export interface ComputePort {
  readonly backend: 'ray-jobs' | 'kuberay';
  /** Idempotent: submitting an existing job id with the same request returns it (`created: false`). */
  submit(req: JobRequest): Promise<{ jobId: string; created: boolean }>;
  get(jobId: string): Promise<JobStatus | undefined>;
  /** Jobs whose labels include all of `selector`. */
  list(selector: Record<string, string>): Promise<JobStatus[]>;
  /** The last lines of the job's log (or a pointer to where the logs are). */
  logs(jobId: string, tailLines: number): Promise<string>;
  /** Stops the job and releases its compute. Idempotent. */
  stop(jobId: string): Promise<void>;
  /**
   * Jobs not yet settled (running, or ended but not yet seen ended by the watcher) whose labels include all of
   * `selector`: what the watcher lists, so its cost follows the stages in flight, not the history (KubeRay: a label
   * selector on IN_FLIGHT_LABEL, core/names.ts). Absent: the watcher lists every job (list()).
   */
  listInFlight?(selector: Record<string, string>): Promise<JobStatus[]>;
  /** Marks an ended job settled: listInFlight() no longer returns it. Idempotent. */
  settle?(jobId: string): Promise<void>;
  /**
   * The run is over, however it ended (finish-run, execution-ended): release what the backend holds for the whole
   * run (KubeRay: the run's RayCluster). Idempotent; call after the run's jobs are stopped. Every backend adapter
   * implements it (the Ray Jobs backend says why it has nothing per run); optional only so that read-only views of
   * the port (status, logs) need not.
   */
  endRun?(run: { pipeline: string; runId: string }): Promise<RunEnded>;
}

export interface ObjectStore {
  getJson<T>(uri: string): Promise<T | undefined>;
  getText(uri: string): Promise<string | undefined>;
  putJson(uri: string, value: unknown): Promise<void>;
  /** Size in bytes and an opaque version tag (S3: the ETag), or undefined when the object does not exist. */
  head(uri: string): Promise<ObjectInfo | undefined>;
  /** Objects under a prefix (not recursive beyond what the store returns), for "the latest dataset". */
  list(prefixUri: string): Promise<ObjectInfo[]>;
  /** Copies every object under one prefix to another (a resumed run's checkpoints); the number copied. */
  copyPrefix?(fromUri: string, toUri: string): Promise<number>;
  /** A JSON object with its version (S3: the ETag of the object read), for a compare-and-swap with putJsonIf. */
  getJsonVersioned<T>(uri: string): Promise<Versioned<T> | undefined>;
  /**
   * A conditional write: `ifMatch` replaces only the version read, `ifNoneMatch: '*'` creates only when absent (S3
   * conditional PutObject; locally, atomic across processes). 'conflict' when the condition does not hold.
   */
  putJsonIf(uri: string, value: unknown, cond: WriteCondition): Promise<'ok' | 'conflict'>;
}

export interface Versioned<T> {
  value: T;
  version: string;
}

export type WriteCondition = { ifMatch: string } | { ifNoneMatch: '*' };

export interface ObjectInfo {
  uri: string;
  size: number;
  etag: string;
  lastModified: number;
}

/** 'gone' means the task already completed, timed out or never existed: the at-least-once consumer counts it done. */
export type CallbackResult = 'ok' | 'gone';

export interface TaskCallbacks {
  success(token: string, output: unknown): Promise<CallbackResult>;
  failure(token: string, error: string, cause: string): Promise<CallbackResult>;
  heartbeat(token: string): Promise<CallbackResult>;
}

/** Where a waiting task's token is kept between submit and completion (keyed by job id). */
export interface TokenStore {
  put(jobId: string, token: string): Promise<void>;
  get(jobId: string): Promise<string | undefined>;
  delete(jobId: string): Promise<void>;
}

export interface ServeStatus {
  /** RUNNING when the application is deployed and healthy. */
  state: 'NOT_STARTED' | 'DEPLOYING' | 'RUNNING' | 'DEPLOY_FAILED' | 'UNHEALTHY' | 'DELETING' | 'UNKNOWN';
  message?: string;
  /** The run whose model the deployed config serves (so a wait can tell the new config from the old one). */
  runId?: string;
  /** During a zero-downtime upgrade: the config coming up on the new cluster, while `runId` keeps serving. */
  pending?: { state: ServeStatus['state']; runId?: string; message?: string };
}

/** The serving replicas of a pipeline's model deployment (ModelServer), as Serve reports them now. */
export interface ServeReplicas {
  /** Replicas answering requests. */
  running: number;
  /** The count Serve's autoscaler is heading for. */
  target: number;
  /** The autoscaling range as deployed. */
  min?: number;
  max?: number;
  /** Every replica by state (STARTING, RUNNING, STOPPING, …). */
  states: Record<string, number>;
}

export interface ServingPort {
  /** Applies the pipeline's serve config (zero-downtime: Serve rolls replicas over). */
  apply(pipeline: string, config: ServeConfig): Promise<void>;
  status(pipeline: string): Promise<ServeStatus>;
  /** The URL a client POSTs predictions to. */
  endpoint(pipeline: string, route: string): string;
  /** The pipeline's serving replicas (undefined when nothing serves it); for run summaries and status commands. */
  replicas?(pipeline: string): Promise<ServeReplicas | undefined>;
}

export interface BusEvent<D = unknown> {
  source: string;
  'detail-type': string;
  detail: D;
  time?: string;
  resources?: string[];
}

export interface EventPublisher {
  publish(events: BusEvent[]): Promise<void>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Starts state machine executions. Names are unique: starting an existing name is reported, not repeated. */
export interface ExecutionsPort {
  start(name: string, input: unknown): Promise<{ executionId: string; alreadyStarted: boolean }>;
}

export interface NodeInfo {
  name: string;
  /** aws:///<az>/<instance-id> on EKS. */
  providerID: string;
  unschedulable: boolean;
}

export interface RayPod {
  namespace: string;
  name: string;
  /** The RayCluster the pod belongs to (label ray.io/cluster). */
  rayCluster?: string;
}

export type EvictionResult = 'evicted' | 'gone' | 'blocked';

/** What the interruption handler needs from the cluster (Kubernetes on EKS; the local Ray head locally). */
export interface ClusterPort {
  nodeForInstance(instanceId: string): Promise<NodeInfo | undefined>;
  cordon(node: string): Promise<void>;
  rayPodsOn(node: string): Promise<RayPod[]>;
  /** Through the Eviction API, so PodDisruptionBudgets are respected ('blocked' when one refuses). */
  evict(pod: RayPod): Promise<EvictionResult>;
  /** Managed stage jobs running on the given Ray clusters (or on the node, where clusters are not a thing). */
  jobsOn(node: string, rayClusters: string[]): Promise<string[]>;
  /** Marks a job so that its failure maps to SpotInterrupted (retried, resumed from checkpoint). */
  markInterrupted(jobId: string, reason: string): Promise<void>;
}

export interface RayClusterInfo {
  name: string;
  namespace: string;
  suspended: boolean;
  /**
   * Who owns it: a RayJob's ephemeral cluster, a RayService's serving cluster, a run (the cluster Sentinel made for
   * one run's stages, deleted when the run ends), or nobody (long-lived, shared).
   */
  owner: 'rayjob' | 'rayservice' | 'run' | 'none';
  createdAt: number;
  /** Kueue admits it (it, or the RayJob owning it, carries a queue name): Kueue owns its spec.suspend. */
  kueueManaged?: boolean;
}

export interface ClusterActivity {
  cluster: string;
  state: import('./job-status.js').JobState;
  endTime?: number;
  /** The job (for retention: a finished job is deleted once it is old enough). */
  jobId?: string;
  /** Still labelled in flight (the watcher has not settled it): never deleted by retention. */
  inFlight?: boolean;
}

/** What the idle reaper needs (Kubernetes on EKS). */
export interface ReaperPort {
  listRayClusters(): Promise<RayClusterInfo[]>;
  /** Managed jobs and the cluster each ran on. */
  clusterActivity(): Promise<ClusterActivity[]>;
  suspend(cluster: RayClusterInfo): Promise<void>;
  delete(cluster: RayClusterInfo): Promise<void>;
  /** Ray pods on the nodes of a managed node group. */
  rayPodsInNodeGroup(nodeGroup: string): Promise<number>;
  /** Deletes a finished job (retention). Idempotent; absent: finished jobs are kept. */
  deleteJob?(jobId: string): Promise<void>;
}

/** Managed node groups (EKS UpdateNodegroupConfig). */
export interface NodeGroupsPort {
  desiredSize(nodeGroup: string): Promise<number>;
  scaleToZero(nodeGroup: string): Promise<void>;
}

/** An MLflow run, as far as the control plane reads it. */
export interface TrackingRun {
  runId: string;
  name: string;
  status: string;
  tags: Record<string, string>;
}

/** A version of a registered model. */
export interface ModelVersionInfo {
  model: string;
  version: string;
  source: string;
  runId?: string;
  tags: Record<string, string>;
  aliases: string[];
}

/**
 * Experiment tracking and the model registry (MLflow's REST API; adapters/mlflow). The control plane opens the
 * pipeline run's MLflow run and keeps the registry's `champion` alias in step with champion.json (core/tracking.ts);
 * the stages log to MLflow themselves, through the SDK. Absent from a handler's deps: tracking is off.
 */
export interface TrackingPort {
  /** The tracking server's base URL (its UI is there too). */
  readonly uri: string;
  /** The experiment's id, created when missing. */
  experimentId(name: string): Promise<string>;
  /** Runs of an experiment matching an MLflow filter string, oldest first. */
  findRuns(experimentId: string, filter: string, maxResults?: number): Promise<TrackingRun[]>;
  createRun(experimentId: string, name: string, tags: Record<string, string>): Promise<string>;
  log(runId: string, data: { params?: Record<string, string>; metrics?: Record<string, number>; tags?: Record<string, string> }): Promise<void>;
  endRun(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void>;
  /** Creates the registered model when missing. */
  ensureModel(name: string, description: string): Promise<void>;
  versions(model: string): Promise<ModelVersionInfo[]>;
  createVersion(req: { model: string; source: string; runId: string; tags: Record<string, string>; description?: string }): Promise<ModelVersionInfo>;
  setAlias(model: string, alias: string, version: string): Promise<void>;
  /** The version an alias points at, or undefined when the model or the alias does not exist. */
  byAlias(model: string, alias: string): Promise<ModelVersionInfo | undefined>;
}

/** A notification topic (SNS): one message per run event, with attributes subscribers can filter on. */
export interface TopicPort {
  publish(topicArn: string, message: { subject: string; text: string; attributes: Record<string, string> }): Promise<void>;
}

/** A Slack-compatible incoming webhook: a JSON POST of `{"text": …}`. The URL is a secret: never logged. */
export interface WebhookPort {
  post(url: string, body: { text: string }): Promise<void>;
}

/** One-time schedules (EventBridge Scheduler `at(…)`): armed by name, re-arming the same name replaces it. */
export interface OneTimeSchedulesPort {
  arm(name: string, at: Date, input: unknown): Promise<void>;
  /** Removes the schedule; a name that is not armed (fired, never armed) is fine. */
  disarm?(name: string): Promise<void>;
}
