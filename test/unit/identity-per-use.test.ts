// One identity per use (issue 14 item 3): each pipeline's job pods and Serve pods have their own service account;
// each Kubernetes-calling Lambda has its own group and a Role with only its verbs; node and eviction rights belong to
// the interruption handler alone; the namespace carries Pod Security labels and the NetworkPolicies close Ray's ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { rayJobFor } from '../../core/kuberay/rayjob.js';
import { rayServiceFor } from '../../core/kuberay/rayservice.js';
import { FUNCTION_RULES, functionGroup, functionRbac, KUBE_FUNCTIONS, type PolicyRule } from '../../core/kuberay/rbac.js';
import { namespaceManifest, networkPolicies, serviceAccountsFor } from '../../core/kuberay/identity.js';
import { runClusterFor } from '../../core/kuberay/raycluster.js';
import type { JobRequest } from '../../core/ports.js';
import { jobRequestsForRun, renderKubernetes } from '../../cli/render-k8s.js';
import { serveApplicationFor } from '../../core/serve-config.js';
import { parseSpec } from '../../core/spec.js';
import { readFileSync } from 'node:fs';

const root = join(import.meta.dirname, '../..');
const spec = parseSpec(readFileSync(join(root, 'pipelines', 'breast-cancer.yaml'), 'utf8'));
const other = { ...spec, name: 'churn' };

type Pod = { metadata: { labels: Record<string, string> }; spec: { serviceAccountName?: string } };
/** The pods a stage's job runs on: its own cluster's (ephemeral), or the run's cluster's it selects (run, the default). */
const podsOfJob = (m: ReturnType<typeof rayJobFor>, req: JobRequest): Pod[] => {
  const c = m.spec!.rayClusterSpec ?? runClusterFor(req, { namespace: 'ml' }).spec;
  return [c.headGroupSpec.template, ...c.workerGroupSpecs.map((w) => w.template)];
};

test('each pipeline\'s RayJob pods run as that pipeline\'s job account; its Serve pods as its Serve account', () => {
  for (const s of [spec, other]) {
    for (const req of jobRequestsForRun(s, 'r0a1b2c3d4')) {
      for (const pod of [...podsOfJob(rayJobFor(req, { namespace: 'ml' }), req), ...podsOfJob(rayJobFor({ ...req, cluster: { mode: 'ephemeral' } }, { namespace: 'ml' }), req)]) {
        assert.equal(pod.spec.serviceAccountName, `sentinel-job-${s.name}`, req.jobId);
        assert.equal(pod.metadata.labels['sentinel.dev/role'], 'job');
      }
    }
    const svc = rayServiceFor({ pipeline: s.name, namespace: 'ml', image: s.image, config: { applications: [serveApplicationFor(s, { modelUri: 's3://b/artifacts/x/model', runId: 'r0a1b2c3d4' })] } });
    const pods = [svc.spec.rayClusterConfig.headGroupSpec.template, ...svc.spec.rayClusterConfig.workerGroupSpecs.map((w) => w.template)];
    for (const pod of pods) {
      assert.equal(pod.spec.serviceAccountName, `sentinel-serve-${s.name}`);
      assert.equal(pod.metadata.labels['sentinel.dev/role'], 'serve');
    }
  }
  const [job, serve] = serviceAccountsFor('ml', 'churn') as Array<{ metadata: { name: string; namespace: string }; automountServiceAccountToken?: boolean }>;
  assert.deepEqual([job!.metadata.name, job!.metadata.namespace, job!.automountServiceAccountToken], ['sentinel-job-churn', 'ml', false], 'jobs never call the API server');
  // The serving cluster autoscales: KubeRay binds its autoscaler Role to the head's account, which needs its token.
  assert.deepEqual([serve!.metadata.name, serve!.automountServiceAccountToken], ['sentinel-serve-churn', undefined]);
});

const flat = (rules: PolicyRule[]) => rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g || 'core'}/${res}`)))).sort();

test('each Lambda: its own group, bound to a Role with only its verbs; nodes and evictions are the interruption handler\'s alone', () => {
  const objects = functionRbac('ml', 'sentinel:lambda') as Array<{ kind: string; metadata: { name: string; namespace?: string }; rules?: PolicyRule[]; subjects?: Array<{ kind: string; name: string }>; roleRef?: { kind: string; name: string } }>;
  const groups = new Set<string>();
  for (const fn of KUBE_FUNCTIONS) {
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === `sentinel-${fn}`)!;
    const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.name === `sentinel-${fn}`)!;
    assert.equal(role.metadata.namespace, 'ml');
    assert.deepEqual(flat(role.rules!), flat(FUNCTION_RULES[fn].namespaced), fn);
    assert.deepEqual(binding.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: `sentinel:lambda:${fn}` }]);
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `sentinel-${fn}` });
    assert.equal(functionGroup(fn), `sentinel:lambda:${fn}`);
    groups.add(binding.subjects![0]!.name);
    const clusterRole = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === `sentinel-ml-${fn}`);
    assert.deepEqual(clusterRole ? flat(clusterRole.rules!) : [], flat(FUNCTION_RULES[fn].cluster), `${fn} cluster-wide`);
  }
  assert.equal(groups.size, KUBE_FUNCTIONS.length, 'no two functions share a group');
  // Who may patch nodes, evict, or delete anything — and the exact verbs of the smallest identities.
  const holders = (verb: string) => KUBE_FUNCTIONS.filter((fn) => [...flat(FUNCTION_RULES[fn].namespaced), ...flat(FUNCTION_RULES[fn].cluster)].includes(verb));
  assert.deepEqual(holders('patch core/nodes'), ['handle-interruption']);
  assert.deepEqual(holders('create core/pods/eviction'), ['handle-interruption']);
  assert.deepEqual(flat(FUNCTION_RULES['handle-interruption'].cluster), ['get core/nodes', 'list core/nodes', 'patch core/nodes'], 'evictions only in the namespace');
  assert.deepEqual(flat(FUNCTION_RULES['complete-stage'].namespaced), ['get ray.io/rayjobs', 'list ray.io/rayjobs']);
  assert.deepEqual(holders('create ray.io/rayjobs'), ['submit-stage']);
  assert.deepEqual(holders('patch ray.io/rayservices'), ['promote']);
  // The run's own cluster: created at its first submit, deleted when the run ends (finish-run, execution-ended).
  assert.deepEqual(holders('create ray.io/rayclusters'), ['submit-stage']);
  assert.deepEqual(holders('delete ray.io/rayclusters'), ['finish-run', 'reap-idle', 'execution-ended']);
  for (const fn of KUBE_FUNCTIONS) for (const r of [...FUNCTION_RULES[fn].namespaced, ...FUNCTION_RULES[fn].cluster]) {
    assert.ok(!r.resources.some((x) => x.endsWith('/status')), `${fn} writes no status`);
    assert.ok(!r.verbs.includes('*') && !r.resources.includes('*'), `${fn}: no wildcard`);
  }
});

test('the namespace enforces baseline and warns/audits restricted; Ray\'s ports are closed to other namespaces but the operator\'s', () => {
  const ns = namespaceManifest('ml');
  assert.equal(ns.metadata.labels!['pod-security.kubernetes.io/enforce'], 'baseline');
  assert.equal(ns.metadata.labels!['pod-security.kubernetes.io/warn'], 'restricted');
  assert.equal(ns.metadata.labels!['pod-security.kubernetes.io/audit'], 'restricted');
  type Peer = { podSelector?: unknown; namespaceSelector?: { matchLabels?: Record<string, string> } };
  type Policy = { metadata: { name: string }; spec: { podSelector: { matchLabels: Record<string, string> }; ingress: Array<{ from: Peer[]; ports?: Array<{ port: number }> }> } };
  const [ray, serve] = networkPolicies('ml', { operatorNamespace: 'kuberay', ingressNamespace: 'alb' }) as unknown as Policy[];
  const reach = (p: Policy, port: number) => p.spec.ingress.filter((r) => !r.ports || r.ports.some((x) => x.port === port)).flatMap((r) => r.from);
  for (const port of [6379, 8265]) {
    const from = reach(ray!, port);
    // Same namespace's Sentinel Ray pods (a podSelector alone), and the operator's namespace for the dashboard only.
    for (const peer of from) {
      if (peer.namespaceSelector) assert.deepEqual(peer.namespaceSelector, { matchLabels: { 'kubernetes.io/metadata.name': 'kuberay' } }, `${port}`);
      else assert.deepEqual(peer.podSelector, { matchLabels: { 'app.kubernetes.io/managed-by': 'sentinel' } });
    }
    assert.equal(from.filter((p) => p.namespaceSelector).length, port === 8265 ? 1 : 0, `${port}`);
  }
  assert.deepEqual(serve!.spec.podSelector.matchLabels, { 'app.kubernetes.io/managed-by': 'sentinel', 'sentinel.dev/role': 'serve' });
  assert.deepEqual(serve!.spec.ingress, [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'alb' } } }], ports: [{ protocol: 'TCP', port: 8000 }] }]);
});

test('sentinel render writes the namespace, the pipeline\'s accounts, the NetworkPolicies and one Role per Lambda', async () => {
  const out = await mkdtemp(join(tmpdir(), 'sentinel-render-id-'));
  try {
    const files = await renderKubernetes(out, spec, 'r0a1b2c3d4', 'ml');
    const kinds = async (name: string) => parseAllDocuments(await readFile(join(out, 'kubernetes', name), 'utf8')).map((d) => (d.toJS() as { kind: string; metadata: { name: string } }));
    assert.ok(files.some((f) => f.endsWith('networkpolicies.yaml')));
    assert.deepEqual((await kinds('namespace.yaml')).map((o) => o.kind), ['Namespace']);
    assert.deepEqual((await kinds('serviceaccounts.yaml')).map((o) => o.metadata.name), [`sentinel-job-${spec.name}`, `sentinel-serve-${spec.name}`]);
    assert.deepEqual((await kinds('networkpolicies.yaml')).map((o) => o.kind), ['NetworkPolicy', 'NetworkPolicy']);
    const rbac = await kinds('rbac.yaml');
    assert.equal(rbac.filter((o) => o.kind === 'Role').length, KUBE_FUNCTIONS.length);
    assert.deepEqual(rbac.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name).sort(), ['sentinel-ml-handle-interruption', 'sentinel-ml-reap-idle']);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
