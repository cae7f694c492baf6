// The real KubeRay v1.7 operator on the real API server, with real Ray behind it (issue 10, item 5): Sentinel's
// KubeRayCompute, as the least-privileged lambda identity, creates RayJobs; the operator (built from
// ../shared/kuberay/operator) creates their RayClusters, a simulated kubelet reports the pods Running, and the
// operator submits each job through the head service's dashboard — which a proxy routes to one local Ray head — and
// writes the RayJob's status from what Ray says. Nothing in this file writes a status: every state below (RUNNING,
// SUCCEEDED with its times, AppFailed, DeadlineExceeded, Suspended, an interrupted job's failure, a spec the operator
// refuses) is one the operator reached and wrote; test/unit/kuberay-v17-status.test.ts maps the same shapes purely.
import { after, before, describe, test } from 'node:test';
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
import { isTerminal, jobSeconds, stageOutcome } from '../../core/job-status.js';
import type { JobStatus } from '../../core/job-status.js';
import type { JobRequest, RunStageShape } from '../../core/ports.js';
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
  // The stage's job time: the operator's startTime (New → Initializing) to its endTime (Complete).
  assert.equal(stageOutcome(done!).kind, 'succeeded');
  assert.equal(jobSeconds(done), (done.endTime - done.startTime) / 1000);
  assert.ok(jobSeconds(done) > 0);
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
  // v1.7: jobStatus FAILED → jobDeploymentStatus Failed, reason AppFailed, message = Ray's (the driver log's tail).
  assert.equal(done.reason, 'AppFailed');
  assert.ok(done.message?.includes('sentinel_no_such_module'), `Ray's message names the module at fault: ${done.message}`);
  const outcome = stageOutcome(done!);
  assert.deepEqual(outcome.kind === 'failed' && outcome.error, 'RayJobFailed');
});

test('stopping a running job through Sentinel ends it in Ray too (the operator calls /stop on delete)', async () => {
  const c = compute();
  const req = conformanceRequest(newRunId(), 'tune');
  await c.submit(req);
  await c.stop(req.jobId);
  const after = await until('the stopped RayJob', () => c.get(req.jobId), (s) => s === undefined || isTerminal(s.state), 60_000);
  if (after) assert.ok(isTerminal(after.state));
});

// The states v1.7 reaches on its own, each from a real job (test/fixtures/stage-sleeper: a stage still running when
// the test looks), read back through KubeRayCompute.get and mapped by core/job-status.ts. They run side by side: the
// longest (the deadline) sets the block's wall time.
const SLEEPER = { module: 'stage_sleeper', pythonPath: join(import.meta.dirname, '..', 'fixtures', 'stage-sleeper') };
const sleeper = (stage: Stage, timeoutSeconds = 600): JobRequest => ({ ...conformanceRequest(newRunId(), stage, { seconds: 120 }), ...SLEEPER, timeoutSeconds });
/** Ray's own record of a RayJob's job (the operator submits it as <RayJob>-<suffix> or the spec's jobId). */
const rayJobOf = async (jobId: string) =>
  (await requestJson<Array<{ submission_id?: string; status?: string }>>(ray.dashboard, 'GET', '/api/jobs/')).body.find((j) => j.submission_id?.startsWith(jobId));
/** What the operator wrote, as stored (read only). */
const storedStatus = async (jobId: string) => (await kube.client('admin').get<{ status?: Record<string, unknown> }>('rayjobs', namespace, jobId)).status ?? {};

describe('v1.7 RayJob statuses, reached by the operator', { concurrency: true }, () => {
  test('RUNNING, then the node is lost: markInterrupted and a real failure (the driver killed) → FAILED AppFailed, SpotInterrupted', async () => {
    const c = compute();
    const req = sleeper('tune');
    await c.submit(req);
    const running = await until('the running RayJob', () => c.get(req.jobId), (s) => s?.state === 'RUNNING' || Boolean(s && isTerminal(s.state)));
    assert.equal(running?.state, 'RUNNING', running?.message);
    assert.equal(stageOutcome(running!).kind, 'running');
    assert.ok(running.startTime && !running.endTime && !running.needsStop, JSON.stringify(running));
    // The driver's pid, from its own first line in Ray's job log.
    const submission = (await rayJobOf(req.jobId))?.submission_id;
    assert.ok(submission, 'Ray knows the job');
    let pid = 0;
    const deadline = Date.now() + 60_000;
    while (!pid && Date.now() < deadline) {
      const logs = (await requestJson<{ logs?: string }>(ray.dashboard, 'GET', `/api/jobs/${submission}/logs`)).body?.logs ?? '';
      pid = Number(/SENTINEL-STAGE-SLEEPER pid=(\d+)/.exec(logs)?.[1] ?? 0);
      if (!pid) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(pid > 0, 'the sleeper printed its pid');
    // The spot handler's mark first (it comes with the 2-minute warning), then the node goes: the driver dies.
    await c.markInterrupted(req.jobId, 'spot interruption warning for i-0123456789abcdef0');
    process.kill(pid, 'SIGKILL');
    const done = await until('the interrupted RayJob', () => c.get(req.jobId), (s) => Boolean(s && isTerminal(s.state)));
    assert.deepEqual([done?.state, done?.reason, done?.interrupted], ['FAILED', 'AppFailed', true], JSON.stringify(done));
    const outcome = stageOutcome(done!);
    assert.equal(outcome.kind === 'failed' && outcome.error, 'SpotInterrupted');
    assert.equal((await rayJobOf(req.jobId))?.status, 'FAILED', 'Ray saw the job fail');
  });

  test('activeDeadlineSeconds: Failed/DeadlineExceeded with the Ray job left running → STOPPED (RayJobStopped), needsStop; deleting it stops the Ray job', async () => {
    const c = compute();
    const req = sleeper('train', 12);
    await c.submit(req);
    const first = await until('the RayJob before its deadline', () => c.get(req.jobId), (s) => s?.state === 'RUNNING' || Boolean(s && isTerminal(s.state)), 60_000);
    const done = await until('the RayJob past its deadline', () => c.get(req.jobId), (s) => Boolean(s && isTerminal(s.state)), 90_000);
    assert.deepEqual([done?.state, done?.reason, done?.needsStop], ['STOPPED', 'DeadlineExceeded', true], JSON.stringify(done));
    const outcome = stageOutcome(done!);
    assert.equal(outcome.kind === 'failed' && outcome.error, 'RayJobStopped');
    assert.equal((await storedStatus(req.jobId)).jobDeploymentStatus, 'Failed');
    if (first?.state === 'RUNNING') {
      // v1.7 only writes the deadline: Ray still runs the job (why Sentinel deletes a needsStop job).
      assert.equal((await rayJobOf(req.jobId))?.status, 'RUNNING', 'the Ray job outlives its RayJob\'s deadline');
      // Deleting it (as the watcher does for needsStop): the operator's finalizer calls Ray's stop. (Without a
      // garbage collector here a Foreground delete never completes; the RayJob reads STOPPED while it is deleted.)
      await c.stop(req.jobId);
      const deadline = Date.now() + 60_000;
      let ray = await rayJobOf(req.jobId);
      while (ray?.status !== 'STOPPED' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        ray = await rayJobOf(req.jobId);
      }
      assert.equal(ray?.status, 'STOPPED', `the operator's finalizer stopped the Ray job\noperator log:\n${operator.tail(20)}`);
    } else {
      await c.stop(req.jobId);
    }
  });

  test('queued by Kueue (created suspended, nothing admits it here): v1.7 writes Suspended, no cluster, no submission → PENDING', async () => {
    const c = new KubeRayCompute({ client: kube.client('lambda'), namespace, kueue: { queueName: 'sentinel-queue' } });
    const req = conformanceRequest(newRunId(), 'evaluate');
    await c.submit(req);
    let stored: Record<string, unknown> = {};
    const deadline = Date.now() + 60_000;
    while (stored.jobDeploymentStatus !== 'Suspended' && Date.now() < deadline) {
      stored = await storedStatus(req.jobId);
      if (stored.jobDeploymentStatus !== 'Suspended') await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(stored.jobDeploymentStatus, 'Suspended', `operator log:\n${operator.tail(20)}`);
    const s = await c.get(req.jobId);
    assert.equal(s?.state, 'PENDING');
    assert.equal(stageOutcome(s!).kind, 'running', 'a queued stage is waiting, not failed');
    assert.ok(!kubelet.started.some((p) => p.startsWith(req.jobId)), 'no pod of its cluster was started');
    assert.ok(!proxy.seen.some((x) => x.host.startsWith(`${req.jobId}-`)), 'nothing was submitted for it');
    await c.stop(req.jobId);
  });

  test('a spec the operator refuses (a runtime env that is not YAML, which Sentinel never sends): ValidationFailed with its message', async () => {
    const req = conformanceRequest(newRunId(), 'ingest');
    const m = compute().manifestFor(req);
    m.spec!.runtimeEnvYAML = 'env_vars: [';
    await kube.client('admin').create('rayjobs', namespace, m);
    const done = await until('the refused RayJob', () => compute().get(req.jobId), (s) => Boolean(s && isTerminal(s.state)), 60_000);
    assert.equal(done?.state, 'FAILED');
    assert.equal((await storedStatus(req.jobId)).jobDeploymentStatus, 'ValidationFailed');
    const outcome = stageOutcome(done!);
    assert.equal(outcome.kind === 'failed' && outcome.error, 'ValidationFailed');
    assert.ok(outcome.kind === 'failed' && outcome.cause.length > 0, 'it says why');
    await compute().stop(req.jobId);
  });
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

