// Fixtures for the event-flow suites on the real API server (test/k8s/harness.ts) with the real KubeRay v1.7
// operator (test/k8s/operator.ts): every RayJob status these suites read is one the operator wrote from what a real
// local Ray head told it. What the tests create is what Sentinel, a user or a cluster would: Nodes, RayClusters,
// RayJobs as submit-stage builds them, a few pods that are no Ray cluster's. Pods are started by the simulated kubelet
// and, where a test needs them on a given node, bound there by the simulated scheduler below. No kube-controller-manager
// runs here, so what its controllers write (a PodDisruptionBudget's status, the end of a Foreground deletion) is
// written by the test or not at all, and says so where it happens.
import { mkdtempSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lambdaContext as localLambdaContext } from '../../local/lambda-context.js';
import type { SQSEvent } from 'aws-lambda';
import type { KubeHarness } from '../k8s/harness.js';
import { repoRoot, startKube, waitForAccess } from '../k8s/harness.js';
import { conformanceRequest, newRunId } from '../k8s/conformance.js';
import { buildOperator, startDashboardProxy, startOperator, startSimulatedKubelet, type DashboardProxy, type Operator, type SimulatedKubelet } from '../k8s/operator.js';
import { startRayHead, type RayHead } from '../../local/ray-head.js';
import { rayJobFor, type RayJobManifest } from '../../core/kuberay/rayjob.js';
import type { RayJobObject, RayJobStatusFields } from '../../core/kuberay/status.js';
import { lambdaRbac, spotHandlerRbac } from '../../core/kuberay/rbac.js';
import { serviceAccountsFor } from '../../core/kuberay/identity.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import { mergePatch, paths } from '../../adapters/kuberay/kube-rest.js';
import { requestJson } from '../../adapters/ray/http.js';
import type { BusEvent, EventPublisher, JobRequest } from '../../core/ports.js';
import type { Stage } from '../../core/stages.js';
import { sqsRecord } from '../../local/queue.js';
import { delivered, type Deliverable } from '../support/events.js';
import { every } from '../support/every.js';

export const IMAGE = 'ghcr.io/sentinel-dev/sentinel-jobs:0.1.0';

/** The project's RBAC in `ns`, applied as admin; resolves once the lambda identity can use it. */
export async function applyRbac(kube: KubeHarness, ns: string) {
  await kube.createObjects([...lambdaRbac(ns), ...spotHandlerRbac()], { ignoreExisting: true });
  const lambda = kube.client('lambda');
  await waitForAccess(() => lambda.list('rayclusters', ns, { limit: 1 }));
  await waitForAccess(() => lambda.send('GET', paths.nodes(), { query: { limit: 1 } }));
  lambda.close();
}

export async function createNode(admin: KubeClient, name: string, o: { providerID?: string; labels?: Record<string, string> } = {}) {
  await admin.send('POST', paths.nodes(), {
    body: { apiVersion: 'v1', kind: 'Node', metadata: { name, ...(o.labels ? { labels: o.labels } : {}) }, spec: o.providerID ? { providerID: o.providerID } : {} },
  });
}

export const rayPodLabels = (cluster: string) => ({ 'ray.io/is-ray-node': 'yes', 'ray.io/cluster': cluster, 'ray.io/node-type': 'worker' });

/**
 * A pod bound to `node` and reported Running + Ready by hand, as the kubelet would (the Eviction API treats Pending
 * pods differently). For where no simulated kubelet runs (bench/spot.ts); the suites use createPod and the kubelet.
 */
export async function createRunningPod(admin: KubeClient, ns: string, name: string, node: string, labels: Record<string, string>) {
  await createPod(admin, ns, name, node, labels);
  const now = new Date().toISOString();
  await mergePatch(admin, `${paths.pods(ns)}/${name}/status`, {
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }], startTime: now },
  });
}

/** A pod already bound to `node` (created with spec.nodeName): the simulated kubelet of its namespace starts it. */
export async function createPod(admin: KubeClient, ns: string, name: string, node: string, labels: Record<string, string>) {
  await admin.send('POST', paths.pods(ns), {
    body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { nodeName: node, containers: [{ name: 'main', image: IMAGE }] } },
  });
}

export interface PodState {
  exists: boolean;
  terminating: boolean;
}
export async function podState(admin: KubeClient, ns: string, name: string): Promise<PodState> {
  try {
    const p = await admin.send<{ metadata: { deletionTimestamp?: string } }>('GET', `${paths.pods(ns)}/${name}`);
    return { exists: true, terminating: !!p.metadata.deletionTimestamp };
  } catch (e) {
    if ((e as { code?: number }).code === 404) return { exists: false, terminating: false };
    throw e;
  }
}
/** Evicted: deleted, or (the simulated kubelet does not finish a graceful deletion) marked for deletion. */
export const isGone = (s: PodState) => !s.exists || s.terminating;

interface ListedPod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: { phase?: string };
}
export const listPods = async (admin: KubeClient, ns: string, labelSelector?: string) =>
  (await admin.send<{ items: ListedPod[] }>('GET', paths.pods(ns), labelSelector ? { query: { labelSelector } } : {})).items;

/** Polls `read` until `ok`; the failure names what was awaited, its last value and `context()` (an operator log tail). */
export async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, o: { timeoutMs?: number; context?: () => string } = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)?.slice(0, 1500)} after ${o.timeoutMs ?? 120_000} ms${o.context ? `\n${o.context()}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The scheduler name the RayClusters' pod templates name when a test needs their pods on given nodes. */
export const SIMULATED_SCHEDULER = 'sentinel-simulated-scheduler';

/** What the scheduler reads of a pod. */
export interface ScheduledPod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string; schedulerName?: string };
}

export interface SimulatedScheduler {
  /** Pods bound, as `pod → node`, in order. */
  bound: Array<[string, string]>;
  stop(): Promise<void>;
}

/**
 * What kube-scheduler does for the pods that name SIMULATED_SCHEDULER: binds each unbound one, through the
 * pods/binding subresource, to the node `nodeFor` picks, unless that node is cordoned (spec.unschedulable): then the
 * pod stays Pending, as with no room anywhere else. The simulated kubelet starts a pod that names it once it is bound.
 */
export function startSimulatedScheduler(kube: KubeHarness, ns: string, nodeFor: (pod: ScheduledPod) => string | undefined, intervalMs = 300): SimulatedScheduler {
  const admin = kube.client('admin');
  const bound: SimulatedScheduler['bound'] = [];
  const tick = async () => {
    const pods = (await admin.send<{ items: ScheduledPod[] }>('GET', paths.pods(ns))).items;
    const cordoned = new Map<string, Promise<boolean>>();
    const isCordoned = (node: string) => {
      if (!cordoned.has(node)) cordoned.set(node, admin.send<{ spec?: { unschedulable?: boolean } }>('GET', paths.nodes(node)).then((n) => n.spec?.unschedulable === true));
      return cordoned.get(node)!;
    };
    const waiting = pods.filter((p) => !p.spec.nodeName && p.spec.schedulerName === SIMULATED_SCHEDULER && !p.metadata.deletionTimestamp);
    await Promise.all(
      waiting.map(async (p) => {
        const node = nodeFor(p);
        if (!node || (await isCordoned(node))) return;
        await admin.send('POST', `${paths.pods(ns)}/${p.metadata.name}/binding`, {
          body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: p.metadata.name, namespace: ns }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
        });
        bound.push([p.metadata.name, node]);
      }),
    );
  };
  const loop = every(intervalMs, tick);
  return {
    bound,
    async stop() {
      await loop.stop();
      admin.close();
    },
  };
}

/**
 * A RayCluster as a user (or Sentinel's run cluster) names it: a head and `workers` workers. With `scheduled`, its
 * pods name SIMULATED_SCHEDULER, so they run only once bound to a node; `headLabels` go on the head pod only.
 */
export const rayClusterManifest = (
  name: string,
  o: { labels?: Record<string, string>; owner?: { kind: string; name: string; uid: string }; suspend?: boolean; workers?: number; scheduled?: boolean; headLabels?: Record<string, string> } = {},
) => {
  const podSpec = (container: string) => ({ ...(o.scheduled ? { schedulerName: SIMULATED_SCHEDULER } : {}), containers: [{ name: container, image: IMAGE }] });
  return {
    apiVersion: 'ray.io/v1',
    kind: 'RayCluster',
    metadata: {
      name,
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.owner ? { ownerReferences: [{ apiVersion: 'ray.io/v1', kind: o.owner.kind, name: o.owner.name, uid: o.owner.uid, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: {
      ...(o.suspend !== undefined ? { suspend: o.suspend } : {}),
      headGroupSpec: { rayStartParams: {}, template: { ...(o.headLabels ? { metadata: { labels: o.headLabels } } : {}), spec: podSpec('ray-head') } },
      ...(o.workers
        ? { workerGroupSpecs: [{ groupName: 'workers', replicas: o.workers, minReplicas: o.workers, maxReplicas: o.workers, rayStartParams: {}, template: { spec: podSpec('ray-worker') } }] }
        : {}),
    },
  };
};

/** The fixture stage that runs until released (test/k8s-events/fixtures/sentinel_events_sleep.py). */
export const SLEEP_MODULE = 'sentinel_events_sleep';
export const SLEEP_CODE = join(import.meta.dirname, 'fixtures');

/**
 * What a stage does on Ray: `finishes` at once (`python -m this`), `fails` (a module that does not exist: Ray's job
 * fails, the operator says AppFailed), or `runs` until `release` (a file) exists or `seconds` pass.
 */
export type Behaviour = 'finishes' | 'fails' | { runs: { release: string; seconds?: number } };

export interface RayJobOptions {
  /** An existing RayCluster the job selects (else its own, ephemeral one, as submit-stage builds it). */
  clusterSelector?: string;
  behaviour?: Behaviour;
  /** The stage's timeout: the RayJob's activeDeadlineSeconds. */
  timeoutSeconds?: number;
  runId?: string;
  stage?: Stage;
  /** For an ephemeral cluster: how long KubeRay keeps it after the job (rayJobFor's default otherwise). */
  ttlSecondsAfterFinished?: number;
  /** Edits the manifest before it is created (labels of history, say). */
  edit?: (m: RayJobManifest) => void;
}

export function jobRequest(o: RayJobOptions = {}): JobRequest {
  const req = conformanceRequest(o.runId ?? newRunId(), o.stage ?? 'train');
  const b = o.behaviour ?? 'finishes';
  const code =
    b === 'fails' ? { module: 'sentinel_no_such_module' } : b === 'finishes' ? {} : { module: SLEEP_MODULE, pythonPath: SLEEP_CODE, input: { ...b.runs } };
  return {
    ...req,
    ...code,
    ...(o.timeoutSeconds !== undefined ? { timeoutSeconds: o.timeoutSeconds } : {}),
    ...(o.clusterSelector ? { cluster: { mode: 'existing' as const, selector: { 'ray.io/cluster': o.clusterSelector } } } : {}),
  };
}

/** A Sentinel RayJob as submit-stage builds it; its status is the operator's (none where no operator watches). */
export async function createRayJob(admin: KubeClient, ns: string, o: RayJobOptions = {}) {
  const manifest = rayJobFor(jobRequest(o), { namespace: ns, ...(o.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: o.ttlSecondsAfterFinished } : {}) });
  o.edit?.(manifest);
  const created = await admin.create<RayJobManifest>('rayjobs', ns, manifest);
  return { name: manifest.metadata.name, uid: created.metadata.uid! };
}

/** A file whose existence ends a `runs` job (see Behaviour); `release(file)` creates it. */
export class Releases {
  private readonly dir = mkdtempSync(join(tmpdir(), 'sentinel-events-release-'));
  private n = 0;
  next(): string {
    return join(this.dir, `release-${++this.n}`);
  }
  async release(file: string) {
    await writeFile(file, '');
  }
  async releaseAll() {
    for (let i = 1; i <= this.n; i++) await this.release(join(this.dir, `release-${i}`));
  }
  async remove() {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * One file's world: the API server and one small Ray head started side by side (the operator built meanwhile,
 * cached after the first time), namespaces with the project's RBAC, a simulated kubelet in each namespace the
 * operator watches, the dashboard proxy, and the operator watching exactly those namespaces. A namespace with
 * `watched: false` is one KubeRay does not look at: its RayJobs never get a status.
 */
export interface OperatorWorld {
  kube: KubeHarness;
  admin: KubeClient;
  lambda: KubeClient;
  ray: RayHead;
  proxy: DashboardProxy;
  operator: Operator;
  /** Namespace name by the prefix it was asked for. */
  ns: Record<string, string>;
  logDir: string;
  /** The RayJob as the operator left it. */
  rayJob(ns: string, name: string): Promise<RayJobObject>;
  /** Waits until the operator's status of the RayJob satisfies `ok`. */
  untilStatus(ns: string, name: string, what: string, ok: (s: RayJobStatusFields) => boolean, timeoutMs?: number): Promise<RayJobObject>;
  /** Waits until the operator reports the RayCluster ready. */
  untilClusterReady(ns: string, name: string): Promise<void>;
  /** Ray's own record of a job (by submission id), from the head's Jobs API. */
  rayRecord(submissionId: string): Promise<{ status?: string } | undefined>;
  stop(): Promise<void>;
}

/**
 * One small Ray head. On a machine loaded far past its cores (load average 25 on 2 measured), Ray's own startup can
 * time out ("The current node timed out during startup"): it gets one more try then, from a clean temp dir.
 */
async function startSmallHead(logDir: string, numCpus: number): Promise<RayHead> {
  const start = () => startRayHead({ pythonEnv: join(repoRoot, '.venv'), numCpus, logFile: join(logDir, 'ray.log') });
  try {
    return await start();
  } catch (e) {
    process.stdout.write(`# the Ray head did not start (${(e as Error).message.slice(0, 200)}); trying once more\n`);
    return start();
  }
}

export async function startOperatorWorld(o: { name: string; namespaces: Array<{ prefix: string; watched?: boolean }>; numCpus?: number }): Promise<OperatorWorld> {
  const logDir = mkdtempSync(join(tmpdir(), `sentinel-${o.name}-`));
  const t0 = Date.now();
  const took: Record<string, number> = {};
  const timed = <T>(what: string, p: Promise<T>) => p.finally(() => (took[what] = Date.now() - t0));
  const [k, r, b] = await Promise.allSettled([
    timed('kube-apiserver', startKube()),
    timed('Ray head', startSmallHead(logDir, o.numCpus ?? 1)),
    timed('operator build', buildOperator()),
  ]);
  const kube = k.status === 'fulfilled' ? k.value : undefined;
  const ray = r.status === 'fulfilled' ? r.value : undefined;
  const parts: { proxy?: DashboardProxy; kubelets: SimulatedKubelet[]; operator?: Operator; admin?: KubeClient; lambda?: KubeClient } = { kubelets: [] };
  const stop = async () => {
    await parts.operator?.stop();
    await Promise.all(parts.kubelets.map((x) => x.stop()));
    await parts.proxy?.close();
    parts.admin?.close();
    parts.lambda?.close();
    await Promise.all([kube?.stop(), ray?.stop()]);
  };
  try {
    for (const s of [k, r, b]) if (s.status === 'rejected') throw s.reason;
    const binary = (b as PromiseFulfilledResult<string>).value;
    const ns: Record<string, string> = {};
    for (const n of o.namespaces) {
      ns[n.prefix] = await kube!.namespace(n.prefix);
      await applyRbac(kube!, ns[n.prefix]!);
      // The conformance pipeline's own accounts, which its ephemeral clusters' pods name.
      await kube!.createObjects(serviceAccountsFor(ns[n.prefix]!, 'conformance'));
    }
    const watched = o.namespaces.filter((n) => n.watched !== false).map((n) => ns[n.prefix]!);
    parts.admin = kube!.client('admin');
    parts.lambda = kube!.client('lambda');
    parts.proxy = await startDashboardProxy(ray!.dashboard);
    parts.kubelets = watched.map((n) => startSimulatedKubelet(kube!, n, 300));
    parts.operator = await startOperator(kube!, { binary, namespace: watched.join(','), httpProxy: parts.proxy.url, logFile: join(logDir, 'operator.log') });
    const admin = parts.admin;
    const operator = parts.operator;
    const parallel = Object.entries(took).map(([what, ms]) => `${what} ${(ms / 1000).toFixed(1)} s`).join(', ');
    process.stdout.write(`# ${o.name}: API server, Ray head and operator up in ${((Date.now() - t0) / 1000).toFixed(1)} s (${parallel})\n`);
    const context = () => `operator log (${join(logDir, 'operator.log')}):\n${operator.tail(25)}`;
    const rayJob = (n: string, name: string) => admin.get<RayJobObject>('rayjobs', n, name);
    return {
      kube: kube!,
      admin,
      lambda: parts.lambda,
      ray: ray!,
      proxy: parts.proxy,
      operator,
      ns,
      logDir,
      rayJob,
      untilStatus: (n, name, what, ok, timeoutMs) => until(`RayJob ${name} ${what}`, () => rayJob(n, name), (j) => ok(j.status ?? {}), { timeoutMs, context }),
      untilClusterReady: async (n, name) => {
        await until(`RayCluster ${name} ready`, () => admin.get<{ status?: { state?: string } }>('rayclusters', n, name), (c) => c.status?.state === 'ready', { context });
      },
      rayRecord: async (id) => {
        const jobs = (await requestJson<Array<{ submission_id?: string; status?: string }>>(ray!.dashboard, 'GET', '/api/jobs/')).body;
        return jobs.find((j) => j.submission_id === id);
      },
      stop: async () => {
        await stop();
        await rm(logDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** What the operator writes once Ray runs the job (jobDeploymentStatus Running, jobStatus RUNNING). */
export const isRunning = (s: RayJobStatusFields) => s.jobDeploymentStatus === 'Running' && s.jobStatus === 'RUNNING';
/** What the operator writes for a job Ray ran to completion. */
export const isSucceeded = (s: RayJobStatusFields) => s.jobDeploymentStatus === 'Complete' && s.jobStatus === 'SUCCEEDED';

export class RecordingPublisher implements EventPublisher {
  readonly events: BusEvent[] = [];
  async publish(events: BusEvent[]) {
    this.events.push(...events);
  }
}

export const lambdaContext = (fn: string) => localLambdaContext(fn, 60_000);

/** An EventBridge event as the interruption queue delivers it: one SQS record whose body is the event. */
let seq = 0;
/** One SQS record carrying the event as EventBridge delivers it (what the consumers' parser envelopes check). */
export const sqsDelivery = (event: Deliverable): SQSEvent => ({ Records: [sqsRecord(JSON.stringify(delivered(event)), { messageId: `m-${++seq}` })] });
