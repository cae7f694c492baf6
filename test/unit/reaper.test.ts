import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planReap, reapIdle } from '../../core/reaper.js';
import type { BusEvent, RayClusterInfo } from '../../core/ports.js';

const H = 3_600_000;
const now = 10 * H;
const cluster = (name: string, owner: RayClusterInfo['owner'], extra: Partial<RayClusterInfo> = {}): RayClusterInfo => ({ name, namespace: 'ml', suspended: false, owner, createdAt: 0, ...extra });

test('the plan suspends idle shared clusters, deletes idle ephemeral ones, never touches serving or busy ones', () => {
  const plan = planReap({
    clusters: [
      cluster('shared-idle', 'none'),
      cluster('ephemeral-idle', 'rayjob'),
      cluster('serving', 'rayservice'),
      cluster('busy', 'none'),
      cluster('recent', 'none'),
      cluster('asleep', 'none', { suspended: true }),
      cluster('new', 'none', { createdAt: now - 60_000 }),
    ],
    activity: [
      { cluster: 'busy', state: 'RUNNING' },
      { cluster: 'recent', state: 'SUCCEEDED', endTime: now - 5 * 60_000 },
      { cluster: 'shared-idle', state: 'SUCCEEDED', endTime: now - 2 * H },
    ],
    nodeGroups: [
      { name: 'ray-spot', desiredSize: 3, rayPods: 0 },
      { name: 'ray-busy', desiredSize: 2, rayPods: 4 },
      { name: 'ray-zero', desiredSize: 0, rayPods: 0 },
    ],
    idleMs: 30 * 60_000,
    now,
  });
  assert.deepEqual(plan.suspend.map((c) => c.name), ['shared-idle']);
  assert.deepEqual(plan.delete.map((c) => c.name), ['ephemeral-idle']);
  assert.deepEqual(plan.scaleToZero, ['ray-spot']);
  assert.deepEqual(Object.fromEntries(plan.kept.map((k) => [k.name, k.reason])), {
    serving: 'serves a model',
    busy: '1 active job(s)',
    recent: 'idle 5 min < 30 min',
    asleep: 'already suspended',
    new: 'idle 1 min < 30 min',
    'nodegroup/ray-busy': '4 Ray pod(s)',
    'nodegroup/ray-zero': 'already at 0',
  });
});

test('reapIdle carries the plan out through the ports and publishes each action', async () => {
  const calls: string[] = [];
  const events: BusEvent[] = [];
  const plan = await reapIdle({
    reaper: {
      listRayClusters: async () => [cluster('a', 'none'), cluster('b', 'rayjob'), cluster('s', 'rayservice')],
      clusterActivity: async () => [],
      suspend: async (c) => void calls.push(`suspend ${c.name}`),
      delete: async (c) => void calls.push(`delete ${c.name}`),
      rayPodsInNodeGroup: async () => 0,
    },
    nodeGroups: { desiredSize: async () => 2, scaleToZero: async (g) => void calls.push(`scale ${g}`) },
    publisher: { publish: async (e) => void events.push(...e) },
    managedNodeGroups: ['ray-workers'],
    idleMs: 60_000,
    now: () => new Date(now),
  });
  assert.deepEqual(calls, ['suspend a', 'delete b', 'scale ray-workers']);
  assert.deepEqual(events.map((e) => e['detail-type']), ['Ray Cluster Suspended', 'Ray Cluster Deleted', 'Node Group Scaled To Zero']);
  assert.deepEqual(plan.kept, [{ name: 's', reason: 'serves a model' }]);
});
