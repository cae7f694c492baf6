// RBAC is enough and no more (as the real lambda identity, group sentinel:lambda), and the API failures the
// adapters retry: a 409 Conflict from a real concurrent write, 429/503 injected by a proxy in front of the real server.
import { runClusterFor } from '../../core/kuberay/raycluster.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CoreV1Api } from '@kubernetes/client-node';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { startKube, waitForAccess, repoRoot, type KubeHarness } from './harness.js';
import { startProxy, type Proxy, type Verdict } from './proxy.js';
import { conformanceRequest, newRunId } from './conformance.js';
import { parseSpec } from '../../core/spec.js';
import { serveApplicationFor } from '../../core/serve-config.js';
import { lambdaRbac, spotHandlerRbac, LAMBDA_RULES, SPOT_HANDLER_RULES, FUNCTION_RULES, functionGroup, functionRbac, KUBE_FUNCTIONS, type PolicyRule } from '../../core/kuberay/rbac.js';
import { namespaceManifest, networkPolicies, serviceAccountsFor } from '../../core/kuberay/identity.js';
import { rayJobFor } from '../../core/kuberay/rayjob.js';
import { rayServiceFor } from '../../core/kuberay/rayservice.js';
import { jobRequestsForRun } from '../../cli/render-k8s.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { RayServiceServing } from '../../adapters/kuberay/serving.js';
import { KubeClient } from '../../adapters/kuberay/client.js';
import { DEFAULT_RETRY, kubeFailure, type RetryPolicy } from '../../adapters/kuberay/retry.js';

const spec = parseSpec(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8'));
const config = (runId: string) => ({ applications: [serveApplicationFor(spec, { modelUri: `s3://b/a/${spec.name}/${runId}/tune/model`, runId })] });

let kube: KubeHarness;
let ns: string;

before(async () => {
  kube = await startKube();
  ns = await kube.namespace('access');
  await kube.createObjects([...lambdaRbac(ns), ...spotHandlerRbac()]);
  const probe = kube.client('lambda');
  await waitForAccess(() => probe.list('rayjobs', ns, { limit: 1 }));
  await waitForAccess(() => kube.core('lambda').listNode());
});
after(async () => kube?.stop());

const expectForbidden = async (what: string, call: () => Promise<unknown>) => {
  await assert.rejects(call(), (e: unknown) => {
    assert.equal(kubeFailure(e)?.code ?? (e as { code?: number }).code, 403, `${what}: expected 403 Forbidden`);
    return true;
  }, what);
};

describe('RBAC for sentinel:lambda', () => {
  test('enough: every call the KubeRay adapters make succeeds as the lambda', async () => {
    const lambda = kube.client('lambda');
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const req = conformanceRequest(newRunId(), 'train');
    assert.equal((await compute.submit(req)).created, true); // create
    assert.equal((await compute.submit(req)).created, false); // create → AlreadyExists → get
    assert.equal((await compute.get(req.jobId))?.jobId, req.jobId); // get
    assert.equal((await compute.list({ 'sentinel.dev/run': req.identity.runId })).length, 1); // list
    assert.match(await compute.logs(req.jobId, 10), /RayJob/); // get
    await compute.markInterrupted(req.jobId, 'spot'); // patch
    assert.equal((await compute.get(req.jobId))?.interrupted, true);
    await compute.stop(req.jobId); // delete

    // An existing cluster is looked up before submitting to it.
    await kube.client('admin').create('rayclusters', ns, {
      apiVersion: 'ray.io/v1', kind: 'RayCluster', metadata: { name: 'shared-cpu', namespace: ns },
      spec: { headGroupSpec: { rayStartParams: {}, template: { spec: { containers: [{ name: 'ray-head', image: spec.image }] } } } },
    });
    const onShared = { ...conformanceRequest(newRunId(), 'tune'), cluster: { mode: 'existing' as const, selector: { 'ray.io/cluster': 'shared-cpu' } } };
    assert.equal((await compute.submit(onShared)).created, true);
    const missing = { ...conformanceRequest(newRunId(), 'tune'), cluster: { mode: 'existing' as const, selector: { 'ray.io/cluster': 'nope' } } };
    await assert.rejects(compute.submit(missing), /RayCluster "nope" not found/);

    const serving = new RayServiceServing({ client: lambda, namespace: ns, image: spec.image });
    await serving.apply(spec.name, config('r000000001')); // get → create
    await serving.apply(spec.name, config('r000000002')); // get → patch
    // No operator runs here and the test writes no status: the RayService has none yet. (status() as the lambda on
    // a RayService the real operator serves from: test/k8s/pipeline-on-operator.test.ts.)
    assert.equal((await serving.status(spec.name)).state, 'DEPLOYING'); // get rayservice
    assert.equal((await lambda.get<{ metadata: { name: string } }>('rayclusters', ns, 'shared-cpu')).metadata.name, 'shared-cpu'); // get raycluster: the run status() reads off the active cluster
  });

  test('enough: the spot handler cordons a node, lists its pods and evicts them as the lambda', async () => {
    const admin = kube.core('admin');
    const lambda: CoreV1Api = kube.core('lambda');
    const node = 'ip-10-0-1-23.eu-west-1.compute.internal';
    await admin.createNode({ body: { metadata: { name: node }, spec: { providerID: 'aws:///eu-west-1a/i-0123456789abcdef0' } } });
    await admin.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'ray-worker-1', labels: { 'ray.io/cluster': 'c1' } }, spec: { nodeName: node, containers: [{ name: 'ray-worker', image: spec.image }] } },
    });
    assert.equal((await lambda.readNode({ name: node })).spec?.providerID, 'aws:///eu-west-1a/i-0123456789abcdef0');
    assert.ok((await lambda.listNode()).items.some((n) => n.metadata?.name === node));
    await lambda.patchNode({ name: node, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
    assert.equal((await admin.readNode({ name: node })).spec?.unschedulable, true);
    const pods = await lambda.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name), ['ray-worker-1']);
    await lambda.createNamespacedPodEviction({ name: 'ray-worker-1', namespace: ns, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'ray-worker-1', namespace: ns } } });
    // No kubelet here: the evicted pod is marked for deletion and stays Terminating.
    assert.ok((await admin.readNamespacedPod({ name: 'ray-worker-1', namespace: ns })).metadata?.deletionTimestamp);
  });

  test('no more: the lambda cannot read secrets, delete nodes, create pods or forge a job\'s status', async () => {
    const lambda = kube.core('lambda');
    await expectForbidden('list secrets', () => lambda.listNamespacedSecret({ namespace: ns }));
    await expectForbidden('list secrets cluster-wide', () => lambda.listSecretForAllNamespaces());
    await expectForbidden('delete nodes', () => lambda.deleteNode({ name: 'ip-10-0-1-23.eu-west-1.compute.internal' }));
    await expectForbidden('create pods', () => lambda.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'x', image: 'x' }] } } }));
    const custom = new KubeClient(kube.endpoint('lambda'), { ...DEFAULT_RETRY, attempts: 1 });
    await expectForbidden('write rayjobs/status', () => custom.patch('rayjobs', ns, 'x', [{ op: 'add', path: '/status', value: { jobStatus: 'SUCCEEDED' } }], 'status'));
    await expectForbidden('delete rayservices', () => custom.delete('rayservices', ns, spec.name));
    await expectForbidden('list rayjobs in another namespace', () => custom.list('rayjobs', 'default', {}));
  });

  test('no more: the authorizer\'s verdict on the full verb matrix equals the rules, verb for verb', async () => {
    const authz = kube.kubeConfig('lambda').makeApiClient(AuthorizationV1Api);
    const can = async (group: string, resource: string, verb: string, namespace?: string, subresource?: string) =>
      (await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { group, resource, verb, ...(namespace ? { namespace } : {}), ...(subresource ? { subresource } : {}) } } } })).status?.allowed ?? false;
    const verbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
    const granted = (rules: typeof LAMBDA_RULES, group: string, resource: string, verb: string) =>
      rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    const mismatches: string[] = [];
    const check = async (rules: typeof LAMBDA_RULES, group: string, resource: string, namespace?: string) => {
      const [res, sub] = resource.split('/');
      for (const verb of verbs) {
        const allowed = await can(group, res!, verb, namespace, sub);
        const want = granted(rules, group, resource, verb) || (namespace !== undefined && granted(SPOT_HANDLER_RULES, group, resource, verb));
        if (allowed !== want) mismatches.push(`${verb} ${group || 'core'}/${resource}${namespace ? ` in ${namespace}` : ''}: allowed=${allowed}, rules say ${want}`);
      }
    };
    for (const r of ['rayjobs', 'rayclusters', 'rayservices', 'rayjobs/status', 'rayservices/status', 'rayclusters/status']) await check(LAMBDA_RULES, 'ray.io', r, ns);
    for (const r of ['nodes', 'pods', 'pods/eviction', 'pods/log', 'secrets', 'configmaps', 'services', 'services/proxy']) await check(SPOT_HANDLER_RULES, '', r, ['nodes'].includes(r) ? undefined : ns);
    for (const r of ['rayjobs', 'rayservices']) await check([], 'ray.io', r, 'default');
    assert.deepEqual(mismatches, []);
  });
});

describe('one identity per use: each Lambda\'s own group, Pod Security, NetworkPolicies', () => {
  let idNs: string;
  let authz: AuthorizationV1Api;
  // The authorizer's verdict for a function's group, as the real API server (RBAC mode) decides it.
  const can = async (group: string, apiGroup: string, resource: string, verb: string, namespace?: string) => {
    const [res, sub] = resource.split('/');
    const r = await authz.createSubjectAccessReview({ body: { spec: { user: `lambda-${group}`, groups: [group], resourceAttributes: { group: apiGroup, resource: res!, verb, ...(namespace ? { namespace } : {}), ...(sub ? { subresource: sub } : {}) } } } });
    return r.status?.allowed ?? false;
  };
  const granted = (rules: PolicyRule[], apiGroup: string, resource: string, verb: string) =>
    rules.some((r) => r.apiGroups.includes(apiGroup) && r.resources.includes(resource) && r.verbs.includes(verb));

  before(async () => {
    idNs = `identity-${Date.now().toString(36)}`;
    await kube.core('admin').createNamespace({ body: namespaceManifest(idNs) as never });
    await kube.createObjects([...functionRbac(idNs), ...serviceAccountsFor(idNs, spec.name), ...networkPolicies(idNs)]);
    authz = kube.kubeConfig('admin').makeApiClient(AuthorizationV1Api);
    await waitForAccess(async () => assert.ok(await can(functionGroup('handle-interruption'), '', 'nodes', 'patch')));
    await waitForAccess(async () => assert.ok(await can(functionGroup('complete-stage'), 'ray.io', 'rayjobs', 'get', idNs)));
  });

  test('each Lambda\'s group may do exactly its own verbs, verb for verb; only the interruption handler patches nodes or evicts', async () => {
    const verbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
    const namespaced: Array<[string, string]> = [
      ...['rayjobs', 'rayclusters', 'rayservices', 'rayjobs/status', 'rayservices/status'].map((r): [string, string] => ['ray.io', r]),
      ...['pods', 'pods/eviction', 'pods/log', 'secrets', 'serviceaccounts', 'configmaps'].map((r): [string, string] => ['', r]),
    ];
    const clusterWide: Array<[string, string]> = [['', 'nodes'], ['', 'pods'], ['', 'namespaces']];
    const mismatches: string[] = [];
    const allowedSomewhere = new Map<string, string[]>();
    for (const fn of KUBE_FUNCTIONS) {
      const group = functionGroup(fn);
      const { namespaced: nsRules, cluster } = FUNCTION_RULES[fn];
      const checks: Array<Promise<void>> = [];
      for (const verb of verbs) {
        for (const [g, r] of namespaced) checks.push((async () => {
          const allowed = await can(group, g, r, verb, idNs);
          // A cluster-wide grant (ClusterRoleBinding) also allows it in the namespace.
          const want = granted(nsRules, g, r, verb) || granted(cluster, g, r, verb);
          if (allowed !== want) mismatches.push(`${fn}: ${verb} ${g || 'core'}/${r} in ns: allowed=${allowed}, rules say ${want}`);
          if (allowed) allowedSomewhere.set(`${verb} ${r}`, [...(allowedSomewhere.get(`${verb} ${r}`) ?? []), fn]);
        })());
        for (const [g, r] of clusterWide) checks.push((async () => {
          const allowed = await can(group, g, r, verb);
          const want = granted(cluster, g, r, verb);
          if (allowed !== want) mismatches.push(`${fn}: ${verb} ${g || 'core'}/${r} cluster-wide: allowed=${allowed}, rules say ${want}`);
          if (allowed) allowedSomewhere.set(`${verb} ${r} (cluster)`, [...(allowedSomewhere.get(`${verb} ${r} (cluster)`) ?? []), fn]);
        })());
        // Nothing in another namespace.
        checks.push((async () => {
          if (await can(group, 'ray.io', 'rayjobs', verb, 'default')) mismatches.push(`${fn}: ${verb} rayjobs in default`);
          if (await can(group, '', 'pods/eviction', verb, 'default')) mismatches.push(`${fn}: ${verb} pods/eviction in default`);
        })());
      }
      await Promise.all(checks);
    }
    assert.deepEqual(mismatches, []);
    assert.deepEqual(allowedSomewhere.get('patch nodes (cluster)'), ['handle-interruption']);
    assert.deepEqual(allowedSomewhere.get('create pods/eviction'), ['handle-interruption']);
    assert.equal(allowedSomewhere.get('create pods/eviction (cluster)'), undefined);
    assert.deepEqual(allowedSomewhere.get('create rayjobs'), ['submit-stage']);
    // The old shared group binds nothing in this namespace.
    assert.equal(await can('sentinel:lambda', 'ray.io', 'rayjobs', 'get', idNs), false);
  });

  test('Pod Security: the namespace refuses a privileged pod and admits every pod Sentinel renders', async () => {
    const admin = kube.core('admin');
    await assert.rejects(
      admin.createNamespacedPod({ namespace: idNs, dryRun: 'All', body: { metadata: { name: 'privileged' }, spec: { containers: [{ name: 'x', image: spec.image, securityContext: { privileged: true } }] } } }),
      (e: unknown) => (kubeFailure(e)?.code ?? (e as { code?: number }).code) === 403,
    );
    await assert.rejects(
      admin.createNamespacedPod({ namespace: idNs, dryRun: 'All', body: { metadata: { name: 'host' }, spec: { hostNetwork: true, containers: [{ name: 'x', image: spec.image }] } } }),
      (e: unknown) => (kubeFailure(e)?.code ?? (e as { code?: number }).code) === 403,
    );
    const templates: Array<{ name: string; template: { metadata: object; spec: object } }> = [];
    const requests = jobRequestsForRun(spec, 'r0a1b2c3d5');
    // The run's cluster (the default) and each stage's own (ephemeral).
    const run = runClusterFor(requests[0]!, { namespace: idNs, prometheus: true }).spec;
    templates.push({ name: 'run-head', template: run.headGroupSpec.template }, ...run.workerGroupSpecs.map((w) => ({ name: `run-${w.groupName}`, template: w.template })));
    for (const req of requests) {
      const c = rayJobFor({ ...req, cluster: { mode: 'ephemeral' } }, { namespace: idNs, prometheus: true }).spec!.rayClusterSpec!;
      templates.push({ name: `${req.jobId}-head`, template: c.headGroupSpec.template }, ...c.workerGroupSpecs.map((w) => ({ name: `${req.jobId}-${w.groupName}`, template: w.template })));
    }
    const svc = rayServiceFor({ pipeline: spec.name, namespace: idNs, image: spec.image, config: config('r0a1b2c3d5'), prometheus: true }).spec.rayClusterConfig;
    templates.push({ name: 'serve-head', template: svc.headGroupSpec.template }, ...svc.workerGroupSpecs.map((w) => ({ name: `serve-${w.groupName}`, template: w.template })));
    assert.ok(templates.length >= 10);
    for (const { name, template } of templates) {
      const pod = await admin.createNamespacedPod({ namespace: idNs, body: { ...template, metadata: { ...template.metadata, name } } as never });
      assert.match(pod.spec?.serviceAccountName ?? '', /^sentinel-(job|serve)-breast-cancer$/, name);
    }
  });

  test('the NetworkPolicies are stored as rendered', async () => {
    const net = kube.client('admin');
    const stored = await net.send<{ items: Array<{ metadata: { name: string }; spec: { podSelector: unknown } }> }>('GET', `/apis/networking.k8s.io/v1/namespaces/${idNs}/networkpolicies`);
    assert.deepEqual(stored.items.map((p) => p.metadata.name).sort(), ['sentinel-ray', 'sentinel-serve']);
  });
});

describe('retries against the real server', () => {
  let proxy: Proxy;
  before(async () => {
    const pki = join(kube.env.KUBE_STATE_DIR!, 'pki');
    proxy = await startProxy(kube.server, { caFile: kube.caFile, certFile: join(pki, 'apiserver.crt'), keyFile: join(pki, 'apiserver.key') });
  });
  after(async () => proxy?.close());

  const recordingPolicy = (attempts: number) => {
    const sleeps: number[] = [];
    const policy: RetryPolicy = { ...DEFAULT_RETRY, attempts, baseMs: 50, maxMs: 400, sleep: async (ms) => void sleeps.push(ms), random: () => 1 };
    return { policy, sleeps };
  };

  test('409 Conflict on the RayService patch: re-read and retried; the concurrent write is kept', async () => {
    const admin = kube.client('admin');
    const serving = new RayServiceServing({ client: kube.client('lambda', undefined, proxy.url), namespace: ns, image: spec.image });
    const name = 'conflict-demo';
    await serving.apply(name, config('r00000000a'));
    let raced = false;
    proxy.rule = async (r): Promise<Verdict> => {
      // Right before our first PATCH reaches the server, someone else updates the object.
      if (r.method === 'PATCH' && r.path.includes(`/rayservices/${name}`) && !raced) {
        raced = true;
        await admin.patch('rayservices', ns, name, [{ op: 'add', path: '/metadata/annotations/team', value: 'ml-platform' }]);
      }
      return 'forward';
    };
    proxy.seen.length = 0;
    await serving.apply(name, config('r00000000b'));
    proxy.rule = () => 'forward';
    const patches = proxy.seen.filter((r) => r.method === 'PATCH');
    assert.deepEqual(patches.map((r) => r.status), [409, 200], 'first PATCH conflicted, the retry after a fresh read succeeded');
    assert.deepEqual(proxy.seen.map((r) => r.method), ['GET', 'PATCH', 'GET', 'PATCH']);
    const stored = await admin.get<{ metadata: { annotations: Record<string, string> }; spec: { serveConfigV2: string } }>('rayservices', ns, name);
    assert.equal(stored.metadata.annotations.team, 'ml-platform', 'the concurrent write survived');
    assert.equal(stored.metadata.annotations['sentinel.dev/run'], 'r00000000b');
    assert.match(stored.spec.serveConfigV2, /run_id: r00000000b/);
  });

  test('429 and 503 are retried with exponential backoff (Retry-After honoured), then the call succeeds', async () => {
    const { policy, sleeps } = recordingPolicy(5);
    const compute = new KubeRayCompute({ client: kube.client('lambda', policy, proxy.url), namespace: ns });
    const req = conformanceRequest(newRunId(), 'ingest');
    let injected = 0;
    proxy.rule = () => {
      injected++;
      if (injected === 1) return { status: 429, headers: { 'retry-after': '0' }, body: { kind: 'Status', code: 429, reason: 'TooManyRequests', message: 'too many requests' } };
      if (injected <= 3) return { status: 503, body: { kind: 'Status', code: 503, reason: 'ServiceUnavailable', message: 'etcd leader changed' } };
      return 'forward';
    };
    proxy.seen.length = 0;
    assert.deepEqual(await compute.submit(req), { jobId: req.jobId, created: true });
    proxy.rule = () => 'forward';
    assert.deepEqual(proxy.seen.map((r) => r.status), [429, 503, 503, 201]);
    assert.deepEqual(sleeps, [50, 100, 200], 'full-jitter caps double each retry (random() = 1 here)');
  });

  test('persistent 503 surfaces as ComputeUnavailable after the bounded retries', async () => {
    const { policy, sleeps } = recordingPolicy(4);
    const compute = new KubeRayCompute({ client: kube.client('lambda', policy, proxy.url), namespace: ns });
    proxy.rule = () => ({ status: 503, body: { kind: 'Status', code: 503, reason: 'ServiceUnavailable', message: 'apiserver is shutting down' } });
    proxy.seen.length = 0;
    await assert.rejects(compute.get('anything-r000000000-ingest-1'), (e: Error) => {
      assert.equal(e.name, 'ComputeUnavailable');
      assert.match(e.message, /failed 4 times; last: HTTP 503 ServiceUnavailable: apiserver is shutting down/);
      return true;
    });
    proxy.rule = () => 'forward';
    assert.equal(proxy.seen.length, 4);
    assert.deepEqual(sleeps, [50, 100, 200]);
  });

  test('Retry-After above the cap is capped; a refused connection is retried, then ComputeUnavailable', async () => {
    const { policy, sleeps } = recordingPolicy(2);
    proxy.rule = () => ({ status: 429, headers: { 'retry-after': '30' }, body: { kind: 'Status', code: 429, reason: 'TooManyRequests' } });
    const compute = new KubeRayCompute({ client: kube.client('lambda', policy, proxy.url), namespace: ns });
    await assert.rejects(compute.list({ 'sentinel.dev/run': 'r000000000' }), { name: 'ComputeUnavailable' });
    assert.deepEqual(sleeps, [400]);
    proxy.rule = () => 'forward';
    const closed = new KubeRayCompute({ client: kube.client('lambda', recordingPolicy(2).policy, 'https://127.0.0.1:9'), namespace: ns });
    await assert.rejects(closed.get('x'), (e: Error) => e.name === 'ComputeUnavailable' && /failed 2 times/.test(e.message));
  });
});
