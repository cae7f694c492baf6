import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleInterruption, parseEc2Event } from '../../core/interruption.js';
import type { ClusterPort, RayPod } from '../../core/ports.js';
import { awsSample, ec2Event } from '../support/events.js';

const ID = 'i-1234567890abcdef0';

function fakeCluster(pods: RayPod[], blocked: string[] = []) {
  const calls: string[] = [];
  const cluster: ClusterPort = {
    nodeForInstance: async (id) => (id === ID ? { name: 'ip-10-0-0-1', providerID: `aws:///us-east-2a/${ID}`, unschedulable: false } : undefined),
    cordon: async (n) => void calls.push(`cordon ${n}`),
    rayPodsOn: async () => pods,
    evict: async (p) => {
      calls.push(`evict ${p.name}`);
      return blocked.includes(p.name) ? 'blocked' : 'evicted';
    },
    jobsOn: async (_n, clusters) => clusters.map((c) => `job-of-${c}`),
    markInterrupted: async (j) => void calls.push(`mark ${j}`),
  };
  return { cluster, calls };
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
