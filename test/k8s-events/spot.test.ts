// The spot interruption flow on a real kube-apiserver with the real KubeRay v1.7 operator: the SQS-consumer handler
// with KubeCluster, authenticated as the Lambdas' identity with only the project's RBAC, on AWS's sample spot warning.
// The Ray clusters are the operator's (their pods bound to the nodes by the simulated scheduler, started by the
// simulated kubelet), and the RayJobs on them run on a real Ray head: every RayJob status the handler reads is the
// operator's. A PodDisruptionBudget's status is the disruption controller's, which does not run here (no
// kube-controller-manager): that one the test writes, and says so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ec2Event } from '../support/events.js';
import { createHandleInterruptionHandler } from '../../functions/handle-interruption.js';
import { KubeCluster, INTERRUPTED_REASON_ANNOTATION, instanceIdOf } from '../../adapters/kuberay/cluster.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import { mergePatch, paths } from '../../adapters/kuberay/kube-rest.js';
import { jobStatusFromRayJob, type RayJobObject } from '../../core/kuberay/status.js';
import type { InterruptionOutcome } from '../../core/interruption.js';
import type { KubeHarness } from '../k8s/harness.js';
import {
  createNode,
  createPod,
  createRayJob,
  isGone,
  isRunning,
  isSucceeded,
  lambdaContext,
  listPods,
  podState,
  rayClusterManifest,
  rayPodLabels,
  RecordingPublisher,
  Releases,
  sqsDelivery,
  startOperatorWorld,
  startSimulatedScheduler,
  until,
  type OperatorWorld,
  type SimulatedScheduler,
} from './support.js';

const SPOT_ID = 'i-0123456789abcdef0';
const spotWarning = (instanceId: string) => ec2Event('ec2-spot-instance-interruption-warning', instanceId);

// The nodes, and which Ray cluster's pods the scheduler puts on which.
const node = 'ip-10-0-1-10.ec2.internal'; // the spot node that gets the warning
const other = 'ip-10-0-1-11.ec2.internal';
const pdbNode = 'ip-10-0-2-20.ec2.internal';
const PDB_ID = 'i-0aaaaaaaaaaaaaaa1';
const karpNode = 'ip-10-0-3-30.ec2.internal';
const KARP_ID = 'i-0bbbbbbbbbbbbbbb2';
const placement: Record<string, string> = { 'rc-spot': node, 'rc-other': other, 'rc-pdb': pdbNode, 'rc-karp': karpNode };

let world: OperatorWorld;
let kube: KubeHarness;
let admin: KubeClient;
let lambda: KubeClient;
let ns: string;
let scheduler: SimulatedScheduler;
const releases = new Releases();
const jobs = { job: '', otherJob: '', doneJob: '', karpJob: '' };
/** Each cluster's pods, by name, once the scheduler has bound them and the kubelet started them. */
const podsOf: Record<string, string[]> = {};

before(async () => {
  world = await startOperatorWorld({ name: 'spot', namespaces: [{ prefix: 'spot' }] });
  ({ kube, admin, lambda } = world);
  ns = world.ns.spot!;
  await createNode(admin, node, { providerID: `aws:///us-east-1a/${SPOT_ID}` });
  await createNode(admin, other, { providerID: 'aws:///us-east-1b/i-0fedcba9876543210' });
  await createNode(admin, pdbNode, { providerID: `aws:///us-east-1c/${PDB_ID}` });
  await createNode(admin, karpNode, { providerID: `aws:///us-east-1a/${KARP_ID}` });
  scheduler = startSimulatedScheduler(kube, ns, (pod) => placement[pod.metadata.labels?.['ray.io/cluster'] ?? '']);
  // The operator's clusters: 20 Ray pods on the spot node (a head and 19 workers), 3 on the other, 3 on the PDB's
  // node (the head guarded by the budget), 1 on Karpenter's.
  const clusters: Array<[string, number, Record<string, string>?]> = [['rc-spot', 19], ['rc-other', 2], ['rc-pdb', 2, { guard: 'head' }], ['rc-karp', 0]];
  await Promise.all(clusters.map(([name, workers, headLabels]) => admin.create('rayclusters', ns, rayClusterManifest(name, { workers, scheduled: true, ...(headLabels ? { headLabels } : {}) }))));
  // Not a Ray pod (a log shipper, say): the handler leaves it to whoever drains the node.
  await createPod(admin, ns, 'log-shipper', node, { app: 'log-shipper' });
  const runs = () => ({ runs: { release: releases.next() } });
  const job = async (o: Parameters<typeof createRayJob>[2]) => (await createRayJob(admin, ns, o)).name;
  [jobs.job, jobs.otherJob, jobs.doneJob, jobs.karpJob] = await Promise.all([
    job({ clusterSelector: 'rc-spot', behaviour: runs() }),
    job({ clusterSelector: 'rc-other', behaviour: runs() }),
    // Finished fine on the same cluster earlier: not interrupted by this.
    job({ clusterSelector: 'rc-spot', behaviour: 'finishes' }),
    job({ clusterSelector: 'rc-karp', behaviour: runs() }),
  ]);
  const t0 = Date.now();
  await Promise.all(clusters.map(([name]) => world.untilClusterReady(ns, name)));
  const readyMs = Date.now() - t0;
  for (const [name, workers] of clusters) {
    const pods = await listPods(admin, ns, `ray.io/cluster=${name}`);
    assert.equal(pods.length, workers + 1, `${name}'s pods`);
    assert.ok(pods.every((p) => p.spec.nodeName === placement[name] && p.status?.phase === 'Running'), `${name}'s pods run on ${placement[name]}`);
    podsOf[name] = pods.map((p) => p.metadata.name).sort();
  }
  await until('the log shipper running', () => podState(admin, ns, 'log-shipper'), (s) => s.exists);
  await Promise.all([
    world.untilStatus(ns, jobs.job, 'running', isRunning),
    world.untilStatus(ns, jobs.otherJob, 'running', isRunning),
    world.untilStatus(ns, jobs.doneJob, 'succeeded', isSucceeded),
    world.untilStatus(ns, jobs.karpJob, 'running', isRunning),
  ]);
  process.stdout.write(`# the operator's 4 clusters (26 pods) ready in ${readyMs} ms, its statuses of the 4 RayJobs in ${Date.now() - t0} ms\n`);
});
after(async () => {
  await releases.releaseAll();
  await scheduler?.stop();
  await world?.stop();
  await releases.remove();
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
  const rayPods = () => podsOf['rc-spot']!;
  const otherPods = () => podsOf['rc-other']!;

  async function endState() {
    const states = await Promise.all(rayPods().map((p) => podState(admin, ns, p)));
    const others = await Promise.all([...otherPods(), 'log-shipper'].map((p) => podState(admin, ns, p)));
    const [j, o, d] = await Promise.all([rayJob(jobs.job), rayJob(jobs.otherJob), rayJob(jobs.doneJob)]);
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
    assert.deepEqual(o?.markedJobs, [jobs.job]);
    // The operator's status is unchanged by the mark: the job still runs on Ray, and its status says so.
    assert.equal(isRunning((await rayJob(jobs.job)).status ?? {}), true);
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
  const [head, ...workers] = await headFirst('rc-pdb');
  await admin.send('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
    body: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'rc-pdb-head' }, spec: { minAvailable: 1, selector: { matchLabels: { guard: 'head' } } } },
  });
  // What the disruption controller (kube-controller-manager, which does not run beside this API server) would report:
  // one healthy pod, one needed, none may go. Without it the Eviction API refuses every eviction the budget covers.
  await mergePatch(admin, `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/rc-pdb-head/status`, {
    status: { observedGeneration: 1, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 },
  });
  const publisher = new RecordingPublisher();
  const res = await handlerWith(publisher)(sqsDelivery(spotWarning(PDB_ID)), lambdaContext('handle-interruption'));
  assert.deepEqual(res, { batchItemFailures: [] }, 'a refusal is an outcome, not a failure to retry');
  const [o] = outcomes(publisher);
  assert.deepEqual(o?.blocked, [`${ns}/${head}`]);
  assert.deepEqual(o?.evicted.sort(), workers.map((w) => `${ns}/${w}`).sort());
  assert.deepEqual(await podState(admin, ns, head!), { exists: true, terminating: false }, 'the guarded pod was not forced');
  for (const p of workers) assert.ok(isGone(await podState(admin, ns, p)), `${p} evicted`);
  assert.equal((await nodeOf(pdbNode)).spec?.unschedulable, true);
});

/** A cluster's pods, its head first. */
async function headFirst(cluster: string): Promise<string[]> {
  const pods = await listPods(admin, ns, `ray.io/cluster=${cluster}`);
  const isHead = (p: (typeof pods)[number]) => p.metadata.labels?.['ray.io/node-type'] === 'head';
  return [...pods.filter(isHead), ...pods.filter((p) => !isHead(p))].map((p) => p.metadata.name).filter((n) => podsOf[cluster]!.includes(n));
}

test('an instance that is not a node of this cluster is acknowledged and nothing changes', async () => {
  const publisher = new RecordingPublisher();
  lambda.calls = 0;
  const res = await handlerWith(publisher)(sqsDelivery(spotWarning('i-0fffffffffffffff0')), lambdaContext('handle-interruption'));
  assert.deepEqual(res, { batchItemFailures: [] });
  assert.deepEqual(publisher.events, [], 'nothing handled, nothing published');
  assert.equal(lambda.calls, 1, 'one nodes list, no writes');
});

test('node handling off (Karpenter drains): the job is marked, the node and pods are left alone', async () => {
  const [pod] = podsOf['rc-karp']!;
  const res = await handlerWith(new RecordingPublisher(), false)(sqsDelivery(spotWarning(KARP_ID)), lambdaContext('handle-interruption'));
  assert.deepEqual(res, { batchItemFailures: [] });
  const j = await rayJob(jobs.karpJob);
  assert.equal(j.metadata.annotations?.['sentinel.dev/interrupted'], 'true');
  assert.equal(isRunning(j.status ?? {}), true, 'still running on Ray, as the operator reports');
  assert.notEqual((await nodeOf(karpNode)).spec?.unschedulable, true);
  assert.deepEqual(await podState(admin, ns, pod!), { exists: true, terminating: false });
});

test('without the RBAC grant the handler fails the record (retried, then dead-lettered) and names the missing grant', async () => {
  const other = await kube.namespace('spot-norbac');
  const cluster = new KubeCluster({ client: lambda, namespace: other });
  const node = 'ip-10-0-4-40.ec2.internal';
  await createNode(admin, node, { providerID: 'aws:///us-east-1a/i-0ccccccccccccccc3' });
  // No operator or kubelet there: a pod bound to the node (Pending) is a Ray pod on it all the same.
  await createPod(admin, other, 'rc-x-worker-0', node, rayPodLabels('rc-x'));
  // pods are listable cluster-wide, but rayjobs only in the pipelines' namespace: marking fails → the record fails.
  await assert.rejects(cluster.jobsOn(node, ['rc-x']), (e: Error) => e.name === 'ValidationFailed' && /forbidden by RBAC/.test(e.message));
  const res = await createHandleInterruptionHandler({ cluster, publisher: new RecordingPublisher(), nodeHandling: true })(
    sqsDelivery(spotWarning('i-0ccccccccccccccc3')),
    lambdaContext('handle-interruption'),
  );
  assert.equal(res.batchItemFailures.length, 1);
});
