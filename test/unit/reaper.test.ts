import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planReap, reapIdle, REAPER_EVENT_SOURCE } from '../../core/reaper.js';
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

const MIN = 60_000;
const plan1 = (c: RayClusterInfo, activity: Array<{ cluster: string; state: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'PENDING' | 'STOPPED'; endTime?: number }> = []) =>
  planReap({ clusters: [c], activity, nodeGroups: [], idleMs: 30 * MIN, now });
const verdict = (p: ReturnType<typeof planReap>) => (p.suspend.length ? 'suspend' : p.delete.length ? 'delete' : 'keep');

test('idle time counts from the later of creation and the last job end; exactly the idle time is idle', () => {
  assert.equal(verdict(plan1(cluster('c', 'none', { createdAt: now - 30 * MIN }))), 'suspend', 'idle for exactly idleMs');
  assert.equal(verdict(plan1(cluster('c', 'none', { createdAt: now - 30 * MIN + 1 }))), 'keep');
  assert.equal(verdict(plan1(cluster('c', 'rayjob', { createdAt: now - 30 * MIN }))), 'delete');
  // The latest job end counts, whatever the order of the activity; jobs of other clusters do not.
  const old = cluster('c', 'none', { createdAt: 0 });
  assert.equal(verdict(plan1(old, [{ cluster: 'c', state: 'SUCCEEDED', endTime: now - 10 * MIN }, { cluster: 'c', state: 'FAILED', endTime: now - 90 * MIN }])), 'keep');
  assert.equal(verdict(plan1(old, [{ cluster: 'c', state: 'FAILED', endTime: now - 90 * MIN }, { cluster: 'c', state: 'SUCCEEDED', endTime: now - 10 * MIN }])), 'keep');
  assert.equal(verdict(plan1(old, [{ cluster: 'other', state: 'SUCCEEDED', endTime: now - MIN }])), 'suspend');
  assert.equal(verdict(plan1(old, [{ cluster: 'other', state: 'RUNNING' }])), 'suspend', "another cluster's job keeps nothing busy");
  // A finished job without an end time does not make the cluster look fresh.
  assert.equal(verdict(plan1(old, [{ cluster: 'c', state: 'STOPPED' }])), 'suspend');
  // Pending and running jobs are active; stopped, failed and succeeded ones are not.
  for (const state of ['PENDING', 'RUNNING'] as const) assert.equal(verdict(plan1(old, [{ cluster: 'c', state }])), 'keep', state);
  const busy = plan1(old, [{ cluster: 'c', state: 'RUNNING' }, { cluster: 'c', state: 'PENDING' }, { cluster: 'c', state: 'FAILED', endTime: 1 }]);
  assert.deepEqual(busy.kept.map((k) => k.name), ['c']);
  // A serving cluster is kept even when suspended or idle for days; a suspended one is not suspended again.
  assert.equal(verdict(plan1(cluster('s', 'rayservice', { suspended: true }))), 'keep');
  assert.equal(verdict(plan1(cluster('z', 'rayjob', { suspended: true }))), 'keep');
});

test('node groups: scaled to zero only with no Ray pods and a size above zero', () => {
  const p = planReap({
    clusters: [],
    activity: [],
    nodeGroups: [
      { name: 'empty', desiredSize: 1, rayPods: 0 },
      { name: 'zero', desiredSize: 0, rayPods: 0 },
      { name: 'busy', desiredSize: 1, rayPods: 1 },
      { name: 'odd', desiredSize: 0, rayPods: 2 },
    ],
    idleMs: 30 * MIN,
    now,
  });
  assert.deepEqual(p.scaleToZero, ['empty']);
  assert.deepEqual(p.kept.map((k) => k.name), ['nodegroup/zero', 'nodegroup/busy', 'nodegroup/odd']);
  assert.deepEqual([p.suspend, p.delete], [[], []]);
});

function reaperDeps(clusters: RayClusterInfo[], groups: Record<string, { size: number; pods: number }>) {
  const calls: string[] = [];
  const published: BusEvent[][] = [];
  return {
    calls,
    published,
    deps: {
      reaper: {
        listRayClusters: async () => clusters,
        clusterActivity: async () => [],
        suspend: async (c: RayClusterInfo) => void calls.push(`suspend ${c.namespace}/${c.name}`),
        delete: async (c: RayClusterInfo) => void calls.push(`delete ${c.namespace}/${c.name}`),
        rayPodsInNodeGroup: async (g: string) => (calls.push(`pods ${g}`), groups[g]!.pods),
      },
      nodeGroups: {
        desiredSize: async (g: string) => (calls.push(`size ${g}`), groups[g]!.size),
        scaleToZero: async (g: string) => void calls.push(`scale ${g}`),
      },
      publisher: { publish: async (e: BusEvent[]) => void published.push(e) },
      managedNodeGroups: Object.keys(groups),
      idleMs: 60_000,
      now: () => new Date(now),
    },
  };
}

test('each reaper action is published with its payload, source and time, in one PutEvents', async () => {
  const r = reaperDeps([cluster('a', 'none', { namespace: 'team-a' }), cluster('b', 'rayjob')], { 'ray-spot': { size: 3, pods: 0 }, 'ray-busy': { size: 2, pods: 1 } });
  await reapIdle(r.deps);
  assert.equal(r.published.length, 1, 'one batch');
  const time = new Date(now).toISOString();
  assert.deepEqual(r.published[0], [
    { source: 'sentinel.reaper', 'detail-type': 'Ray Cluster Suspended', detail: { cluster: 'a', namespace: 'team-a' }, time },
    { source: 'sentinel.reaper', 'detail-type': 'Ray Cluster Deleted', detail: { cluster: 'b', namespace: 'ml' }, time },
    { source: 'sentinel.reaper', 'detail-type': 'Node Group Scaled To Zero', detail: { nodeGroup: 'ray-spot' }, time },
  ]);
  assert.equal(REAPER_EVENT_SOURCE, 'sentinel.reaper');
  assert.deepEqual(r.calls.filter((c) => !c.startsWith('size') && !c.startsWith('pods')), ['suspend team-a/a', 'delete ml/b', 'scale ray-spot']);
  assert.deepEqual(r.calls.filter((c) => c.startsWith('size') || c.startsWith('pods')).sort(), ['pods ray-busy', 'pods ray-spot', 'size ray-busy', 'size ray-spot']);
});

test('nothing to reap publishes nothing (an empty PutEvents is an error on AWS)', async () => {
  const r = reaperDeps([cluster('s', 'rayservice')], { 'ray-busy': { size: 2, pods: 3 } });
  const plan = await reapIdle(r.deps);
  assert.deepEqual(r.published, []);
  assert.deepEqual([plan.suspend, plan.delete, plan.scaleToZero], [[], [], []]);
  const none = reaperDeps([], {});
  await reapIdle(none.deps);
  assert.deepEqual(none.published, []);
});
