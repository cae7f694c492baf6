// Every manifest Sentinel builds, against a real kube-apiserver with KubeRay v1.7's CRDs: accepted as sent (nothing
// pruned), and passing the checks KubeRay's operator runs; a bad quantity refused with the field and the reason.
// No operator runs here and nothing writes a status: what v1.7 writes is reached for real in test/k8s/operator.test.ts
// and test/k8s/pipeline-on-operator.test.ts, and its shapes are mapped purely in test/unit/kuberay-v17-status.test.ts.
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
import { serveApplicationFor } from '../../core/serve-config.js';
import { rayJobFor, type RayJobManifest } from '../../core/kuberay/rayjob.js';
import { PROMETHEUS_SCRAPE_ANNOTATIONS } from '../../core/kuberay/pods.js';
import { rayServiceFor } from '../../core/kuberay/rayservice.js';
import { lambdaRbac, spotHandlerRbac } from '../../core/kuberay/rbac.js';
import { rayClusterProblems, rayJobProblems, rayServiceProblems, MAX_RAY_JOB_NAME } from '../../core/kuberay/validate.js';
import { runClusterFor } from '../../core/kuberay/raycluster.js';
import { STAGE_INPUT_ENV } from '../../core/kuberay/meta.js';
import { decodeStageInput } from '../../core/stage-input-wire.js';
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

describe('RayJobs read back through KubeRayCompute (no operator here: the spec and metadata only)', () => {
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

describe('serving: RayServiceServing.apply writes the RayService a promotion needs (no operator here)', () => {
  const config = (runId: string) => ({ applications: [serveApplicationFor(spec, { modelUri: `s3://b/a/breast-cancer/${runId}/tune/model`, runId })] });

  test('create, the same config again (no write), a new run (a new cluster spec for NewCluster): what is stored', async () => {
    const serveNs = await kube.namespace('serving');
    const serving = new RayServiceServing({ client: admin, namespace: serveNs, image: spec.image });
    assert.deepEqual(await serving.status(spec.name), { state: 'NOT_STARTED' });
    await serving.apply(spec.name, config('r000000001'));
    // Nothing has written a status (no operator): the lambda reads it as still deploying.
    assert.equal((await serving.status(spec.name)).state, 'DEPLOYING');

    // Same config again: no write at all.
    const rv = (await admin.get<{ metadata: { resourceVersion: string } }>('rayservices', serveNs, spec.name)).metadata.resourceVersion;
    await serving.apply(spec.name, config('r000000001'));
    assert.equal((await admin.get<{ metadata: { resourceVersion: string } }>('rayservices', serveNs, spec.name)).metadata.resourceVersion, rv);

    // Promote r2: the spec changes (the serve config, and the run on the head template → NewCluster's new cluster).
    // What the operator then does with it is test/k8s/pipeline-on-operator.test.ts's blue/green upgrade.
    await serving.apply(spec.name, config('r000000002'));
    const stored = await admin.get<{ spec: { serveConfigV2: string; rayClusterConfig: { headGroupSpec: { template: { metadata: { annotations: Record<string, string> } } } } } }>('rayservices', serveNs, spec.name);
    assert.match(stored.spec.serveConfigV2, /run_id: r000000002/);
    assert.equal(stored.spec.rayClusterConfig.headGroupSpec.template.metadata.annotations['sentinel.dev/run'], 'r000000002');
    assert.equal(serving.endpoint(spec.name, '/predict'), `http://breast-cancer-serve-svc.${serveNs}.svc.cluster.local:8000/predict`);
  });
});
