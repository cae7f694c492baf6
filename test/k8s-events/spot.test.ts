// The spot interruption flow on a real kube-apiserver: the SQS-consumer handler with KubeCluster, authenticated as
// the Lambdas' identity with only the project's RBAC, on AWS's sample spot warning.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKube, type KubeHarness } from '../k8s/harness.js';
import { ec2Event } from '../support/events.js';
import { createHandleInterruptionHandler } from '../../functions/handle-interruption.js';
import { KubeCluster, INTERRUPTED_REASON_ANNOTATION, instanceIdOf } from '../../adapters/kuberay/cluster.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import { mergePatch, paths } from '../../adapters/kuberay/kube-rest.js';
import { jobStatusFromRayJob, type RayJobObject } from '../../core/kuberay/status.js';
import type { InterruptionOutcome } from '../../core/interruption.js';
import {
  applyRbac,
  createNode,
  createRayJob,
  createRunningPod,
  isGone,
  lambdaContext,
  podState,
  rayPodLabels,
  RecordingPublisher,
  sqsDelivery,
} from './support.js';

const SPOT_ID = 'i-0123456789abcdef0';
const spotWarning = (instanceId: string) => ec2Event('ec2-spot-instance-interruption-warning', instanceId);

let kube: KubeHarness;
let admin: KubeClient;
let lambda: KubeClient;
let ns: string;

before(async () => {
  kube = await startKube();
  ns = await kube.namespace('spot');
  await applyRbac(kube, ns);
  admin = kube.client('admin');
  lambda = kube.client('lambda');
});
after(async () => {
  admin?.close();
  lambda?.close();
  await kube?.stop();
});

function handlerWith(publisher: RecordingPublisher, nodeHandling = true) {
  return createHandleInterruptionHandler({ cluster: new KubeCluster({ client: lambda, namespace: ns }), publisher, nodeHandling });
}
const outcomes = (p: RecordingPublisher) => p.events.map((e) => e.detail as InterruptionOutcome);
const nodeOf = (name: string) => admin.send<{ spec?: { unschedulable?: boolean } }>('GET', paths.nodes(name));
const rayJob = (name: string) => admin.get<RayJobObject>('rayjobs', ns, name);

test('providerID → instance id: exact, on the last segment only', () => {
  assert.equal(instanceIdOf('aws:///us-east-1a/i-0123456789abcdef0'), 'i-0123456789abcdef0');
  assert.equal(instanceIdOf('aws:///us-east-1a/i-0123456789abcdef01'), 'i-0123456789abcdef01');
  assert.equal(instanceIdOf('aws:///us-east-1a/fargate-ip-10-0-0-1'), undefined);
  assert.equal(instanceIdOf(undefined), undefined);
});

describe('spot warning for a node with 20 Ray pods', () => {
  const node = 'ip-10-0-1-10.ec2.internal';
  const other = 'ip-10-0-1-11.ec2.internal';
  const rayPods = Array.from({ length: 20 }, (_, i) => `rc-spot-worker-${String(i).padStart(2, '0')}`);
  const otherPods = ['rc-other-worker-0', 'rc-other-worker-1', 'rc-other-head'];
  let job: string;
  let otherJob: string;
  let doneJob: string;

  before(async () => {
    await createNode(admin, node, { providerID: `aws:///us-east-1a/${SPOT_ID}` });
    await createNode(admin, other, { providerID: 'aws:///us-east-1b/i-0fedcba9876543210' });
    await Promise.all(rayPods.map((p) => createRunningPod(admin, ns, p, node, rayPodLabels('rc-spot'))));
    await Promise.all(otherPods.map((p) => createRunningPod(admin, ns, p, other, rayPodLabels('rc-other'))));
    // Not a Ray pod (a log shipper, say): the handler leaves it to whoever drains the node.
    await createRunningPod(admin, ns, 'log-shipper', node, { app: 'log-shipper' });
    job = (await createRayJob(admin, ns, { status: { rayClusterName: 'rc-spot', jobStatus: 'RUNNING', jobDeploymentStatus: 'Running' } })).name;
    otherJob = (await createRayJob(admin, ns, { status: { rayClusterName: 'rc-other', jobStatus: 'RUNNING', jobDeploymentStatus: 'Running' } })).name;
    // Finished fine on the same cluster earlier: not interrupted by this.
    doneJob = (await createRayJob(admin, ns, { clusterSelector: 'rc-spot', status: { rayClusterName: 'rc-spot', jobStatus: 'SUCCEEDED', jobDeploymentStatus: 'Complete', endTime: new Date(Date.now() - 60_000).toISOString() } })).name;
  });

  async function endState() {
    const states = await Promise.all(rayPods.map((p) => podState(admin, ns, p)));
    const others = await Promise.all([...otherPods, 'log-shipper'].map((p) => podState(admin, ns, p)));
    const [j, o, d] = await Promise.all([rayJob(job), rayJob(otherJob), rayJob(doneJob)]);
    return {
      cordoned: (await nodeOf(node)).spec?.unschedulable === true,
      otherCordoned: (await nodeOf(other)).spec?.unschedulable === true,
      rayPodsGone: states.filter(isGone).length,
      othersUntouched: others.filter((s) => s.exists && !s.terminating).length,
      jobAnnotations: { interrupted: j.metadata.annotations?.['sentinel.dev/interrupted'], reason: j.metadata.annotations?.[INTERRUPTED_REASON_ANNOTATION] },
      jobInterrupted: jobStatusFromRayJob(j).interrupted === true,
      otherJobMarked: o.metadata.annotations?.['sentinel.dev/interrupted'] !== undefined,
      doneJobMarked: d.metadata.annotations?.['sentinel.dev/interrupted'] !== undefined,
    };
  }

  test('cordons the node, evicts all 20 Ray pods, leaves other pods alone, marks the RayJob', async () => {
    const publisher = new RecordingPublisher();
    const res = await handlerWith(publisher)(sqsDelivery(spotWarning(SPOT_ID)), lambdaContext('handle-interruption'));
    assert.deepEqual(res, { batchItemFailures: [] });
    const s = await endState();
    assert.equal(s.cordoned, true, 'node cordoned');
    assert.equal(s.otherCordoned, false, 'the other node is not');
    assert.equal(s.rayPodsGone, 20, 'all 20 Ray pods evicted');
    assert.equal(s.othersUntouched, 4, 'pods on the other node and non-Ray pods untouched');
    assert.deepEqual(s.jobAnnotations, { interrupted: 'true', reason: `spot interruption warning for ${SPOT_ID}` });
    assert.equal(s.jobInterrupted, true, 'status mapping reports the job interrupted');
    assert.equal(s.otherJobMarked, false, 'a job on another cluster is not marked');
    assert.equal(s.doneJobMarked, false, 'a job that already succeeded is not marked');
    const [o] = outcomes(publisher);
    assert.equal(o?.action, 'handled');
    assert.equal(o?.node, node);
    assert.equal(o?.evicted.length, 20);
    assert.deepEqual(o?.blocked, []);
    assert.deepEqual(o?.markedJobs, [job]);
  });

  test('the same event delivered twice more: same end state, no errors, no second eviction', async () => {
    const before = await endState();
    for (let i = 0; i < 2; i++) {
      const publisher = new RecordingPublisher();
      lambda.calls = 0;
      const res = await handlerWith(publisher)(sqsDelivery(spotWarning(SPOT_ID)), lambdaContext('handle-interruption'));
      assert.deepEqual(res, { batchItemFailures: [] });
      assert.deepEqual(await endState(), before);
      const [o] = outcomes(publisher);
      assert.deepEqual(o?.blocked, []);
      assert.equal(o?.cordoned, true);
      // nodes list, pods list, rayjobs list, one (no-op) annotation patch; the node is already cordoned and its
      // pods already terminating, so no cordon and no eviction calls.
      assert.equal(lambda.calls, 4, `API calls on redelivery ${i + 2}`);
    }
  });
});

test('a PodDisruptionBudget that refuses one eviction: reported blocked, not forced; the rest are evicted', async () => {
  const node = 'ip-10-0-2-20.ec2.internal';
  const id = 'i-0aaaaaaaaaaaaaaa1';
  await createNode(admin, node, { providerID: `aws:///us-east-1c/${id}` });
  const pods = ['rc-pdb-head', 'rc-pdb-worker-0', 'rc-pdb-worker-1'];
  for (const p of pods) await createRunningPod(admin, ns, p, node, { ...rayPodLabels('rc-pdb'), ...(p === 'rc-pdb-head' ? { guard: 'head' } : {}) });
  await admin.send('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    body: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'rc-pdb-head' }, spec: { minAvailable: 1, selector: { matchLabels: { guard: 'head' } } } },
  });
  // What the disruption controller would report: one healthy pod, one needed, none may go.
  await mergePatch(admin, `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/rc-pdb-head/status`, {
    status: { observedGeneration: 1, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 },
  });
  const publisher = new RecordingPublisher();
  const res = await handlerWith(publisher)(sqsDelivery(spotWarning(id)), lambdaContext('handle-interruption'));
  assert.deepEqual(res, { batchItemFailures: [] }, 'a refusal is an outcome, not a failure to retry');
  const [o] = outcomes(publisher);
  assert.deepEqual(o?.blocked, [`${ns}/rc-pdb-head`]);
  assert.deepEqual(o?.evicted.sort(), [`${ns}/rc-pdb-worker-0`, `${ns}/rc-pdb-worker-1`]);
  assert.deepEqual(await podState(admin, ns, 'rc-pdb-head'), { exists: true, terminating: false }, 'the guarded pod was not forced');
  for (const p of ['rc-pdb-worker-0', 'rc-pdb-worker-1']) assert.ok(isGone(await podState(admin, ns, p)), `${p} evicted`);
  assert.equal((await nodeOf(node)).spec?.unschedulable, true);
});

test('an instance that is not a node of this cluster is acknowledged and nothing changes', async () => {
  const publisher = new RecordingPublisher();
  lambda.calls = 0;
  const res = await handlerWith(publisher)(sqsDelivery(spotWarning('i-0fffffffffffffff0')), lambdaContext('handle-interruption'));
  assert.deepEqual(res, { batchItemFailures: [] });
  assert.deepEqual(publisher.events, [], 'nothing handled, nothing published');
  assert.equal(lambda.calls, 1, 'one nodes list, no writes');
});

test('node handling off (Karpenter drains): the job is marked, the node and pods are left alone', async () => {
  const node = 'ip-10-0-3-30.ec2.internal';
  const id = 'i-0bbbbbbbbbbbbbbb2';
  await createNode(admin, node, { providerID: `aws:///us-east-1a/${id}` });
  await createRunningPod(admin, ns, 'rc-karp-worker-0', node, rayPodLabels('rc-karp'));
  const { name } = await createRayJob(admin, ns, { status: { rayClusterName: 'rc-karp', jobStatus: 'RUNNING', jobDeploymentStatus: 'Running' } });
  const res = await handlerWith(new RecordingPublisher(), false)(sqsDelivery(spotWarning(id)), lambdaContext('handle-interruption'));
  assert.deepEqual(res, { batchItemFailures: [] });
  assert.equal((await rayJob(name)).metadata.annotations?.['sentinel.dev/interrupted'], 'true');
  assert.notEqual((await nodeOf(node)).spec?.unschedulable, true);
  assert.deepEqual(await podState(admin, ns, 'rc-karp-worker-0'), { exists: true, terminating: false });
});

test('without the RBAC grant the handler fails the record (retried, then dead-lettered) and names the missing grant', async () => {
  const other = await kube.namespace('spot-norbac');
  const cluster = new KubeCluster({ client: lambda, namespace: other });
  const node = 'ip-10-0-4-40.ec2.internal';
  await createNode(admin, node, { providerID: 'aws:///us-east-1a/i-0ccccccccccccccc3' });
  await createRunningPod(admin, other, 'rc-x-worker-0', node, rayPodLabels('rc-x'));
  // pods are listable cluster-wide, but rayjobs only in the pipelines' namespace: marking fails → the record fails.
  await assert.rejects(cluster.jobsOn(node, ['rc-x']), (e: Error) => e.name === 'ValidationFailed' && /forbidden by RBAC/.test(e.message));
  const res = await createHandleInterruptionHandler({ cluster, publisher: new RecordingPublisher(), nodeHandling: true })(
    sqsDelivery(spotWarning('i-0ccccccccccccccc3')),
    lambdaContext('handle-interruption'),
  );
  assert.equal(res.batchItemFailures.length, 1);
});
