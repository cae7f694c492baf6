// The shared ComputePort contract on both backends: KubeRay (a real API server, as the least-privileged lambda
// identity) and the Ray Jobs REST API (a real Ray head on 127.0.0.1).
import { after, before } from 'node:test';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startKube, waitForAccess, repoRoot, type KubeHarness } from './harness.js';
import { computeConformance } from './conformance.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { RayJobsCompute } from '../../adapters/ray/jobs-compute.js';
import { startRayHead, type RayHead } from '../../local/ray-head.js';
import { lambdaRbac } from '../../core/kuberay/rbac.js';

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
computeConformance('Ray Jobs REST API (local Ray head)', () => new RayJobsCompute({ dashboard: ray.dashboard, env: ray.jobEnv }));
