// The KubeRay objects core builds (core/kuberay/): what the adapters send to the API server, as data. The k8s suite
// proves the API server and KubeRay's rules accept them; these pin what they contain, without a cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { entrypointFor, rayJobFor, requestHash, runtimeEnvFor, DEFAULT_TTL_SECONDS_AFTER_FINISHED } from '../../core/kuberay/rayjob.js';
import { cpuQuantity, podTemplate, EKS_MANAGED_NODE_GROUPS, KARPENTER } from '../../core/kuberay/pods.js';
import { canonicalJson, specHash, RAY_API_VERSION } from '../../core/kuberay/meta.js';
import { encodeStageInput } from '../../core/stage-input-wire.js';
import { rayServiceFor, runOfConfig, rayServiceNameFor } from '../../core/kuberay/rayservice.js';
import { lambdaRbac, spotHandlerRbac } from '../../core/kuberay/rbac.js';
import { rayJobProblems, rayServiceProblems } from '../../core/kuberay/validate.js';
import type { JobRequest } from '../../core/ports.js';
import type { ServeConfig, ServeDeployment } from '../../core/serve-config.js';

const labels = { 'app.kubernetes.io/managed-by': 'sentinel', 'sentinel.dev/pipeline': 'churn', 'sentinel.dev/run': 'r0a1b2c3d4', 'sentinel.dev/stage': 'train', 'sentinel.dev/attempt': '1' };
const request = (extra: Partial<JobRequest> = {}): JobRequest => ({
  jobId: 'churn-r0a1b2c3d4-train-1',
  identity: { pipeline: 'churn', runId: 'r0a1b2c3d4', stage: 'train', attempt: 1 },
  module: 'sentinel_jobs.train',
  input: { stage: 'train', params: { numWorkers: 3, iterations: 10 } },
  resources: { cpu: 2, memory: '4Gi', gpu: 0, spot: false },
  timeoutSeconds: 900,
  image: 'sentinel/jobs:1',
  cluster: { mode: 'ephemeral' },
  labels,
  ...extra,
});

test('a stage attempt on an ephemeral cluster: the whole RayJob', () => {
  const m = rayJobFor(request(), { namespace: 'ml' });
  const pod = (container: string) => ({
    // The pipeline's own job identity (core/kuberay/identity.ts), and the label the NetworkPolicies tell uses apart by.
    metadata: { labels: { ...labels, 'sentinel.dev/role': 'job' } },
    spec: {
      serviceAccountName: 'sentinel-job-churn',
      containers: [{ name: container, image: 'sentinel/jobs:1', resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } } }],
      nodeSelector: { 'karpenter.sh/capacity-type': 'on-demand' },
    },
  });
  assert.deepEqual(m, {
    apiVersion: 'ray.io/v1',
    kind: 'RayJob',
    // In flight until the watcher settles it (only on the RayJob: not its Ray job's metadata, not its pods).
    metadata: { name: 'churn-r0a1b2c3d4-train-1', namespace: 'ml', labels: { ...labels, 'sentinel.dev/in-flight': 'true' }, annotations: { 'sentinel.dev/spec-hash': requestHash(request()) } },
    spec: {
      entrypoint: 'python -m sentinel_jobs.train',
      jobId: 'churn-r0a1b2c3d4-train-1',
      metadata: labels,
      runtimeEnvYAML: JSON.stringify({ env_vars: { SENTINEL_STAGE_INPUT: encodeStageInput(request().input) } }),
      submissionMode: 'HTTPMode',
      backoffLimit: 0,
      activeDeadlineSeconds: 900,
      shutdownAfterJobFinishes: true,
      ttlSecondsAfterFinished: 60,
      rayClusterSpec: {
        enableInTreeAutoscaling: false,
        headGroupSpec: { rayStartParams: {}, template: pod('ray-head') },
        workerGroupSpecs: [{ groupName: 'workers', replicas: 3, minReplicas: 3, maxReplicas: 3, rayStartParams: {}, template: pod('ray-worker') }],
      },
    },
  });
  assert.equal(DEFAULT_TTL_SECONDS_AFTER_FINISHED, 60);
  assert.deepEqual(rayJobProblems(m), [], 'KubeRay v1.7 accepts it');
  // The labels are copies: changing the manifest does not change the request.
  m.metadata.labels['x'] = 'y';
  assert.equal('x' in labels, false);
});

test('spot workers with GPUs: tolerations and capacity on the workers, the head on-demand without GPUs', () => {
  const m = rayJobFor(request({ resources: { cpu: 0.5, memory: '8Gi', gpu: 2, spot: true } }), { namespace: 'ml', capacity: EKS_MANAGED_NODE_GROUPS, ttlSecondsAfterFinished: 5 });
  const cluster = m.spec!.rayClusterSpec!;
  assert.equal(m.spec!.ttlSecondsAfterFinished, 5);
  assert.deepEqual(cluster.headGroupSpec.template.spec, {
    serviceAccountName: 'sentinel-job-churn',
    containers: [{ name: 'ray-head', image: 'sentinel/jobs:1', resources: { requests: { cpu: '500m', memory: '8Gi' }, limits: { cpu: '500m', memory: '8Gi' } } }],
    nodeSelector: { 'eks.amazonaws.com/capacityType': 'ON_DEMAND' },
  });
  const q = { cpu: '500m', memory: '8Gi', 'nvidia.com/gpu': '2' };
  assert.deepEqual(cluster.workerGroupSpecs[0]!.template.spec, {
    serviceAccountName: 'sentinel-job-churn',
    containers: [{ name: 'ray-worker', image: 'sentinel/jobs:1', resources: { requests: q, limits: q } }],
    nodeSelector: { 'eks.amazonaws.com/capacityType': 'SPOT' },
    tolerations: [
      { key: 'eks.amazonaws.com/capacityType', operator: 'Equal', value: 'SPOT', effect: 'NoSchedule' },
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ],
  });
  assert.deepEqual(rayJobProblems(m), []);
  // Karpenter's labels by default.
  const k = rayJobFor(request({ resources: { cpu: 1, memory: '1Gi', gpu: 0, spot: true } }), { namespace: 'ml' });
  assert.deepEqual(k.spec!.rayClusterSpec!.workerGroupSpecs[0]!.template.spec.nodeSelector, { 'karpenter.sh/capacity-type': 'spot' });
  assert.deepEqual(k.spec!.rayClusterSpec!.workerGroupSpecs[0]!.template.spec.tolerations, [{ key: 'karpenter.sh/capacity-type', operator: 'Equal', value: 'spot', effect: 'NoSchedule' }]);
  assert.deepEqual(KARPENTER, { key: 'karpenter.sh/capacity-type', onDemand: 'on-demand', spot: 'spot' });
});

test("workers: train's numWorkers, else tune's maxConcurrent, else one; never below one", () => {
  const workers = (params: Record<string, unknown> | undefined) =>
    rayJobFor(request({ input: params === undefined ? { stage: 'ingest' } : { params } }), { namespace: 'ml' }).spec!.rayClusterSpec!.workerGroupSpecs[0]!;
  assert.equal(workers({ numWorkers: 4, maxConcurrent: 2 }).replicas, 4);
  assert.equal(workers({ maxConcurrent: 2 }).replicas, 2);
  assert.equal(workers({ numWorkers: '4', maxConcurrent: 3 }).replicas, 3, 'only numbers count');
  assert.equal(workers({ maxConcurrent: '2' }).replicas, 1);
  assert.equal(workers({}).replicas, 1);
  assert.equal(workers(undefined).replicas, 1);
  assert.equal(workers({ numWorkers: 2.7 }).replicas, 2);
  assert.equal(workers({ numWorkers: 0 }).replicas, 1);
  const w = workers({ numWorkers: 5 });
  assert.deepEqual([w.replicas, w.minReplicas, w.maxReplicas], [5, 5, 5]);
});

test('an existing cluster: selected by name, never shut down, no cluster spec; it must be named', () => {
  const m = rayJobFor(request({ cluster: { mode: 'existing', selector: { 'ray.io/cluster': 'shared' } } }), { namespace: 'ml', ttlSecondsAfterFinished: 5 });
  assert.deepEqual(m.spec!.clusterSelector, { 'ray.io/cluster': 'shared' });
  assert.equal(m.spec!.shutdownAfterJobFinishes, false);
  assert.equal('rayClusterSpec' in m.spec!, false);
  assert.equal('ttlSecondsAfterFinished' in m.spec!, false);
  assert.deepEqual(rayJobProblems(m), []);
  assert.throws(() => rayJobFor(request({ cluster: { mode: 'existing', selector: { team: 'a' } } }), { namespace: 'ml' }), { name: 'ValidationFailed' });
});

test('the entrypoint is a fixed command over a module path; anything else is refused', () => {
  assert.equal(entrypointFor('sentinel_jobs.train'), 'python -m sentinel_jobs.train');
  assert.equal(entrypointFor('_x'), 'python -m _x');
  assert.equal(entrypointFor('Pkg.Mod_2'), 'python -m Pkg.Mod_2');
  for (const bad of ['', 'a b', 'a;rm -rf /', '$(id)', '1abc', 'a..b', 'a.', '.a', 'a.1b', 'a:b', 'x\nimport os']) {
    assert.throws(() => entrypointFor(bad), { name: 'ValidationFailed' }, JSON.stringify(bad));
    assert.throws(() => rayJobFor(request({ module: bad }), { namespace: 'ml' }), { name: 'ValidationFailed' });
  }
});

test("the runtime env carries the stage input as data, and spec.code as PYTHONPATH", () => {
  assert.deepEqual(runtimeEnvFor({ input: { a: '$(id)' } }), { env_vars: { SENTINEL_STAGE_INPUT: Buffer.from('{"a":"$(id)"}').toString('base64') } });
  assert.deepEqual(runtimeEnvFor({ input: {}, pythonPath: '/code' }), { env_vars: { PYTHONPATH: '/code', SENTINEL_STAGE_INPUT: 'e30=' } });
  const m = rayJobFor(request({ pythonPath: '/opt/churn' }), { namespace: 'ml' });
  assert.deepEqual(JSON.parse(m.spec!.runtimeEnvYAML).env_vars.PYTHONPATH, '/opt/churn');
});

test('the request hash: the same request hashes the same whatever its key order; any requested field changes it', () => {
  const base = requestHash(request());
  assert.match(base, /^[0-9a-f]{16}$/);
  const reordered = request({ input: { params: { iterations: 10, numWorkers: 3 }, stage: 'train' } });
  assert.equal(requestHash(reordered), base);
  assert.equal(requestHash(request({ jobId: 'other-name' })), base, 'the name it is stored under is not part of it');
  const changes: Array<Partial<JobRequest>> = [
    { module: 'sentinel_jobs.tune' },
    { input: { stage: 'train', params: { numWorkers: 4, iterations: 10 } } },
    { pythonPath: '/code' },
    { resources: { cpu: 2, memory: '4Gi', gpu: 0, spot: true } },
    { timeoutSeconds: 901 },
    { image: 'sentinel/jobs:2' },
    { cluster: { mode: 'existing', selector: { 'ray.io/cluster': 'x' } } },
    { labels: { ...labels, extra: '1' } },
  ];
  for (const c of changes) assert.notEqual(requestHash(request(c)), base, JSON.stringify(c));
});

test('canonical JSON sorts keys at every depth and drops undefined; the spec hash is its SHA-256 prefix', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: null }], c: undefined } }), '{"a":{"d":[2,{"y":null,"z":1}]},"b":1}');
  assert.equal(canonicalJson([{ b: 1, a: 2 }]), '[{"a":2,"b":1}]');
  assert.equal(canonicalJson(null), 'null');
  assert.equal(canonicalJson(undefined), 'null');
  assert.equal(canonicalJson('x"y'), '"x\\"y"');
  assert.equal(canonicalJson({ B: 1, a: 2, _: 3 }), '{"B":1,"_":3,"a":2}');
  assert.equal(canonicalJson({ aa: 1, a: 2 }), '{"a":2,"aa":1}');
  assert.equal(specHash({ a: 1, b: 2 }), specHash({ b: 2, a: 1 }));
  assert.notEqual(specHash({ a: 1 }), specHash({ a: 2 }));
  assert.equal(specHash({}).length, 16);
  assert.equal(RAY_API_VERSION, 'ray.io/v1');
});

test('CPU quantities: whole cores as they are, fractions in millicores rounded up; nothing non-positive', () => {
  assert.equal(cpuQuantity(1), '1');
  assert.equal(cpuQuantity(16), '16');
  assert.equal(cpuQuantity(0.25), '250m');
  assert.equal(cpuQuantity(1.5), '1500m');
  assert.equal(cpuQuantity(0.0001), '1m');
  assert.equal(cpuQuantity(0.0015), '2m');
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => cpuQuantity(bad), { name: 'ValidationFailed' }, String(bad));
});

test('a pod template: requests equal limits, annotations only when given, GPU only when asked', () => {
  const t = podTemplate({ container: 'ray-worker', image: 'i', cpu: 1, memory: '1Gi', gpu: 0, spot: false, capacity: KARPENTER, labels: { a: 'b' }, annotations: { n: 'v' } });
  assert.deepEqual(t, {
    metadata: { labels: { a: 'b' }, annotations: { n: 'v' } },
    spec: {
      containers: [{ name: 'ray-worker', image: 'i', resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } } }],
      nodeSelector: { 'karpenter.sh/capacity-type': 'on-demand' },
    },
  });
  const gpu = podTemplate({ container: 'ray-head', image: 'i', cpu: 1, memory: '1Gi', gpu: 1, spot: false, capacity: KARPENTER, labels: {} });
  assert.deepEqual(gpu.spec.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  assert.equal(gpu.spec.containers[0]!.resources.limits['nvidia.com/gpu'], '1');
  assert.equal('annotations' in gpu.metadata, false);
});

const deployment = (min: number, max: number, cpus: number): ServeDeployment => ({
  name: 'ModelServer',
  max_ongoing_requests: 32,
  autoscaling_config: { min_replicas: min, max_replicas: max, initial_replicas: min, target_ongoing_requests: 5, upscale_delay_s: 1, downscale_delay_s: 30, look_back_period_s: 5, metrics_interval_s: 1 },
  ray_actor_options: { num_cpus: cpus },
});
const serveConfig = (deployments: ServeDeployment[], runId = 'r0a1b2c3d4'): ServeConfig => ({
  applications: [{ name: 'churn', route_prefix: '/predict', import_path: 'sentinel_sdk.serving:app', args: { model_uri: 's3://m', run_id: runId, pipeline: 'churn', max_rows: 1000 }, deployments }],
});

test("the pipeline's RayService: named after it, the run stamped on it and its head, serveConfigV2 from the serve config", () => {
  const config = serveConfig([deployment(1, 4, 1)]);
  const m = rayServiceFor({ pipeline: 'churn', namespace: 'ml', image: 'img', config });
  const svcLabels = { 'app.kubernetes.io/managed-by': 'sentinel', 'sentinel.dev/pipeline': 'churn' };
  assert.deepEqual(m.metadata, { name: 'churn', namespace: 'ml', labels: svcLabels, annotations: { 'sentinel.dev/run': 'r0a1b2c3d4', 'sentinel.dev/spec-hash': specHash(m.spec) } });
  assert.equal(rayServiceNameFor('churn'), 'churn');
  assert.deepEqual([m.apiVersion, m.kind], ['ray.io/v1', 'RayService']);
  assert.deepEqual(m.spec.upgradeStrategy, { type: 'NewCluster' });
  const head = m.spec.rayClusterConfig.headGroupSpec;
  assert.deepEqual(head.rayStartParams, { 'num-cpus': '0' }, 'no replicas on the head');
  // Serve pods: the pipeline's read-only Serve identity and the serve role label (the object itself keeps svcLabels).
  assert.deepEqual(head.template.metadata, { labels: { ...svcLabels, 'sentinel.dev/role': 'serve' }, annotations: { 'sentinel.dev/run': 'r0a1b2c3d4' } });
  assert.equal(head.template.spec.serviceAccountName, 'sentinel-serve-churn');
  assert.deepEqual(head.template.spec.containers[0]!.resources.requests, { cpu: '1', memory: '2Gi' });
  assert.deepEqual(head.template.spec.nodeSelector, { 'karpenter.sh/capacity-type': 'on-demand' });
  assert.equal(m.spec.rayClusterConfig.enableInTreeAutoscaling, true);
  assert.deepEqual(parse(m.spec.serveConfigV2), { http_options: { host: '0.0.0.0', port: 8000 }, applications: config.applications });
  const w = m.spec.rayClusterConfig.workerGroupSpecs[0]!;
  assert.deepEqual([w.groupName, w.replicas, w.minReplicas, w.maxReplicas], ['serve', 1, 1, 4]);
  assert.deepEqual(w.template.spec.containers[0]!.resources.requests, { cpu: '1', memory: '2Gi' });
  assert.deepEqual(w.template.spec.nodeSelector, { 'karpenter.sh/capacity-type': 'on-demand' }, 'serving never on spot');
  assert.equal(w.template.spec.serviceAccountName, 'sentinel-serve-churn');
  assert.equal(w.template.metadata.labels['sentinel.dev/role'], 'serve');
  assert.deepEqual(rayServiceProblems(m), []);
  // A new run changes the cluster config (blue/green) and the hash.
  const next = rayServiceFor({ pipeline: 'churn', namespace: 'ml', image: 'img', config: serveConfig([deployment(1, 4, 1)], 'r9999999999'.slice(0, 10)) });
  assert.notEqual(next.metadata.annotations['sentinel.dev/spec-hash'], m.metadata.annotations['sentinel.dev/spec-hash']);
  const custom = rayServiceFor({ pipeline: 'churn', namespace: 'ml', image: 'img', config, capacity: EKS_MANAGED_NODE_GROUPS, workerMemory: '6Gi' });
  assert.deepEqual(custom.spec.rayClusterConfig.workerGroupSpecs[0]!.template.spec.containers[0]!.resources.limits, { cpu: '1', memory: '6Gi' });
  assert.deepEqual(custom.spec.rayClusterConfig.workerGroupSpecs[0]!.template.spec.nodeSelector, { 'eks.amazonaws.com/capacityType': 'ON_DEMAND' });
});

test('serve workers: pods as large as the largest replica, enough for every deployment at min and at max', () => {
  const workers = (ds: ServeDeployment[]) => {
    const w = rayServiceFor({ pipeline: 'p', namespace: 'ml', image: 'i', config: serveConfig(ds) }).spec.rayClusterConfig.workerGroupSpecs[0]!;
    return { cpu: w.template.spec.containers[0]!.resources.requests.cpu, min: w.minReplicas, max: w.maxReplicas, replicas: w.replicas };
  };
  assert.deepEqual(workers([deployment(2, 6, 1)]), { cpu: '1', min: 2, max: 6, replicas: 2 });
  assert.deepEqual(workers([deployment(1, 3, 2)]), { cpu: '2', min: 1, max: 3, replicas: 1 });
  assert.deepEqual(workers([deployment(3, 5, 0.5)]), { cpu: '1', min: 2, max: 3, replicas: 2 }, 'half-CPU replicas share a 1-CPU pod');
  assert.deepEqual(workers([deployment(1, 2, 1.5)]), { cpu: '2', min: 1, max: 2, replicas: 1 });
  assert.deepEqual(workers([deployment(0, 2, 1)]), { cpu: '1', min: 1, max: 2, replicas: 1 }, 'at least one worker');
  assert.deepEqual(workers([deployment(2, 2, 1), deployment(1, 4, 2)]), { cpu: '2', min: 2, max: 5, replicas: 2 });
  assert.deepEqual(workers([deployment(4, 4, 1)]), { cpu: '1', min: 4, max: 4, replicas: 4 });
});

test('a serve config must name its run', () => {
  assert.equal(runOfConfig(serveConfig([])), 'r0a1b2c3d4');
  assert.equal(runOfConfig({ applications: [] }), undefined);
  const noRun = serveConfig([deployment(1, 1, 1)], '');
  assert.equal(runOfConfig(noRun), undefined);
  assert.throws(() => rayServiceFor({ pipeline: 'p', namespace: 'ml', image: 'i', config: noRun }), { name: 'ValidationFailed' });
  // The first application that names one.
  const two: ServeConfig = { applications: [{ ...noRun.applications[0]! }, { ...serveConfig([], 'r1111111111'.slice(0, 10)).applications[0]! }] };
  assert.equal(runOfConfig(two), 'r111111111');
});

test("RBAC: the Lambdas' Role and RoleBinding in the namespace, the spot handler's ClusterRole and binding", () => {
  const managed = { 'app.kubernetes.io/managed-by': 'sentinel' };
  assert.deepEqual(lambdaRbac('ml'), [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'sentinel-lambda', namespace: 'ml', labels: managed },
      rules: [
        { apiGroups: ['ray.io'], resources: ['rayjobs'], verbs: ['create', 'get', 'list', 'delete', 'patch'] },
        { apiGroups: ['ray.io'], resources: ['rayservices'], verbs: ['create', 'get', 'patch'] },
        { apiGroups: ['ray.io'], resources: ['rayclusters'], verbs: ['create', 'get', 'list', 'patch', 'delete'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'sentinel-lambda', namespace: 'ml', labels: managed },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sentinel:lambda' }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sentinel-lambda' },
    },
  ]);
  assert.deepEqual(spotHandlerRbac('ops'), [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'sentinel-spot-handler', labels: managed },
      rules: [
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'patch'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'sentinel-spot-handler', labels: managed },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'ops' }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'sentinel-spot-handler' },
    },
  ]);
  assert.equal((lambdaRbac('ml', 'g')[1]!.subjects![0] as { name: string }).name, 'g');
  assert.equal((spotHandlerRbac()[1]!.subjects![0] as { name: string }).name, 'sentinel:lambda');
});
