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
