// The same state machine drives the KubeRay adapter: the deployable ASL on the local interpreter with the real
// handlers, compute = KubeRayCompute acting as the Lambdas' identity (the project's RBAC only) on a real
// kube-apiserver. No KubeRay operator runs here, so a small loop plays its part: for each new RayJob it writes the
// stage's result.json (as the Ray job would) and the terminal status through /status (as the operator would).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { startKube, waitForAccess, type KubeHarness } from './harness.js';
import { lambdaRbac } from '../../core/kuberay/rbac.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { STAGE_INPUT_ENV, decodeStageInput } from '../../core/stage-input-wire.js';
import { FakeServing, fakeResult } from '../support/fakes.js';
import { harness, statesEntered } from '../support/harness.js';
import type { Stage } from '../../core/stages.js';

interface RayJobObj {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { runtimeEnvYAML?: string };
  status?: { jobStatus?: string };
}

let kube: KubeHarness;
let ns: string;
before(async () => {
  kube = await startKube();
  ns = await kube.namespace('pipeline');
  await kube.createObjects(lambdaRbac(ns));
  const probe = kube.client('lambda');
  await waitForAccess(() => probe.list('rayjobs', ns, { limit: 1 }));
});
after(async () => kube?.stop());

/** Plays KubeRay: each RayJob without status "runs", writes its result.json, and succeeds (or fails, on request). */
function fakeOperator(fail: Partial<Record<Stage, string>> = {}) {
  const admin = kube.client('admin');
  let stopped = false;
  const seen = new Set<string>();
  const loop = (async () => {
    while (!stopped) {
      const page = await admin.list<RayJobObj>('rayjobs', ns, { labelSelector: 'app.kubernetes.io/managed-by=sentinel' });
      for (const job of page.items) {
        if (seen.has(job.metadata.name) || job.status?.jobStatus) continue;
        seen.add(job.metadata.name);
        const env = JSON.parse(job.spec.runtimeEnvYAML ?? '{}') as { env_vars?: Record<string, string> };
        const input = decodeStageInput(env.env_vars?.[STAGE_INPUT_ENV]) as { stage: Stage; stageUri: string };
        const now = new Date();
        const failed = fail[input.stage];
        if (!failed) {
          mkdirSync(input.stageUri, { recursive: true });
          writeFileSync(`${input.stageUri}/result.json`, JSON.stringify(fakeResult(input.stage, input.stageUri)));
        }
        const status = {
          jobStatus: failed ? 'FAILED' : 'SUCCEEDED',
          jobDeploymentStatus: failed ? 'Failed' : 'Complete',
          ...(failed ? { reason: 'AppFailed', message: failed } : {}),
          jobId: `${job.metadata.name}-raysubmit`,
          startTime: new Date(now.getTime() - 2000).toISOString(),
          endTime: now.toISOString(),
        };
        await admin.patch('rayjobs', ns, job.metadata.name, [{ op: 'add', path: '/status', value: status }], 'status');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { stop: async () => ((stopped = true), await loop), seen };
}

test('the pipeline state machine runs every stage as a RayJob on the API server and completes through status', async () => {
  const compute = new KubeRayCompute({ client: kube.client('lambda'), namespace: ns });
  const operator = fakeOperator();
  const h = harness(compute, new FakeServing());
  try {
    const r = await h.start('on-kuberay');
    assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
    assert.deepEqual(statesEntered(r.execution.events), ['PrepareRun', 'Ingest', 'Train', 'Tune', 'Evaluate', 'Gate', 'ShouldPromote', 'Promote', 'PromotionServing', 'RecordPromoted', 'Promoted']);
    const jobs = await compute.list({ 'sentinel.dev/run': r.runId });
    assert.deepEqual(jobs.map((j) => j.labels['sentinel.dev/stage']).sort(), ['evaluate', 'ingest', 'train', 'tune']);
    assert.ok(jobs.every((j) => j.state === 'SUCCEEDED' && j.labels['app.kubernetes.io/managed-by'] === 'sentinel'));
    assert.equal((r.outcome.output as { stages: { train: { jobSeconds: number } } }).stages.train.jobSeconds, 2, 'job time from the RayJob status');
  } finally {
    await operator.stop();
    await h.cleanup();
  }
});

test('a RayJob that KubeRay reports Failed fails the run with RayJobFailed and the job message', async () => {
  const compute = new KubeRayCompute({ client: kube.client('lambda'), namespace: ns });
  const operator = fakeOperator({ tune: 'ValueError: search space is empty' });
  const h = harness(compute, new FakeServing());
  try {
    const r = await h.start('on-kuberay-fails');
    assert.equal(r.outcome.status, 'FAILED');
    assert.equal(r.outcome.error, 'RayJobFailed');
    assert.match(r.outcome.cause!, /tune job .*-tune-1 FAILED: .*search space is empty/);
    const jobs = await compute.list({ 'sentinel.dev/run': r.runId });
    assert.deepEqual(jobs.map((j) => j.labels['sentinel.dev/stage']).sort(), ['ingest', 'train', 'tune']);
  } finally {
    await operator.stop();
    await h.cleanup();
  }
});
