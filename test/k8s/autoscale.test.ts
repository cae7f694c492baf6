// The run cluster's workers scale per stage through KubeRay's in-tree autoscaler, for real (issue 10 item 3;
// docs/autoscaling.md). Sentinel's KubeRayCompute, as the lambda identity, creates the run's RayCluster (autoscaling
// on, one worker group per stage shape from 0, head with 0 CPUs for tasks) and a stage's RayJob on it. The real v1.7
// operator creates the head pod (with its autoscaler sidecar) and the autoscaler's Role and RoleBinding; the sidecar
// runs as the operator defined it — Ray's own `ray kuberay-autoscaler`, unmodified — against the real API server with
// a token of the head pod's ServiceAccount. The operator submits the job to a real Ray head with no CPUs, so the
// job's task is demand only a worker can meet: Ray's autoscaler patches the stage group's replicas, the operator
// creates the worker pod, the simulated kubelet runs it as a real `ray start` joining the head (test/k8s/ray-workers.ts),
// the task runs there, and once the worker is idle the autoscaler scales the group back to 0 (workersToDelete) and
// the operator deletes the pod, which stops the Ray node. Nothing in this file writes a status or a replica count.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startKube, waitForAccess, repoRoot, type KubeHarness } from './harness.js';
import { conformanceRequest, newRunId } from './conformance.js';
import { buildOperator, startDashboardProxy, startOperator, startSimulatedKubelet, type DashboardProxy, type Operator, type SimulatedKubelet } from './operator.js';
import { rayNodes, rayWorkerRuntime, startAutoscalerSidecar, startGcsService, type AutoscalerSidecar, type GcsService, type HeadPod, type RayWorkerRuntime } from './ray-workers.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { KubeClient } from '../../adapters/kuberay/client.js';
import { kubeFailure } from '../../adapters/kuberay/retry.js';
import { requestJson } from '../../adapters/ray/http.js';
import { startRayHead, type RayHead } from '../../local/ray-head.js';
import { lambdaRbac } from '../../core/kuberay/rbac.js';
import { serviceAccountsFor, jobServiceAccountFor } from '../../core/kuberay/identity.js';
import { isTerminal } from '../../core/job-status.js';
import { runClusterNameFor } from '../../core/names.js';
import type { JobRequest, RunStageShape } from '../../core/ports.js';
import { STAGES } from '../../core/stages.js';
import { every } from '../support/every.js';

const pythonEnv = join(repoRoot, '.venv');
const logDir = mkdtempSync(join(tmpdir(), 'sentinel-autoscale-'));
/** The test's idle timeout (autoscalerOptions.idleTimeoutSeconds through the builder's option; the default is 60 s). */
const IDLE_SECONDS = 8;

let kube: KubeHarness;
let ray: RayHead;
let proxy: DashboardProxy;
let gcs: GcsService;
let workers: RayWorkerRuntime;
let kubelet: SimulatedKubelet;
let operator: Operator;
let sidecar: AutoscalerSidecar | undefined;
let namespace: string;

before(async () => {
  const [k, r, b] = await Promise.allSettled([
    startKube(),
    // A KubeRay head of Sentinel's run cluster: rayStartParams num-cpus 0, so no task fits on it.
    startRayHead({ pythonEnv, numCpus: 0, logFile: join(logDir, 'ray-head.log') }),
    buildOperator(),
  ]);
  if (k.status === 'fulfilled') kube = k.value;
  if (r.status === 'fulfilled') ray = r.value;
  for (const s of [k, r, b]) if (s.status === 'rejected') throw s.reason;
  const binary = (b as PromiseFulfilledResult<string>).value;
  namespace = await kube.namespace('autoscale');
  await kube.createObjects(lambdaRbac(namespace));
  await kube.createObjects(serviceAccountsFor(namespace, 'conformance'));
  await waitForAccess(() => kube.client('lambda').list('rayjobs', namespace, { limit: 1 }));
  proxy = await startDashboardProxy(ray.dashboard);
  gcs = await startGcsService(ray);
  workers = rayWorkerRuntime({ head: ray, gcs, pythonEnv, logDir });
  kubelet = startSimulatedKubelet(kube, namespace, 250, workers);
  operator = await startOperator(kube, { binary, namespace, httpProxy: proxy.url, logFile: join(logDir, 'operator.log') });
});

after(async () => {
  await sidecar?.stop();
  await operator?.stop();
  await kubelet?.stop();
  await proxy?.close();
  await gcs?.close();
  await Promise.all([kube?.stop(), ray?.stop()]);
});

interface Group {
  groupName: string;
  replicas?: number;
  scaleStrategy?: { workersToDelete?: string[] };
}
interface Pod {
  metadata: { name: string; uid: string; creationTimestamp: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind: string; name: string }>; deletionTimestamp?: string };
  status?: { podIP?: string; phase?: string; conditions?: Array<{ type: string; status: string }> };
}

const listPods = <P = Pod>(labelSelector: string) => kube.client('admin').send<{ items: P[] }>('GET', `/api/v1/namespaces/${namespace}/pods`, { query: { labelSelector } });

/** What the RayCluster and its worker pods were, every 200 ms: the scaling history, as the API server had it. */
function watchCluster(name: string) {
  const admin = kube.client('admin');
  const samples: Array<{ at: number; groups: Group[]; workerPods: Pod[] }> = [];
  // A tick that fails (the cluster not created yet) records nothing.
  const loop = every(200, async () => {
    // Pods first, then the cluster: a pod in a sample was created before its cluster was read, so a sample that
    // shows a worker pod also shows any replicas change that came before the pod (no clock compared).
    const pods = await listPods(`ray.io/cluster=${name},ray.io/node-type=worker`);
    const rc = await admin.get<{ spec: { workerGroupSpecs: Group[] } }>('rayclusters', namespace, name);
    samples.push({ at: Date.now(), groups: rc.spec.workerGroupSpecs, workerPods: pods.items });
  });
  return {
    samples,
    replicas: (group: string) => samples.map((s) => s.groups.find((g) => g.groupName === group)?.replicas ?? 0),
    /** The first sample at which `ok` held. */
    first: (ok: (s: (typeof samples)[number]) => boolean) => samples.find(ok),
    stop: () => loop.stop(),
  };
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read().catch(() => undefined as T);
    if (ok(v)) return v;
    if (Date.now() > deadline) {
      assert.fail(`${what}: still ${JSON.stringify(v)?.slice(0, 500)} after ${timeoutMs} ms\nautoscaler:\n${sidecar?.tail(25) ?? '(not started)'}\noperator:\n${operator.tail(6).split('\n').map((l) => l.slice(0, 300)).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const MARKER = 'SENTINEL-AUTOSCALE-RAN-ON ';

test('a stage\'s task scales its worker group 0 → 1 through Ray\'s KubeRay autoscaler and the real operator, runs on the new worker, and the idle worker goes (replicas back to 0, pod deleted)', async (t) => {
  // Two shapes: ingest, tune and evaluate (1 CPU) share a group; train (2 CPUs, 2Gi) has its own.
  const small = { cpu: 1, memory: '1Gi', gpu: 0, spot: false };
  const large = { cpu: 2, memory: '2Gi', gpu: 0, spot: false };
  const runStages: RunStageShape[] = STAGES.map((stage) => ({ stage, resources: stage === 'train' ? large : small, workers: 1 }));
  const runId = newRunId();
  const name = runClusterNameFor('conformance', runId);
  const req: JobRequest = {
    ...conformanceRequest(runId, 'train', { cpu: large.cpu }, { mode: 'run' }),
    resources: large,
    runStages,
    module: 'sentinel_autoscale_demand',
    pythonPath: join(import.meta.dirname, 'autoscale-job'),
  };
  const compute = new KubeRayCompute({ client: kube.client('lambda'), namespace, workerIdleSeconds: IDLE_SECONDS });
  const manifest = compute.runClusterFor(req);
  assert.deepEqual(manifest.spec.workerGroupSpecs.map((g) => [g.groupName, g.replicas, g.maxReplicas]), [['ingest-tune-evaluate', 0, 1], ['train', 0, 1]]);
  assert.deepEqual(manifest.spec.headGroupSpec.rayStartParams, { 'num-cpus': '0' });
  const watch = watchCluster(name);
  t.after(() => watch.stop());
  const submitted = Date.now();
  await compute.submit(req);

  // The head pod the operator built, with the autoscaler container it added; the kubelet reports it Running.
  const headPod = await until(
    'the head pod',
    async () => (await listPods<HeadPod & Pod>(`ray.io/cluster=${name},ray.io/node-type=head`)).items[0],
    (p) => p?.status?.phase === 'Running',
    60_000,
  ) as HeadPod & Pod;
  assert.equal(headPod.spec.serviceAccountName, jobServiceAccountFor('conformance'));
  const sidecarAt = Date.now();
  sidecar = await startAutoscalerSidecar(kube, { headPod, head: ray, gcs, pythonEnv, logDir });
  assert.deepEqual(sidecar.command, ['ray', 'kuberay-autoscaler', '--cluster-name', name, '--cluster-namespace', namespace], 'the container\'s command, as the operator generated it');

  // The autoscaler's credential is the head's ServiceAccount, and it holds only what the operator's Role grants.
  const saClient = KubeClient.forEndpoint({ server: kube.server, ca: { file: kube.caFile }, token: sidecar.token });
  const who = await saClient.send<{ status: { userInfo: { username: string } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  assert.equal(who.status.userInfo.username, `system:serviceaccount:${namespace}:${jobServiceAccountFor('conformance')}`);
  const forbidden = await saClient.list('rayjobs', namespace, {}).then(() => undefined, (e: unknown) => kubeFailure(e)?.code);
  assert.equal(forbidden, 403, 'the head\'s account cannot list RayJobs');

  // The operator submits the job to Ray; its task waits for a worker; Ray's autoscaler asks for one.
  const done = await until('the stage job', () => compute.get(req.jobId), (s) => Boolean(s && isTerminal(s.state)), 240_000);
  assert.equal(done?.state, 'SUCCEEDED', `${done?.message ?? ''}\nautoscaler:\n${sidecar.tail(30)}`);
  const rayJob = (await requestJson<{ start_time?: number; end_time?: number }>(ray.dashboard, 'GET', `/api/jobs/${req.jobId}`)).body;
  const logs = (await requestJson<{ logs?: string }>(ray.dashboard, 'GET', `/api/jobs/${req.jobId}/logs`)).body?.logs ?? '';
  const line = logs.split('\n').find((l) => l.startsWith(MARKER));
  assert.ok(line, `the job printed where its task ran; logs:\n${logs.slice(-1500)}`);
  const ranOn = JSON.parse(line.slice(MARKER.length)) as { ip: string; node: string };

  // The task ran on a worker pod of the train group that the operator created when the autoscaler asked for it.
  const worker = workers.nodes.find((n) => n.ip === ranOn.ip);
  assert.ok(worker, `the task ran on ${ranOn.ip}, a worker pod's address (workers: ${JSON.stringify(workers.nodes.map((n) => [n.pod, n.ip]))})`);
  assert.equal(worker.group, 'train');
  assert.deepEqual(worker.params, { 'num-cpus': '2', memory: String(2 * 2 ** 30) }, 'the Ray node was started with the resources the operator generated for the group');
  const created = watch.first((s) => s.workerPods.some((p) => p.metadata.name === worker.pod));
  assert.ok(created, 'the worker pod was seen');
  const pod = created.workerPods.find((p) => p.metadata.name === worker.pod)!;
  assert.deepEqual(pod.metadata.ownerReferences?.map((o) => [o.kind, o.name]), [['RayCluster', name]], 'created by the operator for the cluster');
  assert.equal(pod.metadata.labels?.['ray.io/group'], 'train');
  const scaledUp = watch.first((s) => (s.groups.find((g) => g.groupName === 'train')?.replicas ?? 0) >= 1);
  assert.ok(scaledUp, 'the train group\'s replicas went up');
  assert.ok((created.groups.find((g) => g.groupName === 'train')?.replicas ?? 0) >= 1, 'replicas first, then the pod: the first sample with the pod already has train at 1');

  // Idle: the autoscaler names the worker in workersToDelete and sets replicas 0; the operator deletes the pod.
  const deleting = await until('workersToDelete with the idle worker', async () => watch.first((s) => Boolean(s.groups.find((g) => g.groupName === 'train')?.scaleStrategy?.workersToDelete?.includes(worker.pod))), Boolean, 60_000);
  const gone = (await until('the worker pod deleted', async () => watch.samples.at(-1), (s) => Boolean(s && s.at > deleting!.at && !s.workerPods.some((p) => p.metadata.name === worker.pod)), 30_000))!;
  await until('the worker\'s Ray node stopped', async () => worker.stoppedAt, (v) => v !== undefined, 20_000);
  const node = (await rayNodes(ray)).find((n) => n.node_id === ranOn.node);
  assert.equal(node?.state, 'DEAD', 'the Ray node is gone with its pod');
  await until('train back to 0', async () => watch.replicas('train').at(-1), (v) => v === 0, 20_000);
  await watch.stop();
  const trainHistory = watch.replicas('train');
  assert.equal(trainHistory[0], 0, 'from 0');
  assert.equal(Math.max(...trainHistory), 1, 'maxReplicas 1: one worker');
  assert.ok(watch.replicas('ingest-tune-evaluate').every((r) => r === 0), 'the other shape\'s group never scaled: the demand was for train\'s shape');
  assert.equal(workers.nodes.length, 1, 'one worker pod in all');

  const s = (a: number, b: number) => `${((b - a) / 1000).toFixed(1)} s`;
  const demandAt = rayJob?.start_time ?? submitted;
  const idleAt = rayJob?.end_time ?? Date.now();
  t.diagnostic(
    `autoscale: autoscaler sidecar started ${s(demandAt, sidecarAt)} after the Ray job started; demand (Ray job start) → replicas patched ${s(demandAt, scaledUp.at)}, → worker pod created ${s(demandAt, Date.parse(pod.metadata.creationTimestamp))}, ` +
      `→ worker Ready (Ray node ALIVE) ${s(demandAt, worker.readyAt!)} (ray start restarts: ${worker.restarts}); job done ${s(submitted, idleAt)} after submit; ` +
      `idle (job end) → workersToDelete ${s(idleAt, deleting!.at)}, → pod deleted ${s(idleAt, gone.at)} (idleTimeoutSeconds ${IDLE_SECONDS})`,
  );
});
