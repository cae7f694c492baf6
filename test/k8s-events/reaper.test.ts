// The idle reaper on a real kube-apiserver: the scheduled handler with KubeReaper (as the Lambdas' identity, with
// only the project's RBAC) and EksNodeGroups over a mocked EKS API.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeNodegroupCommand, EKSClient, UpdateNodegroupConfigCommand } from '@aws-sdk/client-eks';
import { startKube, type KubeHarness } from '../k8s/harness.js';
import { createReapIdleHandler } from '../../functions/reap-idle.js';
import { KubeReaper, NODEGROUP_LABEL, resumeSelectedCluster } from '../../adapters/kuberay/reaper.js';
import { EksNodeGroups } from '../../adapters/aws/eks-nodegroups.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { conformanceRequest, newRunId } from '../k8s/conformance.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import { applyRbac, createNode, createRayJob, createRunningPod, IMAGE, lambdaContext, rayClusterManifest, rayPodLabels, RecordingPublisher } from './support.js';

const MANAGED = { 'app.kubernetes.io/managed-by': 'sentinel' };
const IDLE_MS = 15 * 60_000;
const later = () => new Date(Date.now() + 2 * 60 * 60_000);

let kube: KubeHarness;
let admin: KubeClient;
let lambda: KubeClient;
let ns: string;
const eks = mockClient(EKSClient);
const nodeGroups = () => new EksNodeGroups(new EKSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }), 'ml-cluster');

before(async () => {
  kube = await startKube();
  ns = await kube.namespace('reap');
  await applyRbac(kube, ns);
  admin = kube.client('admin');
  lambda = kube.client('lambda');
});
after(async () => {
  admin?.close();
  lambda?.close();
  await kube?.stop();
});
beforeEach(() => eks.reset());

type ClusterObj = { metadata: { name: string; uid: string; deletionTimestamp?: string }; spec?: { suspend?: boolean } };
const getCluster = async (name: string): Promise<ClusterObj | undefined> => {
  try {
    return await admin.get<ClusterObj>('rayclusters', ns, name);
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
};

describe('four Ray clusters, two node groups', () => {
  before(async () => {
    // Idle, owned by nobody (a shared cluster named by specs): suspend.
    await admin.create('rayclusters', ns, rayClusterManifest('shared-idle', { labels: MANAGED }));
    // The serving cluster of a managed RayService: keep.
    const svc = await admin.create<ClusterObj>('rayservices', ns, {
      apiVersion: 'ray.io/v1',
      kind: 'RayService',
      metadata: { name: 'breast-cancer', labels: MANAGED },
      spec: { rayClusterConfig: { headGroupSpec: { rayStartParams: {}, template: { spec: { containers: [{ name: 'ray-head', image: IMAGE }] } } } } },
    });
    await admin.create('rayclusters', ns, rayClusterManifest('breast-cancer-raycluster-abcde', { owner: { kind: 'RayService', name: 'breast-cancer', uid: svc.metadata.uid } }));
    // A shared cluster with a job running on it: keep.
    await admin.create('rayclusters', ns, rayClusterManifest('shared-busy', { labels: MANAGED }));
    await createRayJob(admin, ns, { clusterSelector: 'shared-busy', status: { rayClusterName: 'shared-busy', jobStatus: 'RUNNING', jobDeploymentStatus: 'Running' } });
    // The ephemeral cluster of a RayJob that finished (KubeRay's TTL deletion did not happen): delete.
    const ended = new Date(Date.now() - 60 * 60_000).toISOString();
    const done = await createRayJob(admin, ns, { status: { rayClusterName: 'done-job-cluster', jobStatus: 'SUCCEEDED', jobDeploymentStatus: 'Complete', endTime: ended } });
    await admin.create('rayclusters', ns, rayClusterManifest('done-job-cluster', { owner: { kind: 'RayJob', name: done.name, uid: done.uid } }));
    // Not Sentinel's: never listed, never touched.
    await admin.create('rayclusters', ns, rayClusterManifest('someone-elses'));

    // Node groups: one empty of Ray pods (only a non-Ray pod), one with a Ray pod.
    await createNode(admin, 'ip-10-0-5-1.ec2.internal', { labels: { [NODEGROUP_LABEL]: 'gpu-spot' } });
    await createRunningPod(admin, ns, 'log-shipper-gpu', 'ip-10-0-5-1.ec2.internal', { app: 'log-shipper' });
    await createNode(admin, 'ip-10-0-6-1.ec2.internal', { labels: { [NODEGROUP_LABEL]: 'cpu-spot' } });
    await createRunningPod(admin, ns, 'shared-busy-worker-0', 'ip-10-0-6-1.ec2.internal', rayPodLabels('shared-busy'));
  });

  test('the reaper lists exactly the managed clusters with their owners', async () => {
    const clusters = await new KubeReaper({ client: lambda, namespace: ns }).listRayClusters();
    assert.deepEqual(
      clusters.map((c) => [c.name, c.owner, c.suspended]),
      [
        ['breast-cancer-raycluster-abcde', 'rayservice', false],
        ['done-job-cluster', 'rayjob', false],
        ['shared-busy', 'none', false],
        ['shared-idle', 'none', false],
      ],
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
    assert.deepEqual(summary.deleted, ['done-job-cluster']);
    assert.deepEqual(summary.scaledToZero, ['gpu-spot']);
    assert.deepEqual(
      Object.fromEntries(summary.kept.map((k: { name: string; reason: string }) => [k.name, k.reason])),
      { 'breast-cancer-raycluster-abcde': 'serves a model', 'shared-busy': '1 active job(s)', 'nodegroup/cpu-spot': '1 Ray pod(s)' },
    );

    assert.equal((await getCluster('shared-idle'))?.spec?.suspend, true, 'idle cluster suspended');
    assert.notEqual((await getCluster('breast-cancer-raycluster-abcde'))?.spec?.suspend, true, 'serving cluster kept');
    assert.notEqual((await getCluster('shared-busy'))?.spec?.suspend, true, 'busy cluster kept');
    const gone = await getCluster('done-job-cluster');
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
    // A cluster never suspended is not written (no spec change, no generation bump for KubeRay to reconcile).
    const before = await admin.get<{ metadata: { resourceVersion: string } }>('rayclusters', ns, 'shared-busy');
    assert.equal(await resumeSelectedCluster(lambda, ns, { 'ray.io/cluster': 'shared-busy' }), 'running');
    assert.equal((await admin.get<{ metadata: { resourceVersion: string } }>('rayclusters', ns, 'shared-busy')).metadata.resourceVersion, before.metadata.resourceVersion);
  });
});

test('a job submitted between the plan and the suspension gets its cluster back', async () => {
  await admin.create('rayclusters', ns, rayClusterManifest('shared-raced', { labels: MANAGED }));
  const reaper = new KubeReaper({ client: lambda, namespace: ns });
  const [info] = (await reaper.listRayClusters()).filter((c) => c.name === 'shared-raced');
  // The plan saw no job; then a job selecting the cluster is created (KubeRay has not looked at it yet: no status).
  await createRayJob(admin, ns, { clusterSelector: 'shared-raced' });
  await reaper.suspend(info!);
  assert.equal((await getCluster('shared-raced'))?.spec?.suspend, false, 'resumed after seeing the new job');
  // With no live job, the suspension stands.
  await admin.create('rayclusters', ns, rayClusterManifest('shared-quiet', { labels: MANAGED }));
  await reaper.suspend({ ...info!, name: 'shared-quiet' });
  assert.equal((await getCluster('shared-quiet'))?.spec?.suspend, true);
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
  assert.equal(byCluster.get('done-job-cluster')?.state, 'SUCCEEDED');
  assert.ok((byCluster.get('done-job-cluster')?.endTime ?? 0) < Date.now() - 30 * 60_000);
  assert.equal(byCluster.get('shared-raced')?.state, 'PENDING', 'a job KubeRay has not seen yet counts by its selector');
});

test('rayPodsInNodeGroup counts Ray pods on the group\'s nodes, not other pods, not finished ones', async () => {
  const reaper = new KubeReaper({ client: lambda, namespace: ns });
  assert.equal(await reaper.rayPodsInNodeGroup('gpu-spot'), 0);
  assert.equal(await reaper.rayPodsInNodeGroup('cpu-spot'), 1);
  assert.equal(await reaper.rayPodsInNodeGroup('no-such-group'), 0);
  await createRunningPod(admin, ns, 'shared-busy-worker-done', 'ip-10-0-6-1.ec2.internal', rayPodLabels('shared-busy'));
  await admin.send('PATCH', `/api/v1/namespaces/${ns}/pods/shared-busy-worker-done/status`, { body: { status: { phase: 'Succeeded' } }, contentType: 'application/merge-patch+json' });
  assert.equal(await reaper.rayPodsInNodeGroup('cpu-spot'), 1);
});
