// The shared ComputePort contract on both backends: KubeRay (a real API server, as the least-privileged lambda
// identity) and the Ray Jobs REST API (a real Ray head on 127.0.0.1).
import { after, before } from 'node:test';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startKube, waitForAccess, repoRoot, type KubeHarness } from './harness.js';
import { computeConformance, logsWhenDone, stageInputConformance } from './conformance.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { RayJobsCompute } from '../../adapters/ray/jobs-compute.js';
import { startRayHead, type RayHead } from '../../local/ray-head.js';
import { lambdaRbac } from '../../core/kuberay/rbac.js';
import type { RayJobManifest } from '../../core/kuberay/rayjob.js';
import { requestJson } from '../../adapters/ray/http.js';
import { parseYaml11 } from '../support/yaml11.js';

let kube: KubeHarness;
let ray: RayHead;
let namespace: string;

before(async () => {
  const logDir = mkdtempSync(join(tmpdir(), 'sentinel-conformance-'));
  // Both in parallel: each takes 10-20 s to come up on a small machine.
  const [k, r] = await Promise.allSettled([
    startKube(),
    startRayHead({ pythonEnv: join(repoRoot, '.venv'), numCpus: 2, logFile: join(logDir, 'ray.log') }),
  ]);
  if (k.status === 'fulfilled') kube = k.value;
  if (r.status === 'fulfilled') ray = r.value;
  if (k.status === 'rejected') throw k.reason;
  if (r.status === 'rejected') throw r.reason;
  namespace = await kube.namespace('conformance');
  await kube.createObjects(lambdaRbac(namespace));
  const probe = kube.client('lambda');
  await waitForAccess(() => probe.list('rayjobs', namespace, { limit: 1 }));
});

after(async () => {
  await Promise.all([kube?.stop(), ray?.stop()]);
});

computeConformance('KubeRay (RayJob, as sentinel:lambda)', () => new KubeRayCompute({ client: kube.client('lambda'), namespace }));
// One cluster per run: the RayCluster the adapter creates first and the RayJobs that select it, on the API server.
computeConformance('KubeRay, one RayCluster per run (as sentinel:lambda)', () => new KubeRayCompute({ client: kube.client('lambda'), namespace }), { mode: 'run' });
computeConformance('Ray Jobs REST API (local Ray head)', () => new RayJobsCompute({ dashboard: ray.dashboard, env: ray.jobEnv }));

// Stage input through real Ray jobs. Ray Jobs: the adapter submits to the head. KubeRay: the adapter creates the
// RayJob on the API server; no operator runs here, so the test does what v1.7's HTTPMode does with it: parse
// runtimeEnvYAML with a YAML 1.1 parser (libyaml, as go-yaml) and POST the job to the Ray head.
stageInputConformance('Ray Jobs REST API (local Ray head)', async (req) => {
  const c = new RayJobsCompute({ dashboard: ray.dashboard, env: ray.jobEnv });
  await c.submit(req);
  return logsWhenDone(c, req.jobId);
});
stageInputConformance('KubeRay (RayJob on the API server, submitted as the operator does)', async (req) => {
  await new KubeRayCompute({ client: kube.client('lambda'), namespace }).submit(req);
  const job = await kube.client('admin').get<RayJobManifest>('rayjobs', namespace, req.jobId);
  const runtimeEnv = parseYaml11(job.spec!.runtimeEnvYAML) as { env_vars: Record<string, string> };
  const body = {
    entrypoint: job.spec!.entrypoint,
    submission_id: job.spec!.jobId,
    // The local head's own PATH (its virtualenv), as an image's PATH would be on a cluster.
    runtime_env: { ...runtimeEnv, env_vars: { ...ray.jobEnv, ...runtimeEnv.env_vars } },
    metadata: job.spec!.metadata,
  };
  const res = await requestJson(ray.dashboard, 'POST', '/api/jobs/', body);
  if (res.status !== 200) throw new Error(`Ray refused the operator's submission: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  return logsWhenDone(new RayJobsCompute({ dashboard: ray.dashboard, env: ray.jobEnv }), req.jobId);
});
