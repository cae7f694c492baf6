// The real KubeRay v1.7 operator on the real API server, with real Ray behind it (issue 10, item 5): Sentinel's
// KubeRayCompute, as the least-privileged lambda identity, creates RayJobs; the operator (built from
// ../shared/kuberay/operator) creates their RayClusters, a simulated kubelet reports the pods Running, and the
// operator submits each job through the head service's dashboard — which a proxy routes to one local Ray head — and
// writes the RayJob's status from what Ray says. Nothing in this file writes a status.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startKube, waitForAccess, repoRoot, type KubeHarness } from './harness.js';
import { computeConformance, conformanceRequest, newRunId } from './conformance.js';
import { buildOperator, startDashboardProxy, startOperator, startSimulatedKubelet, type DashboardProxy, type Operator, type SimulatedKubelet } from './operator.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { requestJson } from '../../adapters/ray/http.js';
import { startRayHead, type RayHead } from '../../local/ray-head.js';
import { lambdaRbac } from '../../core/kuberay/rbac.js';
import { isTerminal } from '../../core/job-status.js';
import type { JobStatus } from '../../core/job-status.js';
import type { RunStageShape } from '../../core/ports.js';
import { STAGES, type Stage } from '../../core/stages.js';
import { runClusterNameFor } from '../../core/names.js';
import { serviceAccountsFor } from '../../core/kuberay/identity.js';
import { executionEnded } from '../../core/execution-ended.js';
import { runRecordUri } from '../../core/artifacts.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { FileTokenStore } from '../../local/token-store.js';

let kube: KubeHarness;
let ray: RayHead;
let proxy: DashboardProxy;
let kubelet: SimulatedKubelet;
let operator: Operator;
let namespace: string;
const logDir = mkdtempSync(join(tmpdir(), 'sentinel-operator-'));

before(async () => {
  const [k, r, b] = await Promise.allSettled([
    startKube(),
    startRayHead({ pythonEnv: join(repoRoot, '.venv'), numCpus: 4, logFile: join(logDir, 'ray.log') }),
    buildOperator(),
  ]);
  if (k.status === 'fulfilled') kube = k.value;
  if (r.status === 'fulfilled') ray = r.value;
  for (const s of [k, r, b]) if (s.status === 'rejected') throw s.reason;
  const binary = (b as PromiseFulfilledResult<string>).value;
  namespace = await kube.namespace('operator');
  await kube.createObjects(lambdaRbac(namespace));
  // The run cluster's head runs as the pipeline's job account (KubeRay does not create an account a pod names).
  await kube.createObjects(serviceAccountsFor(namespace, 'conformance'));
  const probe = kube.client('lambda');
  await waitForAccess(() => probe.list('rayjobs', namespace, { limit: 1 }));
  proxy = await startDashboardProxy(ray.dashboard);
  kubelet = startSimulatedKubelet(kube, namespace);
  operator = await startOperator(kube, { binary, namespace, httpProxy: proxy.url, logFile: join(logDir, 'operator.log') });
});

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  await proxy?.close();
  await Promise.all([kube?.stop(), ray?.stop()]);
});

const compute = () => new KubeRayCompute({ client: kube.client('lambda'), namespace });

async function until(what: string, read: () => Promise<JobStatus | undefined>, ok: (s: JobStatus | undefined) => boolean, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await read();
    if (ok(s)) return s;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(s)} after ${timeoutMs} ms\noperator log:\n${operator.tail(30)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('a RayJob Sentinel creates is submitted by the real operator to real Ray and SUCCEEDS, with the status the operator wrote', async () => {
  const c = compute();
  const req = conformanceRequest(newRunId(), 'ingest', { n: 1, text: 'price$HOME.csv' });
  await c.submit(req);
  const done = await until('the RayJob', () => c.get(req.jobId), (s) => Boolean(s && isTerminal(s.state)));
  assert.equal(done?.state, 'SUCCEEDED', done?.message);
  assert.ok(done?.startTime && done.endTime && done.endTime >= done.startTime, 'times from the operator');
  // The operator submitted it through the head service, and Ray ran it: Ray's own record of the job says so.
  const posted = proxy.seen.filter((s) => s.method === 'POST' && s.path === '/api/jobs/' && s.host.startsWith(`${req.jobId}-`));
  assert.ok(posted.length >= 1, `the operator POSTed the job to its cluster's head service (saw ${JSON.stringify(proxy.seen.slice(-5))})`);
  const jobs = (await requestJson<Array<{ submission_id?: string; status?: string; entrypoint?: string }>>(ray.dashboard, 'GET', '/api/jobs/')).body;
  const mine = jobs.find((j) => j.submission_id?.startsWith(req.jobId));
  assert.equal(mine?.status, 'SUCCEEDED', 'Ray ran the job to completion');
  assert.ok(kubelet.started.some((p) => p.startsWith(req.jobId)), 'the job ran on a cluster whose pods the kubelet started');
});

test('a job that fails in Ray is FAILED through the operator, with its message', async () => {
  const c = compute();
  const req = { ...conformanceRequest(newRunId(), 'train'), module: 'sentinel_no_such_module' };
  await c.submit(req);
  const done = await until('the failing RayJob', () => c.get(req.jobId), (s) => Boolean(s && isTerminal(s.state)));
  assert.equal(done?.state, 'FAILED');
});

test('stopping a running job through Sentinel ends it in Ray too (the operator calls /stop on delete)', async () => {
  const c = compute();
  const req = conformanceRequest(newRunId(), 'tune');
  await c.submit(req);
  await c.stop(req.jobId);
  const after = await until('the stopped RayJob', () => c.get(req.jobId), (s) => s === undefined || isTerminal(s.state), 60_000);
  if (after) assert.ok(isTerminal(after.state));
});

computeConformance('KubeRay with the real operator on real Ray', compute);

// One RayCluster per run (issue 10 item 3): the adapter creates the run's cluster once (KubeRay's in-tree autoscaler
// on, workers from 0), every stage's RayJob selects it, the operator runs each on it, and the run's end deletes it.
const runStages: RunStageShape[] = STAGES.map((stage) => ({ stage, resources: { cpu: 1, memory: '1Gi', gpu: 0, spot: false }, workers: stage === 'train' ? 2 : 1 }));
const runRequest = (runId: string, stage: Stage) => ({ ...conformanceRequest(runId, stage, { n: 1 }, { mode: 'run' }), runStages });
const clustersOfRun = async (runId: string) =>
  (await kube.client('admin').list<{ metadata: { name: string; deletionTimestamp?: string } }>('rayclusters', namespace, { labelSelector: `sentinel.dev/run=${runId}` })).items.filter((c) => !c.metadata.deletionTimestamp);

test('a run\'s four stages on the real operator: 1 RayCluster in total, every RayJob on it, endRun deletes it', async (t) => {
  const c = compute();
  const runId = newRunId();
  const name = runClusterNameFor('conformance', runId);
  const started = Date.now();
  const runStage = async (stage: Stage) => {
    const req = runRequest(runId, stage);
    await c.submit(req);
    const done = await until(`the ${stage} RayJob`, () => c.get(req.jobId), (s) => Boolean(s && isTerminal(s.state)));
    assert.equal(done?.state, 'SUCCEEDED', `${stage}: ${done?.message ?? ''}`);
    const job = await kube.client('admin').get<{ status?: { rayClusterName?: string } }>('rayjobs', namespace, req.jobId);
    assert.equal(job.status?.rayClusterName, name, `${stage} ran on the run's cluster`);
  };
  // The first stage creates the cluster; the other three find it (submitted at once, so their creates race too,
  // and it takes a third of the time of one after the other).
  await runStage('ingest');
  await Promise.all(STAGES.slice(1).map(runStage));
  const clusters = await clustersOfRun(runId);
  assert.deepEqual(clusters.map((x) => x.metadata.name), [name], 'one RayCluster for the whole run');
  assert.equal(c.runClustersCreated, 1);
  t.diagnostic(`RayCluster creations per run: ${c.runClustersCreated} (4 stages, ${((Date.now() - started) / 1000).toFixed(1)} s through the operator)`);
  // The operator accepted and reconciled it: the head pod (with its autoscaler sidecar) and the autoscaler's RBAC.
  const rc = await kube.client('admin').get<{ status?: { state?: string } }>('rayclusters', namespace, name);
  assert.equal(rc.status?.state, 'ready', `operator log:\n${operator.tail(30)}`);
  const pods = (await kube.core('admin').listNamespacedPod({ namespace, labelSelector: `ray.io/cluster=${name}` })).items;
  const head = pods.find((p) => p.metadata?.labels?.['ray.io/node-type'] === 'head');
  assert.ok(head, 'the head pod');
  assert.ok(head.spec?.containers.some((x) => x.name === 'autoscaler'), 'KubeRay added its in-tree autoscaler to the head');
  assert.equal(head.spec?.serviceAccountName, 'sentinel-job-conformance');
  assert.equal(pods.filter((p) => p.metadata?.labels?.['ray.io/node-type'] === 'worker').length, 0, 'no worker until the autoscaler asks for one');
  const binding = await kube.client('admin').send<{ subjects?: Array<{ name: string }> }>('GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings/${name}`);
  assert.deepEqual(binding.subjects?.map((x) => x.name), ['sentinel-job-conformance'], 'the autoscaler Role is bound to the head\'s account');

  assert.deepEqual(await c.endRun({ pipeline: 'conformance', runId }), { deleted: [name] });
  assert.deepEqual(await clustersOfRun(runId), [], 'the run cluster is gone');
  assert.deepEqual(await c.endRun({ pipeline: 'conformance', runId }), { deleted: [] }, 'idempotent');
});

test('an aborted execution: execution-ended stops the run\'s job and deletes the run\'s RayCluster', async () => {
  const c = compute();
  const runId = newRunId();
  const name = runClusterNameFor('conformance', runId);
  const dir = mkdtempSync(join(logDir, 'aborted-'));
  const store = new LocalObjectStore();
  const artifactRoot = join(dir, 'artifacts');
  const run = { pipeline: 'conformance', runId, artifactRoot };
  await store.putJson(runRecordUri(artifactRoot, 'conformance', runId), { pipeline: 'conformance', runId, status: 'RUNNING', trigger: { kind: 'manual', requestId: runId }, datasetUri: 'd.csv', startedAt: new Date().toISOString() });
  await c.submit(runRequest(runId, 'train'));
  assert.deepEqual((await clustersOfRun(runId)).map((x) => x.metadata.name), [name]);
  const detail = { executionArn: 'arn:aws:states:x', stateMachineArn: 'arn:aws:states:y', name: `conformance-${runId}`, status: 'ABORTED' as const, input: JSON.stringify({ run }) };
  const res = await executionEnded(detail, { compute: c, tokens: new FileTokenStore(join(dir, 'tokens')), store, artifactRoot, now: () => new Date() });
  assert.equal(res.record, 'recorded');
  assert.deepEqual(res.runEnded, { deleted: [name] });
  assert.deepEqual(await clustersOfRun(runId), [], 'the run cluster is gone');
});

