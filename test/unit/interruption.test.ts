import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleInterruption, interruptionEvent, parseEc2Event, INTERRUPTION_EVENT_SOURCE } from '../../core/interruption.js';
import type { ClusterPort, RayPod } from '../../core/ports.js';
import { awsSample, ec2Event } from '../support/events.js';

const ID = 'i-1234567890abcdef0';

function fakeCluster(pods: RayPod[], blocked: string[] = [], unschedulable = false) {
  const calls: string[] = [];
  const jobQueries: string[][] = [];
  const cluster: ClusterPort = {
    nodeForInstance: async (id) => (id === ID ? { name: 'ip-10-0-0-1', providerID: `aws:///us-east-2a/${ID}`, unschedulable } : undefined),
    cordon: async (n) => void calls.push(`cordon ${n}`),
    rayPodsOn: async () => pods,
    evict: async (p) => {
      calls.push(`evict ${p.name}`);
      return blocked.includes(p.name) ? 'blocked' : 'evicted';
    },
    jobsOn: async (_n, clusters) => (jobQueries.push(clusters), clusters.map((c) => `job-of-${c}`)),
    markInterrupted: async (j) => void calls.push(`mark ${j}`),
  };
  return { cluster, calls, jobQueries };
}

const pods = [
  { namespace: 'ml', name: 'rc1-worker-a', rayCluster: 'rc1' },
  { namespace: 'ml', name: 'rc1-worker-b', rayCluster: 'rc1' },
  { namespace: 'ml', name: 'rc2-worker-a', rayCluster: 'rc2' },
];

test('a spot warning marks the jobs first, then cordons and evicts every Ray pod on the node', async () => {
  const { cluster, calls } = fakeCluster(pods, ['rc2-worker-a']);
  const o = await handleInterruption(awsSample('ec2-spot-instance-interruption-warning'), { cluster, nodeHandling: true });
  assert.equal(o.action, 'handled');
  assert.deepEqual(calls.slice(0, 3), ['mark job-of-rc1', 'mark job-of-rc2', 'cordon ip-10-0-0-1']);
  assert.deepEqual(o.evicted, ['ml/rc1-worker-a', 'ml/rc1-worker-b']);
  assert.deepEqual(o.blocked, ['ml/rc2-worker-a'], 'a PodDisruptionBudget refusal is reported, not forced');
});

test('with node handling off (Karpenter drains), jobs are still marked but the node is left alone', async () => {
  const { cluster, calls } = fakeCluster(pods);
  const o = await handleInterruption(awsSample('ec2-spot-instance-interruption-warning'), { cluster, nodeHandling: false });
  assert.deepEqual(calls, ['mark job-of-rc1', 'mark job-of-rc2']);
  assert.equal(o.cordoned, false);
});

test('a rebalance recommendation only cordons; a terminated instance only marks', async () => {
  const r = fakeCluster(pods);
  await handleInterruption(awsSample('ec2-instance-rebalance-recommendation'), { cluster: r.cluster, nodeHandling: true });
  assert.deepEqual(r.calls, ['cordon ip-10-0-0-1']);
  const t = fakeCluster(pods);
  await handleInterruption(ec2Event('ec2-instance-state-change-notification', ID, 'terminated'), { cluster: t.cluster, nodeHandling: true });
  assert.deepEqual(t.calls, ['mark job-of-rc1', 'mark job-of-rc2']);
});

test('unknown detail-types, non-interrupting states and foreign instances are ignored with a reason', async () => {
  const { cluster, calls } = fakeCluster(pods);
  assert.match((await handleInterruption({ 'detail-type': 'EC2 Fleet Error' }, { cluster, nodeHandling: true })).reason, /is not handled/);
  assert.match((await handleInterruption(awsSample('ec2-instance-state-change-notification'), { cluster, nodeHandling: true })).reason, /state "pending" is not an interruption/);
  assert.match((await handleInterruption(ec2Event('ec2-spot-instance-interruption-warning', 'i-0fffffffffffffff0'), { cluster, nodeHandling: true })).reason, /not a node of this cluster/);
  assert.deepEqual(calls, []);
  assert.deepEqual(parseEc2Event({ 'detail-type': 'EC2 Spot Instance Interruption Warning', detail: { 'instance-id': '; rm -rf /' } }).kind, 'unknown');
});

test('an instance stopping, stopped, shutting down or terminated marks its jobs and leaves the node alone', async () => {
  for (const state of ['stopping', 'stopped', 'shutting-down', 'terminated']) {
    const { cluster, calls } = fakeCluster(pods);
    const o = await handleInterruption(ec2Event('ec2-instance-state-change-notification', ID, state), { cluster, nodeHandling: true });
    assert.deepEqual(calls, ['mark job-of-rc1', 'mark job-of-rc2'], state);
    assert.deepEqual(o, {
      instanceId: ID,
      node: 'ip-10-0-0-1',
      action: 'handled',
      reason: 'state-change',
      cordoned: false,
      evicted: [],
      blocked: [],
      markedJobs: ['job-of-rc1', 'job-of-rc2'],
    });
    assert.deepEqual(parseEc2Event(ec2Event('ec2-instance-state-change-notification', ID, state)), { kind: 'state-change', instanceId: ID, state });
  }
  for (const state of ['pending', 'running', '']) {
    const { cluster, calls } = fakeCluster(pods);
    assert.equal((await handleInterruption(ec2Event('ec2-instance-state-change-notification', ID, state), { cluster, nodeHandling: true })).action, 'ignored', state);
    assert.deepEqual(calls, []);
  }
});

test('an EC2 event without detail, or without a valid instance id, is ignored without touching the cluster', async () => {
  const { cluster, calls } = fakeCluster(pods);
  for (const e of [
    { 'detail-type': 'EC2 Spot Instance Interruption Warning' },
    { 'detail-type': 'EC2 Instance Rebalance Recommendation', detail: {} },
    { 'detail-type': 'EC2 Instance State-change Notification', detail: { state: 'terminated' } },
    { 'detail-type': 'EC2 Instance State-change Notification' },
  ]) {
    const o = await handleInterruption(e, { cluster, nodeHandling: true });
    assert.deepEqual({ ...o, reason: '' }, { action: 'ignored', reason: '', cordoned: false, evicted: [], blocked: [], markedJobs: [] });
  }
  assert.deepEqual(calls, []);
  // Instance ids: i- and 8 to 17 lowercase hex digits, nothing around them.
  const kindFor = (id: string) => parseEc2Event({ 'detail-type': 'EC2 Spot Instance Interruption Warning', detail: { 'instance-id': id } }).kind;
  assert.equal(kindFor('i-abcd1111'), 'spot-warning');
  assert.equal(kindFor('i-1234567890abcdef0'), 'spot-warning');
  for (const bad of ['i-abcd111', 'i-1234567890abcdef01', 'i-ABCD1111', 'x-abcd1111', 'i-abcd1111 ', ' i-abcd1111', 'i-abcd111g']) assert.equal(kindFor(bad), 'unknown', bad);
  assert.deepEqual(parseEc2Event({ 'detail-type': 'EC2 Spot Instance Interruption Warning', detail: { 'instance-id': ID } }), { kind: 'spot-warning', instanceId: ID });
});

test('a node already cordoned is not cordoned again, and its Ray pods are still evicted', async () => {
  const { cluster, calls } = fakeCluster(pods, [], true);
  const o = await handleInterruption(awsSample('ec2-spot-instance-interruption-warning'), { cluster, nodeHandling: true });
  assert.equal(calls.includes('cordon ip-10-0-0-1'), false);
  assert.equal(o.cordoned, true, 'the node is cordoned (by someone before us)');
  assert.deepEqual(o.evicted, ['ml/rc1-worker-a', 'ml/rc1-worker-b', 'ml/rc2-worker-a']);
  const r = fakeCluster(pods, [], true);
  const rebalance = await handleInterruption(awsSample('ec2-instance-rebalance-recommendation'), { cluster: r.cluster, nodeHandling: true });
  assert.deepEqual(r.calls, []);
  assert.deepEqual([rebalance.cordoned, rebalance.evicted, rebalance.markedJobs], [true, [], []]);
});

test('the handled outcome names instance, node and kind; jobs are looked up by the Ray clusters on the node, once each', async () => {
  const mixed = [...pods, { namespace: 'ml', name: 'loose-pod' }, { namespace: 'ml', name: 'rc1-head', rayCluster: 'rc1' }];
  const { cluster, jobQueries } = fakeCluster(mixed as RayPod[]);
  const o = await handleInterruption(awsSample('ec2-spot-instance-interruption-warning'), { cluster, nodeHandling: true });
  assert.deepEqual(jobQueries, [['rc1', 'rc2']]);
  assert.deepEqual({ ...o, evicted: o.evicted.length }, {
    instanceId: ID,
    node: 'ip-10-0-0-1',
    action: 'handled',
    reason: 'spot-warning',
    cordoned: true,
    evicted: 5,
    blocked: [],
    markedJobs: ['job-of-rc1', 'job-of-rc2'],
  });
  const r = fakeCluster(pods);
  const rebalance = await handleInterruption(awsSample('ec2-instance-rebalance-recommendation'), { cluster: r.cluster, nodeHandling: true });
  assert.deepEqual([rebalance.action, rebalance.reason, rebalance.cordoned, rebalance.evicted, rebalance.markedJobs], ['handled', 'rebalance', true, [], []]);
  const off = fakeCluster(pods);
  const ignored = await handleInterruption(awsSample('ec2-instance-rebalance-recommendation'), { cluster: off.cluster, nodeHandling: false });
  assert.deepEqual([ignored.cordoned, off.calls], [false, []]);
  const foreign = await handleInterruption(ec2Event('ec2-spot-instance-interruption-warning', 'i-0fffffffffffffff0'), { cluster, nodeHandling: true });
  assert.deepEqual({ ...foreign, reason: '' }, { instanceId: 'i-0fffffffffffffff0', action: 'ignored', reason: '', cordoned: false, evicted: [], blocked: [], markedJobs: [] });
});

test('the published event: source, detail-type, the outcome as detail, the time, and the instance as its resource', () => {
  const now = new Date('2024-06-01T12:00:00Z');
  const handled = { instanceId: ID, node: 'n', action: 'handled' as const, reason: 'spot-warning', cordoned: true, evicted: ['ml/a'], blocked: [], markedJobs: ['j'] };
  assert.deepEqual(interruptionEvent(handled, now), {
    source: 'sentinel.interruptions',
    'detail-type': 'Spot Interruption Handled',
    detail: handled,
    time: '2024-06-01T12:00:00.000Z',
    resources: [ID],
  });
  assert.equal(INTERRUPTION_EVENT_SOURCE, 'sentinel.interruptions');
  const ignored = { action: 'ignored' as const, reason: 'x', cordoned: false, evicted: [], blocked: [], markedJobs: [] };
  assert.deepEqual(interruptionEvent(ignored, now).resources, []);
});
