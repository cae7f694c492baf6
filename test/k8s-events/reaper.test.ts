// The idle reaper on a real kube-apiserver with the real KubeRay v1.7 operator: the scheduled handler with
// KubeReaper (as the Lambdas' identity, with only the project's RBAC) and EksNodeGroups over a mocked EKS API. The
// Ray clusters' pods are the operator's (started by the simulated kubelet; the busy cluster's bound to a node group's
// node by the simulated scheduler), and the RayJobs run on a real Ray head: the job that keeps a cluster busy is
// RUNNING, and the finished one SUCCEEDED, because the operator says so. The race with a submission that KubeRay has
// not looked at yet runs in a namespace the operator does not watch, where a RayJob never gets a status.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeNodegroupCommand, EKSClient, UpdateNodegroupConfigCommand } from '@aws-sdk/client-eks';
import { createReapIdleHandler } from '../../functions/reap-idle.js';
import { KubeReaper, NODEGROUP_LABEL, resumeSelectedCluster } from '../../adapters/kuberay/reaper.js';
import { EksNodeGroups } from '../../adapters/aws/eks-nodegroups.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { conformanceRequest, newRunId } from '../k8s/conformance.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import type { KubeHarness } from '../k8s/harness.js';
import {
  createNode,
  createPod,
  createRayJob,
  IMAGE,
  isRunning,
  isSucceeded,
  lambdaContext,
  listPods,
  podState,
  rayClusterManifest,
  rayPodLabels,
  RecordingPublisher,
  Releases,
  startOperatorWorld,
  startSimulatedScheduler,
  until,
  type OperatorWorld,
  type SimulatedScheduler,
} from './support.js';

const MANAGED = { 'app.kubernetes.io/managed-by': 'sentinel' };
const IDLE_MS = 15 * 60_000;
const later = () => new Date(Date.now() + 2 * 60 * 60_000);
const GPU_NODE = 'ip-10-0-5-1.ec2.internal';
const CPU_NODE = 'ip-10-0-6-1.ec2.internal';
/**
 * v1.7 leaves a RayService whose spec.managedBy names another controller alone. The reaper only reads whose the
 * serving cluster is (its owner, and that owner's labels); left to the operator, a RayService with no Serve config
 * would have it start Serve on the one Ray head here for nothing.
 */
const LEFT_ALONE = 'kueue.x-k8s.io/multikueue';

let world: OperatorWorld;
let kube: KubeHarness;
let admin: KubeClient;
let lambda: KubeClient;
let ns: string;
let raceNs: string; // not watched by the operator
let scheduler: SimulatedScheduler;
const releases = new Releases();
let doneCluster = ''; // the finished RayJob's own cluster, named by the operator
let doneEnd = 0; // its end time, as the operator wrote it
const eks = mockClient(EKSClient);
const nodeGroups = () => new EksNodeGroups(new EKSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }), 'ml-cluster');

before(async () => {
  world = await startOperatorWorld({ name: 'reap', namespaces: [{ prefix: 'reap' }, { prefix: 'reap-race', watched: false }] });
  ({ kube, admin, lambda } = world);
  ns = world.ns.reap!;
  raceNs = world.ns['reap-race']!;
  // The busy cluster's pods go to the cpu-spot group's node; every other pod runs on no node in particular.
  scheduler = startSimulatedScheduler(kube, ns, (pod) => (pod.metadata.labels?.['ray.io/cluster'] === 'shared-busy' ? CPU_NODE : undefined));
});
after(async () => {
  await releases.releaseAll();
  await scheduler?.stop();
  await world?.stop();
  await releases.remove();
});
beforeEach(() => eks.reset());

type ClusterObj = { metadata: { name: string; uid: string; generation?: number; deletionTimestamp?: string }; spec?: { suspend?: boolean } };
const getCluster = async (name: string, n = ns): Promise<ClusterObj | undefined> => {
  try {
    return await admin.get<ClusterObj>('rayclusters', n, name);
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
};

describe('four Ray clusters, two node groups', () => {
  before(async () => {
    // Node groups: one empty of Ray pods (only a non-Ray pod), one with the busy cluster's Ray pod.
    await createNode(admin, GPU_NODE, { labels: { [NODEGROUP_LABEL]: 'gpu-spot' } });
    await createNode(admin, CPU_NODE, { labels: { [NODEGROUP_LABEL]: 'cpu-spot' } });
    await createPod(admin, ns, 'log-shipper-gpu', GPU_NODE, { app: 'log-shipper' });
    // Idle, owned by nobody (a shared cluster named by specs): suspend.
    await admin.create('rayclusters', ns, rayClusterManifest('shared-idle', { labels: MANAGED }));
    // The serving cluster of a managed RayService: keep.
    const svc = await admin.create<ClusterObj>('rayservices', ns, {
      apiVersion: 'ray.io/v1',
      kind: 'RayService',
      metadata: { name: 'breast-cancer', labels: MANAGED },
      spec: { managedBy: LEFT_ALONE, rayClusterConfig: { headGroupSpec: { rayStartParams: {}, template: { spec: { containers: [{ name: 'ray-head', image: IMAGE }] } } } } },
    });
    await admin.create('rayclusters', ns, rayClusterManifest('breast-cancer-raycluster-abcde', { owner: { kind: 'RayService', name: 'breast-cancer', uid: svc.metadata.uid } }));
    // A shared cluster with a job running on it: keep.
    await admin.create('rayclusters', ns, rayClusterManifest('shared-busy', { labels: MANAGED, scheduled: true }));
    const busy = await createRayJob(admin, ns, { clusterSelector: 'shared-busy', behaviour: { runs: { release: releases.next() } } });
    // A RayJob that finished on its own ephemeral cluster, which KubeRay's TTL deletion has not removed (a day's
    // TTL here; rayJobFor's default is a minute): delete.
    const done = await createRayJob(admin, ns, { behaviour: 'finishes', ttlSecondsAfterFinished: 24 * 3600 });
    // Not Sentinel's: never listed, never touched.
    await admin.create('rayclusters', ns, rayClusterManifest('someone-elses'));

    const t0 = Date.now();
    await Promise.all([world.untilStatus(ns, busy.name, 'running', isRunning), world.untilStatus(ns, done.name, 'succeeded', isSucceeded)]);
    const status = (await world.rayJob(ns, done.name)).status!;
    doneCluster = status.rayClusterName!;
    doneEnd = Date.parse(status.endTime!);
    await Promise.all(['shared-idle', 'breast-cancer-raycluster-abcde', 'shared-busy', doneCluster].map((c) => world.untilClusterReady(ns, c)));
    const busyPods = await listPods(admin, ns, 'ray.io/cluster=shared-busy');
    assert.deepEqual(busyPods.map((p) => [p.spec.nodeName, p.status?.phase]), [[CPU_NODE, 'Running']], 'the busy cluster\'s head runs on the cpu-spot node');
    process.stdout.write(`# the operator's clusters ready and its statuses of the busy and the finished RayJob in ${Date.now() - t0} ms\n`);
  });

  test('the reaper lists exactly the managed clusters with their owners', async () => {
    const clusters = await new KubeReaper({ client: lambda, namespace: ns }).listRayClusters();
    assert.deepEqual(
      clusters.map((c) => [c.name, c.owner, c.suspended]),
      [
        ['breast-cancer-raycluster-abcde', 'rayservice', false],
        [doneCluster, 'rayjob', false],
        ['shared-busy', 'none', false],
        ['shared-idle', 'none', false],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    assert.ok(clusters.every((c) => c.namespace === ns && c.createdAt > Date.now() - 10 * 60_000));
  });

  test('suspend / keep / keep / delete on the real server; the empty node group goes to zero', async () => {
    eks.on(DescribeNodegroupCommand, { nodegroupName: 'gpu-spot' }).resolves({ nodegroup: { scalingConfig: { minSize: 1, maxSize: 4, desiredSize: 1 } } });
    eks.on(DescribeNodegroupCommand, { nodegroupName: 'cpu-spot' }).resolves({ nodegroup: { scalingConfig: { minSize: 0, maxSize: 4, desiredSize: 1 } } });
    eks.on(UpdateNodegroupConfigCommand).resolves({});
    const publisher = new RecordingPublisher();
    const handler = createReapIdleHandler({
      reaper: new KubeReaper({ client: lambda, namespace: ns }),
      nodeGroups: nodeGroups(),
      publisher,
      managedNodeGroups: ['gpu-spot', 'cpu-spot'],
      idleMs: IDLE_MS,
      now: later,
    });
    const summary = await handler(undefined, lambdaContext('reap-idle'));
    assert.deepEqual(summary.suspended, ['shared-idle']);
    assert.deepEqual(summary.deleted, [doneCluster]);
    assert.deepEqual(summary.scaledToZero, ['gpu-spot']);
    assert.deepEqual(
      Object.fromEntries(summary.kept.map((k: { name: string; reason: string }) => [k.name, k.reason])),
      { 'breast-cancer-raycluster-abcde': 'serves a model', 'shared-busy': '1 active job(s)', 'nodegroup/cpu-spot': '1 Ray pod(s)' },
    );

    assert.equal((await getCluster('shared-idle'))?.spec?.suspend, true, 'idle cluster suspended');
    assert.notEqual((await getCluster('breast-cancer-raycluster-abcde'))?.spec?.suspend, true, 'serving cluster kept');
    assert.notEqual((await getCluster('shared-busy'))?.spec?.suspend, true, 'busy cluster kept');
    const gone = await getCluster(doneCluster);
    // Foreground deletion: no garbage collector here to finish it, so the object stays, marked for deletion.
    assert.ok(!gone || gone.metadata.deletionTimestamp, 'finished job\'s cluster deleted');
    assert.equal((await getCluster('someone-elses'))?.spec?.suspend, undefined, 'unmanaged cluster untouched');

    const updates = eks.commandCalls(UpdateNodegroupConfigCommand).map((c) => c.args[0].input);
    assert.deepEqual(updates, [{ clusterName: 'ml-cluster', nodegroupName: 'gpu-spot', scalingConfig: { minSize: 0, desiredSize: 0, maxSize: 4 } }]);
    assert.deepEqual(publisher.events.map((e) => e['detail-type']).sort(), ['Node Group Scaled To Zero', 'Ray Cluster Deleted', 'Ray Cluster Suspended']);
  });

  test('a second run changes nothing more', async () => {
    eks.on(DescribeNodegroupCommand, { nodegroupName: 'gpu-spot' }).resolves({ nodegroup: { scalingConfig: { minSize: 0, maxSize: 4, desiredSize: 0 } } });
    eks.on(DescribeNodegroupCommand, { nodegroupName: 'cpu-spot' }).resolves({ nodegroup: { scalingConfig: { minSize: 0, maxSize: 4, desiredSize: 1 } } });
    const publisher = new RecordingPublisher();
    const summary = await createReapIdleHandler({
      reaper: new KubeReaper({ client: lambda, namespace: ns }),
      nodeGroups: nodeGroups(),
      publisher,
      managedNodeGroups: ['gpu-spot', 'cpu-spot'],
      idleMs: IDLE_MS,
      now: later,
    })(undefined, lambdaContext('reap-idle'));
    assert.deepEqual([summary.suspended, summary.deleted, summary.scaledToZero], [[], [], []]);
    assert.equal(summary.kept.find((k: { name: string }) => k.name === 'shared-idle')?.reason, 'already suspended');
    assert.deepEqual(publisher.events, []);
    assert.equal(eks.commandCalls(UpdateNodegroupConfigCommand).length, 0);
  });

  test('resumeSelectedCluster un-suspends the cluster a new job selects (as the lambda)', async () => {
    assert.equal((await getCluster('shared-idle'))?.spec?.suspend, true);
    assert.equal(await resumeSelectedCluster(lambda, ns, { 'ray.io/cluster': 'shared-idle' }), 'resumed');
    assert.equal((await getCluster('shared-idle'))?.spec?.suspend, false);
    assert.equal(await resumeSelectedCluster(lambda, ns, { 'ray.io/cluster': 'shared-idle' }), 'running', 'idempotent');
    assert.equal(await resumeSelectedCluster(lambda, ns, { 'ray.io/cluster': 'no-such-cluster' }), 'missing');
    // A cluster never suspended is not written (no spec change, no generation bump for KubeRay to reconcile; the
    // operator's own status writes change its resourceVersion, not its generation).
    const before = await getCluster('shared-busy');
    assert.equal(await resumeSelectedCluster(lambda, ns, { 'ray.io/cluster': 'shared-busy' }), 'running');
    assert.equal((await getCluster('shared-busy'))?.metadata.generation, before?.metadata.generation);
  });
});

test('a job submitted between the plan and the suspension gets its cluster back', async () => {
  // Where the operator does not look: the new RayJob has no status, as in the moment before KubeRay sees it.
  await admin.create('rayclusters', raceNs, rayClusterManifest('shared-raced', { labels: MANAGED }));
  const reaper = new KubeReaper({ client: lambda, namespace: raceNs });
  const [info] = (await reaper.listRayClusters()).filter((c) => c.name === 'shared-raced');
  // The plan saw no job; then a job selecting the cluster is created (KubeRay has not looked at it yet: no status).
  await createRayJob(admin, raceNs, { clusterSelector: 'shared-raced' });
  await reaper.suspend(info!);
  assert.equal((await getCluster('shared-raced', raceNs))?.spec?.suspend, false, 'resumed after seeing the new job');
  // With no live job, the suspension stands.
  await admin.create('rayclusters', raceNs, rayClusterManifest('shared-quiet', { labels: MANAGED }));
  await reaper.suspend({ ...info!, name: 'shared-quiet' });
  assert.equal((await getCluster('shared-quiet', raceNs))?.spec?.suspend, true);
  const activity = await reaper.clusterActivity();
  assert.equal(activity.find((a) => a.cluster === 'shared-raced')?.state, 'PENDING', 'a job KubeRay has not seen yet counts by its selector');
});

test('the next submission resumes what it needs: KubeRayCompute.submit to a suspended cluster un-suspends it', async () => {
  await admin.create('rayclusters', ns, rayClusterManifest('shared-sleeping', { labels: MANAGED, suspend: true }));
  const compute = new KubeRayCompute({ client: lambda, namespace: ns });
  const req = { ...conformanceRequest(newRunId(), 'tune'), cluster: { mode: 'existing' as const, selector: { 'ray.io/cluster': 'shared-sleeping' } } };
  assert.deepEqual(await compute.submit(req), { jobId: req.jobId, created: true });
  assert.equal((await getCluster('shared-sleeping'))?.spec?.suspend, false);
  // A first submit that died between create and resume: the redelivered submit resumes the cluster too.
  await admin.patch('rayclusters', ns, 'shared-sleeping', [{ op: 'replace', path: '/spec/suspend', value: true }]);
  assert.deepEqual(await compute.submit(req), { jobId: req.jobId, created: false });
  assert.equal((await getCluster('shared-sleeping'))?.spec?.suspend, false);
});

test('clusterActivity maps each managed RayJob to its cluster, state and end time', async () => {
  const activity = await new KubeReaper({ client: lambda, namespace: ns }).clusterActivity();
  const byCluster = new Map(activity.map((a) => [a.cluster, a]));
  assert.equal(byCluster.get('shared-busy')?.state, 'RUNNING');
  assert.equal(byCluster.get(doneCluster)?.state, 'SUCCEEDED');
  assert.equal(byCluster.get(doneCluster)?.endTime, doneEnd, 'the end time the operator wrote');
  assert.ok(doneEnd <= Date.now());
});

test('rayPodsInNodeGroup counts Ray pods on the group\'s nodes, not other pods, not finished ones', async () => {
  const reaper = new KubeReaper({ client: lambda, namespace: ns });
  assert.equal(await reaper.rayPodsInNodeGroup('gpu-spot'), 0);
  assert.equal(await reaper.rayPodsInNodeGroup('cpu-spot'), 1);
  assert.equal(await reaper.rayPodsInNodeGroup('no-such-group'), 0);
  assert.equal((await podState(admin, ns, 'log-shipper-gpu')).exists, true);
  await createPod(admin, ns, 'shared-busy-worker-done', CPU_NODE, rayPodLabels('shared-busy'));
  await until('the kubelet starting it', () => listPods(admin, ns, 'ray.io/cluster=shared-busy'), (ps) => ps.some((p) => p.metadata.name === 'shared-busy-worker-done' && p.status?.phase === 'Running'));
  // Its container exits 0: what the kubelet reports then (the simulated one runs no containers; it does not start a
  // finished pod again).
  await admin.send('PATCH', `/api/v1/namespaces/${ns}/pods/shared-busy-worker-done/status`, { body: { status: { phase: 'Succeeded' } }, contentType: 'application/merge-patch+json' });
  assert.equal(await reaper.rayPodsInNodeGroup('cpu-spot'), 1);
});
