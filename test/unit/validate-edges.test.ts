// KubeRay's admission rules as Sentinel checks them before applying (core/kuberay/validate.ts), at the edges mutation
// testing (npm run mutation) found unchecked: which manifests pass and which get a problem, never a throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterSpecProblems, rayJobProblems, rayServiceProblems } from '../../core/kuberay/validate.js';

const container = { containers: [{ name: 'ray', image: 'img' }] };
const group = (extra: Record<string, unknown> = {}) => ({ rayStartParams: {}, template: { spec: container }, ...extra });
const worker = (extra: Record<string, unknown> = {}) => group({ groupName: 'workers', minReplicas: 1, maxReplicas: 1, ...extra });
// Loose shapes on purpose (fields missing or wrong): the checks take what KubeRay would be sent.
const cluster = (extra: Record<string, unknown> = {}) => ({ headGroupSpec: group(), workerGroupSpecs: [worker()], ...extra }) as never;
const job = (spec: Record<string, unknown>) => ({ metadata: { name: 'churn-r0a1b2c3d4-train-1' }, spec: { shutdownAfterJobFinishes: true, rayClusterSpec: cluster(), submissionMode: 'HTTPMode', ...spec } }) as never;

test("a worker group's own problems are reported, like the head group's", () => {
  assert.deepEqual(clusterSpecProblems(cluster()), []);
  assert.equal(clusterSpecProblems(cluster({ workerGroupSpecs: [worker({ labels: { 'bad key!': 'v' } })] })).length, 1);
  assert.equal(clusterSpecProblems(cluster({ workerGroupSpecs: [worker({ rayStartParams: { labels: 'x' } })] })).length, 1);
  assert.equal(clusterSpecProblems(cluster({ workerGroupSpecs: [worker({ template: { spec: { containers: [] } } })] })).length, 1);
});

test('a group without containers is a problem, not a crash', () => {
  assert.equal(clusterSpecProblems(cluster({ headGroupSpec: group({ template: { spec: {} } }) })).length, 1);
  assert.equal(clusterSpecProblems(cluster({ workerGroupSpecs: [worker({ template: {} })] })).length, 1);
});

test('with autoscaling on, a worker group may set only minReplicas', () => {
  assert.deepEqual(clusterSpecProblems(cluster({ enableInTreeAutoscaling: true, workerGroupSpecs: [worker({ maxReplicas: undefined })] })), []);
  assert.deepEqual(clusterSpecProblems(cluster({ enableInTreeAutoscaling: true, workerGroupSpecs: [worker({ minReplicas: undefined, maxReplicas: 3 })] })), []);
  assert.equal(clusterSpecProblems(cluster({ workerGroupSpecs: [worker({ minReplicas: 3, maxReplicas: 2 })] })).length, 1);
});

test("only RAY_enable_autoscaler_v2 on the head counts as autoscaler v2, not another variable set to true", () => {
  const head = (env: Array<{ name: string; value: string }>) => cluster({ headGroupSpec: group({ template: { spec: { containers: [{ name: 'ray', image: 'i', env }] } } }) });
  assert.deepEqual(clusterSpecProblems(head([{ name: 'OTHER', value: 'true' }])), []);
  assert.equal(clusterSpecProblems(head([{ name: 'OTHER', value: 'x' }, { name: 'RAY_enable_autoscaler_v2', value: '1' }])).length, 1);
});

test('submission modes: InteractiveMode without retries and a submitter template outside SidecarMode are fine', () => {
  assert.deepEqual(rayJobProblems(job({ submissionMode: 'InteractiveMode', backoffLimit: 0 })), []);
  assert.equal(rayJobProblems(job({ submissionMode: 'InteractiveMode', backoffLimit: 1 })).length, 1);
  assert.deepEqual(rayJobProblems(job({ submissionMode: 'K8sJobMode', submitterPodTemplate: { spec: container } })), []);
  assert.equal(rayJobProblems(job({ submissionMode: 'SidecarMode', submitterPodTemplate: { spec: container } })).length, 1);
});

test('a RayService without a head group gets a problem, not a crash', () => {
  const svc = (rayClusterConfig: unknown) => ({ metadata: { name: 'churn' }, spec: { rayClusterConfig } }) as never;
  assert.deepEqual(rayServiceProblems(svc(cluster())), []);
  assert.equal(rayServiceProblems(svc({ workerGroupSpecs: [] })).length, 1);
  assert.equal(rayServiceProblems(svc(cluster({ headGroupSpec: group({ headService: {} }) }))).length, 0);
});
