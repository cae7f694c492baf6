// Every manifest Sentinel builds, against a real kube-apiserver with KubeRay v1.7's CRDs: accepted as sent (nothing
// pruned), and passing the checks KubeRay's operator runs; a bad quantity refused with the field and the reason.
// KubeRay's own part (status) is played by writing /status as admin, then read back through the adapters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { startKube, repoRoot, type KubeHarness } from './harness.js';
import { parseSpec, type PipelineSpec } from '../../core/spec.js';
import { IN_FLIGHT, IN_FLIGHT_LABEL, jobNameFor, labelsFor } from '../../core/names.js';
import type { JobRequest } from '../../core/ports.js';
import { stageOutcome, jobSeconds } from '../../core/job-status.js';
import { serveApplicationFor } from '../../core/serve-config.js';
import { rayJobFor, type RayJobManifest } from '../../core/kuberay/rayjob.js';
import { PROMETHEUS_SCRAPE_ANNOTATIONS } from '../../core/kuberay/pods.js';
import { rayServiceFor } from '../../core/kuberay/rayservice.js';
import { lambdaRbac, spotHandlerRbac } from '../../core/kuberay/rbac.js';
import { rayClusterProblems, rayJobProblems, rayServiceProblems, MAX_RAY_JOB_NAME } from '../../core/kuberay/validate.js';
import { runClusterFor } from '../../core/kuberay/raycluster.js';
import { STAGE_INPUT_ENV } from '../../core/kuberay/meta.js';
import { decodeStageInput } from '../../core/stage-input-wire.js';
import { jobStateChangeEvent } from '../../events/job-state-change.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { RayServiceServing } from '../../adapters/kuberay/serving.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import { jobRequestsForRun, renderKubernetes } from '../../cli/render-k8s.js';

/** The shipped spec runs on one cluster per run; the RayJob tests below pin a stage's own (ephemeral) cluster. */
const shipped: PipelineSpec = parseSpec(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8'));
const spec: PipelineSpec = { ...shipped, cluster: { mode: 'ephemeral' } };
const RUN = 'r0a1b2c3d4';

let kube: KubeHarness;
let ns: string;
let admin: KubeClient;

before(async () => {
  kube = await startKube();
  ns = await kube.namespace('manifests');
  admin = kube.client('admin');
});
after(async () => kube?.stop());

/** Everything we sent is stored as sent: the CRD's structural schema prunes unknown fields silently. */
function assertStoredAsSent(stored: unknown, sent: unknown, path = '') {
  if (sent !== null && typeof sent === 'object') {
    assert.ok(stored !== null && typeof stored === 'object', `${path} missing in the stored object`);
    for (const [k, v] of Object.entries(sent)) assertStoredAsSent((stored as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else {
    assert.deepEqual(stored, sent, `${path} stored differently`);
  }
}

async function createAndCompare(m: { kind: string; metadata: { name: string }; spec?: unknown }, plural: string) {
  await admin.create(plural, ns, m);
  const stored = await admin.get<{ spec: unknown; metadata: unknown }>(plural, ns, m.metadata.name);
  assertStoredAsSent(stored.spec, m.spec, `${m.kind} ${m.metadata.name} spec`);
  assertStoredAsSent(stored.metadata, (m as { metadata: unknown }).metadata, `${m.kind} ${m.metadata.name} metadata`);
}

const withSpec = (patch: (s: PipelineSpec) => void): PipelineSpec => {
  const s = structuredClone(spec);
  patch(s);
  return s;
};
const stageReq = (s: PipelineSpec, stage: JobRequest['identity']['stage'], runId = RUN) => jobRequestsForRun(s, runId).find((r) => r.identity.stage === stage)!;
const pod = (m: RayJobManifest, group: 'head' | 'worker') =>
  group === 'head' ? m.spec!.rayClusterSpec!.headGroupSpec.template : m.spec!.rayClusterSpec!.workerGroupSpecs[0]!.template;

describe('RayJob manifests', () => {
  test('each stage of the reference pipeline: accepted by the API server and by KubeRay v1.7 rules', async () => {
    for (const req of jobRequestsForRun(spec, RUN)) {
      const m = rayJobFor(req, { namespace: ns, prometheus: true });
      assert.deepEqual(rayJobProblems(m), [], req.jobId);
      await createAndCompare(m, 'rayjobs');
      const s = m.spec!;
      assert.equal(s.entrypoint, `python -m ${spec.stages[req.identity.stage].module}`);
      assert.equal(s.submissionMode, 'HTTPMode');
      assert.equal(s.backoffLimit, 0);
      assert.equal(s.activeDeadlineSeconds, spec.stages[req.identity.stage].timeoutSeconds);
      assert.equal(s.shutdownAfterJobFinishes, true);
      assert.equal(s.ttlSecondsAfterFinished, 60);
      assert.equal(s.jobId, req.jobId);
      // The run's labels, and the watcher's in-flight mark (it lists only jobs in flight: core/watch-jobs.ts).
      assert.deepEqual(m.metadata.labels, { ...labelsFor(req.identity), [IN_FLIGHT_LABEL]: IN_FLIGHT });
      // The input travels as data: the runtime env carries it encoded (core/stage-input-wire.ts), the entrypoint never does.
      const env = parseYaml(s.runtimeEnvYAML, { version: '1.1' }) as { env_vars: Record<string, string> };
      assert.deepEqual(decodeStageInput(env.env_vars[STAGE_INPUT_ENV]), req.input);
      // Head always on-demand; workers on spot exactly when the stage asks for it.
      assert.deepEqual(pod(m, 'head').spec.nodeSelector, { 'karpenter.sh/capacity-type': 'on-demand' });
      const spot = spec.stages[req.identity.stage].resources.spot;
      assert.deepEqual(pod(m, 'worker').spec.nodeSelector, { 'karpenter.sh/capacity-type': spot ? 'spot' : 'on-demand' });
      assert.equal(Boolean(pod(m, 'worker').spec.tolerations?.some((t) => t.value === 'spot')), spot);
      // Ray's own metrics: every Ray pod of the cluster is annotated for Prometheus' pod discovery (KubeRay's port 8080).
      for (const group of ['head', 'worker'] as const) assert.deepEqual(pod(m, group).metadata.annotations, PROMETHEUS_SCRAPE_ANNOTATIONS, group);
    }
    // Off unless asked (the deployment's adapters ask: functions/aws/deps.ts).
    assert.equal(pod(rayJobFor(stageReq(spec, 'train'), { namespace: ns }), 'head').metadata.annotations, undefined);
  });

  test('one cluster per run (the shipped default): the run\'s RayCluster and the RayJobs selecting it are stored as sent and pass KubeRay v1.7 rules', async () => {
    const requests = jobRequestsForRun(shipped, 'r0a1b2c3e0');
    const cluster = runClusterFor(requests[0]!, { namespace: ns, prometheus: true });
    assert.deepEqual(rayClusterProblems(cluster), []);
    await createAndCompare(cluster, 'rayclusters');
    for (const req of requests) {
      const m = rayJobFor(req, { namespace: ns, prometheus: true });
      assert.deepEqual(m.spec!.clusterSelector, { 'ray.io/cluster': cluster.metadata.name });
      assert.deepEqual(rayJobProblems(m), [], req.jobId);
      await createAndCompare(m, 'rayjobs');
    }
  });

  test('hostile input stays data: shell syntax in the input never reaches the entrypoint', async () => {
    const req = stageReq(spec, 'ingest', 'r0a1b2c3d5');
    req.input = { ...req.input, params: { datasetUri: 's3://b/$(touch /tmp/pwned)`id`";rm -rf /\'.csv' } };
    const m = rayJobFor(req, { namespace: ns });
    assert.equal(m.spec!.entrypoint, 'python -m sentinel_jobs.ingest');
    await createAndCompare(m, 'rayjobs');
    const env = parseYaml(m.spec!.runtimeEnvYAML, { version: '1.1' }) as { env_vars: Record<string, string> };
    assert.deepEqual(decodeStageInput(env.env_vars[STAGE_INPUT_ENV]), req.input);
    assert.throws(() => rayJobFor({ ...req, module: 'x; rm -rf /' }, { namespace: ns }), /not a Python module path/);
  });

  test('GPU and spot: nvidia.com/gpu on the workers with a GPU toleration, spot workers, on-demand GPU-less head', async () => {
    const s = withSpec((x) => (x.stages.train.resources = { cpu: 4, memory: '16Gi', gpu: 1, spot: true }));
    const m = rayJobFor(stageReq(s, 'train', 'r0a1b2c3d6'), { namespace: ns });
    assert.deepEqual(rayJobProblems(m), []);
    await createAndCompare(m, 'rayjobs');
    const worker = pod(m, 'worker').spec;
    assert.deepEqual(worker.containers[0]!.resources.limits, { cpu: '4', memory: '16Gi', 'nvidia.com/gpu': '1' });
    assert.deepEqual(worker.nodeSelector, { 'karpenter.sh/capacity-type': 'spot' });
    assert.ok(worker.tolerations?.some((t) => t.key === 'nvidia.com/gpu'));
    const head = pod(m, 'head').spec;
    assert.equal(head.containers[0]!.resources.limits['nvidia.com/gpu'], undefined);
    assert.deepEqual(head.nodeSelector, { 'karpenter.sh/capacity-type': 'on-demand' });
    assert.equal(head.tolerations, undefined);
  });

  test('existing cluster: clusterSelector, no cluster spec, never shuts the cluster down', async () => {
    const s = withSpec((x) => (x.cluster = { mode: 'existing', selector: { 'ray.io/cluster': 'shared-cpu' } }));
    const m = rayJobFor(stageReq(s, 'tune', 'r0a1b2c3d7'), { namespace: ns });
    assert.deepEqual(rayJobProblems(m), []);
    await createAndCompare(m, 'rayjobs');
    assert.deepEqual(m.spec!.clusterSelector, { 'ray.io/cluster': 'shared-cpu' });
    assert.equal(m.spec!.rayClusterSpec, undefined);
    assert.equal(m.spec!.shutdownAfterJobFinishes, false);
    assert.equal(m.spec!.ttlSecondsAfterFinished, undefined);
    // KubeRay v1.7 reads only "ray.io/cluster"; a selector without it would be parked as ValidationFailed.
    const bad = withSpec((x) => (x.cluster = { mode: 'existing', selector: { team: 'ml' } }));
    assert.throws(() => rayJobFor(stageReq(bad, 'tune'), { namespace: ns }), /ray\.io\/cluster/);
  });

  test('names: the longest name the spec allows is exactly KubeRay\'s limit, and valid', async () => {
    const longest = 'p'.repeat(23) + '1';
    const name = jobNameFor(longest, RUN, 'evaluate', 99);
    assert.equal(name.length, MAX_RAY_JOB_NAME);
    const req = { ...stageReq(withSpec((x) => (x.name = longest)), 'evaluate'), jobId: name };
    const m = rayJobFor(req, { namespace: ns });
    assert.deepEqual(rayJobProblems(m), []);
    await createAndCompare(m, 'rayjobs');
    assert.deepEqual(rayJobProblems({ ...m, metadata: { ...m.metadata, name: `${name}x` } }), [`name "${name}x" is longer than 47 characters`, 'derived RayCluster name too long']);
    assert.throws(() => jobNameFor(`${longest}x`, RUN, 'evaluate', 99), /not a valid job name/);
  });

  test('a bad resource quantity is refused by the server, and the error names the field and the reason', async () => {
    const compute = new KubeRayCompute({ client: admin, namespace: ns });
    const req = { ...stageReq(spec, 'ingest', 'r0a1b2c3d8') };
    req.resources = { ...req.resources, memory: 'lots' };
    await assert.rejects(compute.submit(req), (e: Error & { where?: string }) => {
      assert.equal(e.name, 'ValidationFailed');
      assert.equal(e.where, 'spec.rayClusterSpec.headGroupSpec.template.spec.containers[0].resources.limits.memory');
      assert.match(e.message, /RayJob [\w-]+ refused by the API server \(Invalid\): Invalid value: "lots": should match/);
      assert.match(e.message, /the same for 3 more field\(s\): .*requests\.memory/);
      return true;
    });
    assert.equal(await compute.get(req.jobId), undefined, 'nothing stored');
  });
});

describe('RayService and RBAC manifests', () => {
  test('the pipeline\'s RayService: accepted, KubeRay-valid, serveConfigV2 is the serve config', async () => {
    const app = serveApplicationFor(spec, { modelUri: 's3://b/a/breast-cancer/r0a1b2c3d4/tune/model', runId: RUN });
    const m = rayServiceFor({ pipeline: spec.name, namespace: ns, image: spec.image, config: { applications: [app] }, prometheus: true });
    assert.deepEqual(rayServiceProblems(m), []);
    await createAndCompare(m, 'rayservices');
    assert.deepEqual(m.spec.upgradeStrategy, { type: 'NewCluster' });
    const serve = parseYaml(m.spec.serveConfigV2) as { applications: unknown[]; http_options: unknown };
    assert.deepEqual(serve.applications, [app]);
    assert.deepEqual(serve.http_options, { host: '0.0.0.0', port: 8000 });
    assert.equal(m.spec.rayClusterConfig.headGroupSpec.template.metadata.annotations?.['sentinel.dev/run'], RUN);
    // Ray's and Serve's metrics from the serving cluster's pods, scraped like the stage clusters'.
    assert.equal(m.spec.rayClusterConfig.headGroupSpec.template.metadata.annotations?.['prometheus.io/scrape'], 'true');
    assert.deepEqual(m.spec.rayClusterConfig.workerGroupSpecs[0]!.template.metadata.annotations, PROMETHEUS_SCRAPE_ANNOTATIONS);
  });

  test('RBAC objects are accepted', async () => {
    await kube.createObjects([...lambdaRbac(ns), ...spotHandlerRbac()]);
  });

  test('sentinel render\'s Kubernetes files are what the API server accepts', async () => {
    const out = await mkdtemp(join(tmpdir(), 'sentinel-render-'));
    try {
      const files = await renderKubernetes(out, shipped, 'r0a1b2c3d9', await kube.namespace('render'));
      assert.equal(files.filter((f) => f.includes('/rayjobs/')).length, 4);
      assert.equal(files.filter((f) => f.endsWith('/raycluster.yaml')).length, 1, 'the run\'s cluster');
      for (const f of files) {
        const objects = parseAllDocuments(await readFile(f, 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
        for (const o of objects) {
          if (o.kind === 'RayJob') assert.deepEqual(rayJobProblems(o as RayJobManifest), [], o.metadata.name);
          if (o.kind === 'RayService') assert.deepEqual(rayServiceProblems(o as never), []);
          if (o.kind === 'RayCluster') assert.deepEqual(rayClusterProblems(o as never), []);
        }
        // The ClusterRole(Binding) exist since the RBAC test; everything else is new in this namespace.
        await kube.createObjects(objects, { dryRun: true, ignoreExisting: true });
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('status: KubeRay\'s /status mapped to core\'s JobStatus and stage outcome', () => {
  const t0 = '2026-11-23T10:00:00Z';
  const t1 = '2026-11-23T10:02:30Z';
  const cases: Array<[string, Record<string, unknown>, { state: string; outcome: string; interrupted?: boolean }]> = [
    ['initializing', { jobDeploymentStatus: 'Initializing', startTime: t0 }, { state: 'PENDING', outcome: 'running' }],
    ['running', { jobDeploymentStatus: 'Running', jobStatus: 'RUNNING', startTime: t0 }, { state: 'RUNNING', outcome: 'running' }],
    ['Ray done, KubeRay not yet', { jobDeploymentStatus: 'Running', jobStatus: 'SUCCEEDED', startTime: t0 }, { state: 'RUNNING', outcome: 'running' }],
    ['complete', { jobDeploymentStatus: 'Complete', jobStatus: 'SUCCEEDED', startTime: t0, endTime: t1 }, { state: 'SUCCEEDED', outcome: 'succeeded' }],
    ['app failed', { jobDeploymentStatus: 'Failed', jobStatus: 'FAILED', reason: 'AppFailed', message: 'Job entrypoint command failed with exit code 1', endTime: t1 }, { state: 'FAILED', outcome: 'RayJobFailed' }],
    ['job says ValidationFailed', { jobDeploymentStatus: 'Complete', jobStatus: 'FAILED', message: "ValidationFailed: column 'x' has 3 NaN values" }, { state: 'FAILED', outcome: 'ValidationFailed' }],
    ['deadline', { jobDeploymentStatus: 'Failed', jobStatus: 'RUNNING', reason: 'DeadlineExceeded', message: 'The RayJob has passed the activeDeadlineSeconds' }, { state: 'STOPPED', outcome: 'RayJobStopped' }],
    ['operator refused the spec', { jobDeploymentStatus: 'ValidationFailed', reason: 'ValidationFailed', message: 'The RayJob spec is invalid: x' }, { state: 'FAILED', outcome: 'ValidationFailed' }],
    ['queued by Kueue', { jobDeploymentStatus: 'Suspended' }, { state: 'PENDING', outcome: 'running' }],
  ];
  for (const [name, status, want] of cases) {
    test(name, async () => {
      const compute = new KubeRayCompute({ client: admin, namespace: ns });
      const req = stageReq(spec, 'train', `r${(0xabc000000 + cases.findIndex((c) => c[0] === name)).toString(16)}`);
      await compute.submit(req);
      await admin.patch('rayjobs', ns, req.jobId, [{ op: 'add', path: '/status', value: status }], 'status');
      const s = (await compute.get(req.jobId))!;
      assert.equal(s.state, want.state);
      const outcome = stageOutcome(s);
      assert.equal(outcome.kind === 'failed' ? outcome.error : outcome.kind, want.outcome);
      if (status.startTime) assert.equal(s.startTime, Date.parse(t0));
      if (status.reason) assert.equal(s.reason, status.reason);
      if (name === 'complete') assert.equal(jobSeconds(s), 150);
      if (name === 'operator refused the spec') assert.match(outcome.kind === 'failed' ? outcome.cause : '', /The RayJob spec is invalid: x/);
      // What the watcher would publish for it.
      const event = jobStateChangeEvent('kuberay', s, 's3://b/artifacts', new Date());
      assert.equal(event?.detail.stage, 'train');
    });
  }

  test('interrupted: the spot handler\'s annotation turns the failure into SpotInterrupted', async () => {
    const compute = new KubeRayCompute({ client: admin, namespace: ns });
    const req = stageReq(spec, 'tune', 'r0abcdef01');
    await compute.submit(req);
    await compute.markInterrupted(req.jobId, 'spot interruption warning for i-0123456789abcdef0');
    await admin.patch('rayjobs', ns, req.jobId, [{ op: 'add', path: '/status', value: { jobDeploymentStatus: 'Failed', jobStatus: 'FAILED', reason: 'AppFailed', message: 'node lost' } }], 'status');
    const s = (await compute.get(req.jobId))!;
    assert.equal(s.interrupted, true);
    const outcome = stageOutcome(s);
    assert.equal(outcome.kind === 'failed' && outcome.error, 'SpotInterrupted');
    assert.match(await compute.logs(req.jobId, 5), /^RayJob .*: Ray job .*\n.*\nnode lost$/);
  });

  test('stopped (deleted with Foreground propagation) reads as STOPPED while KubeRay cleans up', async () => {
    const compute = new KubeRayCompute({ client: admin, namespace: ns });
    const req = stageReq(spec, 'evaluate', 'r0abcdef02');
    await compute.submit(req);
    await compute.stop(req.jobId);
    const s = (await compute.get(req.jobId))!;
    assert.equal(s.state, 'STOPPED');
    assert.equal(s.reason, 'Deleted');
  });

  test('list pages through results with limit/continue', async () => {
    const client = kube.client('admin');
    const compute = new KubeRayCompute({ client, namespace: ns, pageSize: 3 });
    const runId = 'r0abcdef03';
    const reqs = jobRequestsForRun(spec, runId).flatMap((r) => [r, { ...r, jobId: jobNameFor(spec.name, runId, r.identity.stage, 2), identity: { ...r.identity, attempt: 2 }, labels: labelsFor({ ...r.identity, attempt: 2 }) }]);
    for (const r of reqs.slice(0, 7)) await compute.submit(r);
    const before = client.calls;
    const listed = await compute.list({ 'sentinel.dev/run': runId });
    assert.deepEqual(listed.map((s) => s.jobId).sort(), reqs.slice(0, 7).map((r) => r.jobId).sort());
    assert.equal(client.calls - before, 3, '7 items at 3 per page');
  });
});

describe('serving: RayService status mapped to ServeStatus with the serving run', () => {
  const now = new Date().toISOString();
  const cond = (type: string, status: string, reason: string) => ({ type, status, reason, message: reason, lastTransitionTime: now });
  const config = (runId: string) => ({ applications: [serveApplicationFor(spec, { modelUri: `s3://b/a/breast-cancer/${runId}/tune/model`, runId })] });
  const app = (status: string, message = '') => ({ [spec.name]: { status, ...(message ? { message } : {}) } });

  test('create, upgrade blue/green, fail, switch: status says what is serving', async () => {
    const serveNs = await kube.namespace('serving');
    const serving = new RayServiceServing({ client: admin, namespace: serveNs, image: spec.image });
    const setStatus = (value: unknown) =>
      admin.patch('rayservices', serveNs, spec.name, [{ op: 'add', path: '/status', value }], 'status');
    const cluster = async (name: string, runId: string) =>
      admin.create('rayclusters', serveNs, {
        apiVersion: 'ray.io/v1', kind: 'RayCluster', metadata: { name, namespace: serveNs },
        spec: { headGroupSpec: { rayStartParams: {}, template: { metadata: { annotations: { 'sentinel.dev/run': runId } }, spec: { containers: [{ name: 'ray-head', image: spec.image }] } } } },
      });

    assert.deepEqual(await serving.status(spec.name), { state: 'NOT_STARTED' });
    await serving.apply(spec.name, config('r000000001'));
    assert.equal((await serving.status(spec.name)).state, 'DEPLOYING');

    await cluster(`${spec.name}-aaaaa`, 'r000000001');
    await setStatus({ conditions: [cond('Ready', 'True', 'NonZeroServeEndpoints'), cond('UpgradeInProgress', 'False', 'NoPendingCluster')], activeServiceStatus: { rayClusterName: `${spec.name}-aaaaa`, applicationStatuses: app('RUNNING') } });
    assert.deepEqual(await serving.status(spec.name), { state: 'RUNNING', runId: 'r000000001' });

    // Same config again: no write at all.
    const rv = (await admin.get<{ metadata: { resourceVersion: string } }>('rayservices', serveNs, spec.name)).metadata.resourceVersion;
    await serving.apply(spec.name, config('r000000001'));
    assert.equal((await admin.get<{ metadata: { resourceVersion: string } }>('rayservices', serveNs, spec.name)).metadata.resourceVersion, rv);

    // Promote r2: the spec changes (new head annotation → NewCluster), but the old cluster still serves r1.
    await serving.apply(spec.name, config('r000000002'));
    const stored = await admin.get<{ spec: { serveConfigV2: string; rayClusterConfig: { headGroupSpec: { template: { metadata: { annotations: Record<string, string> } } } } } }>('rayservices', serveNs, spec.name);
    assert.match(stored.spec.serveConfigV2, /run_id: r000000002/);
    assert.equal(stored.spec.rayClusterConfig.headGroupSpec.template.metadata.annotations['sentinel.dev/run'], 'r000000002');
    assert.deepEqual(await serving.status(spec.name), { state: 'RUNNING', runId: 'r000000001' });

    await setStatus({
      conditions: [cond('Ready', 'True', 'NonZeroServeEndpoints'), cond('UpgradeInProgress', 'True', 'BothActivePendingClustersExist')],
      activeServiceStatus: { rayClusterName: `${spec.name}-aaaaa`, applicationStatuses: app('RUNNING') },
      pendingServiceStatus: { rayClusterName: `${spec.name}-bbbbb`, applicationStatuses: app('DEPLOYING') },
    });
    const upgrading = await serving.status(spec.name);
    assert.equal(upgrading.runId, 'r000000001');
    assert.match(upgrading.message ?? '', /upgrade in progress/);

    await setStatus({
      conditions: [cond('Ready', 'True', 'NonZeroServeEndpoints'), cond('UpgradeInProgress', 'True', 'BothActivePendingClustersExist')],
      activeServiceStatus: { rayClusterName: `${spec.name}-aaaaa`, applicationStatuses: app('RUNNING') },
      pendingServiceStatus: { rayClusterName: `${spec.name}-bbbbb`, applicationStatuses: app('DEPLOY_FAILED', 'ImportError: no module named xgboost') },
    });
    const failed = await serving.status(spec.name);
    assert.equal(failed.state, 'DEPLOY_FAILED');
    assert.equal(failed.runId, 'r000000001', 'the champion keeps serving');
    assert.match(failed.message ?? '', /ImportError/);

    await cluster(`${spec.name}-bbbbb`, 'r000000002');
    await setStatus({ conditions: [cond('Ready', 'True', 'NonZeroServeEndpoints'), cond('UpgradeInProgress', 'False', 'NoPendingCluster')], activeServiceStatus: { rayClusterName: `${spec.name}-bbbbb`, applicationStatuses: app('RUNNING') } });
    assert.deepEqual(await serving.status(spec.name), { state: 'RUNNING', runId: 'r000000002' });
    assert.equal(serving.endpoint(spec.name, '/predict'), `http://breast-cancer-serve-svc.${serveNs}.svc.cluster.local:8000/predict`);
  });
});
