// How long the completion watcher's list takes with 5,000 RayJobs in the namespace: a real kube-apiserver (tools/kube),
// 5,000 RayJobs as submit-stage builds them (created at concurrency 16 as admin; not measured), then the watcher's
// call, as the lambda identity: label selector app.kubernetes.io/managed-by=sentinel, pages of 500, status mapping.
// Run: node_modules/.bin/node --import tsx bench/kuberay-list.ts [count]
import { startKube, waitForAccess } from '../test/k8s/harness.js';
import { KubeRayCompute } from '../adapters/kuberay/compute.js';
import { rayJobFor } from '../core/kuberay/rayjob.js';
import { lambdaRbac } from '../core/kuberay/rbac.js';
import { jobNameFor, labelsFor } from '../core/names.js';
import { STAGES } from '../core/stages.js';
import type { JobRequest } from '../core/ports.js';

const COUNT = Number(process.argv[2] ?? 5000);
const CONCURRENCY = 16;
const PAGE = 500;
const TARGET_S = 10;

function request(i: number): JobRequest {
  const stage = STAGES[i % STAGES.length]!;
  const runId = `r${(i >> 2).toString(16).padStart(9, '0')}`;
  const identity = { pipeline: 'breast-cancer', runId, stage, attempt: 1 };
  return {
    jobId: jobNameFor('breast-cancer', runId, stage, 1),
    identity,
    module: `sentinel_jobs.${stage}`,
    input: { pipeline: 'breast-cancer', runId, stage, stageUri: `s3://bucket/artifacts/breast-cancer/${runId}/${stage}`, runUri: `s3://bucket/artifacts/breast-cancer/${runId}`, params: { target: 'target', task: 'binary', metric: 'roc_auc', iterations: 60 } },
    resources: { cpu: 1, memory: '4Gi', gpu: 0, spot: stage === 'train' || stage === 'tune' },
    timeoutSeconds: 3600,
    image: 'ghcr.io/sentinel-dev/sentinel-jobs:0.1.0',
    cluster: { mode: 'ephemeral' },
    labels: labelsFor(identity),
  };
}

const kube = await startKube();
try {
  const ns = await kube.namespace('bench');
  await kube.createObjects(lambdaRbac(ns));
  const admin = kube.client('admin');

  const t0 = performance.now();
  let next = 0;
  const states = ['SUCCEEDED', 'FAILED', 'RUNNING'];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < COUNT) {
        const i = next++;
        const m = rayJobFor(request(i), { namespace: ns });
        await admin.create('rayjobs', ns, m);
        // A third finished, a third failed, a third running: the mapping has real work to do.
        if (i % 10 === 0) {
          const s = states[i % 3]!;
          const status = { jobStatus: s, jobDeploymentStatus: s === 'RUNNING' ? 'Running' : s === 'SUCCEEDED' ? 'Complete' : 'Failed', startTime: '2026-11-23T10:00:00Z' };
          await admin.patch('rayjobs', ns, m.metadata.name, [{ op: 'add', path: '/status', value: status }], 'status');
        }
      }
    }),
  );
  const createS = (performance.now() - t0) / 1000;
  console.log(`created ${COUNT} RayJobs in ${createS.toFixed(1)} s (concurrency ${CONCURRENCY}, admin; not measured)`);

  const lambda = kube.client('lambda');
  const compute = new KubeRayCompute({ client: lambda, namespace: ns, pageSize: PAGE });
  await waitForAccess(() => lambda.list('rayjobs', ns, { limit: 1 }));
  // Same call as the watcher; first a warm-up, then three measured runs.
  await compute.list({ 'app.kubernetes.io/managed-by': 'sentinel' });
  const runs: Array<{ s: number; calls: number; jobs: number; byState: Record<string, number> }> = [];
  for (let r = 0; r < 3; r++) {
    const before = lambda.calls;
    const t = performance.now();
    const jobs = await compute.list({ 'app.kubernetes.io/managed-by': 'sentinel' });
    const s = (performance.now() - t) / 1000;
    const byState: Record<string, number> = {};
    for (const j of jobs) byState[j.state] = (byState[j.state] ?? 0) + 1;
    runs.push({ s, calls: lambda.calls - before, jobs: jobs.length, byState });
  }
  for (const [i, r] of runs.entries()) {
    console.log(`list-and-map run ${i + 1}: ${r.jobs} jobs in ${r.s.toFixed(2)} s, ${r.calls} API calls (limit ${PAGE}); states ${JSON.stringify(r.byState)}`);
  }
  const worst = Math.max(...runs.map((r) => r.s));
  const ok = runs.every((r) => r.jobs === COUNT) && worst <= TARGET_S;
  console.log(`kuberay-list: ${COUNT} RayJobs listed and mapped in ${worst.toFixed(2)} s worst of 3 with ${runs[0]!.calls} API calls; target ≤ ${TARGET_S} s: ${ok ? 'met' : 'NOT met'}`);
  process.exitCode = ok ? 0 : 1;
} finally {
  await kube.stop();
}
