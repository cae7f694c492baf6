// Scale-to-zero: an idle Ray cluster costs money for nothing. The plan is pure (inputs → actions with reasons);
// reapIdle executes it through ports and publishes each action as an event. Never touches a serving cluster.
import type { BusEvent, ClusterActivity, EventPublisher, NodeGroupsPort, RayClusterInfo, ReaperPort } from './ports.js';
import { isTerminal } from './job-status.js';

export interface ReapPlan {
  suspend: RayClusterInfo[];
  delete: RayClusterInfo[];
  scaleToZero: string[];
  kept: Array<{ name: string; reason: string }>;
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
/** How kept node groups are named in a plan's `kept` (clusters go by their own name). */
export const NODEGROUP_KEPT_PREFIX = 'nodegroup/';

export function planReap(input: {
  clusters: RayClusterInfo[];
  activity: ClusterActivity[];
  nodeGroups: Array<{ name: string; desiredSize: number; rayPods: number }>;
  idleMs: number;
  now: number;
}): ReapPlan {
  const plan: ReapPlan = { suspend: [], delete: [], scaleToZero: [], kept: [] };
  for (const c of input.clusters) {
    const keep = (reason: string) => plan.kept.push({ name: c.name, reason });
    if (c.owner === 'rayservice') keep('serves a model');
    else if (c.kueueManaged) keep('managed by Kueue (its admission owns spec.suspend)');
    else if (c.suspended) keep('already suspended');
    else {
      const jobs = input.activity.filter((a) => a.cluster === c.name);
      const active = jobs.filter((j) => !isTerminal(j.state)).length;
      const lastEnd = Math.max(c.createdAt, ...jobs.map((j) => j.endTime ?? 0));
      const idle = input.now - lastEnd;
      if (active) keep(`${active} active job(s)`);
      else if (idle < input.idleMs) keep(`idle ${minutes(idle)} < ${minutes(input.idleMs)}`);
      // A job's leftover cluster, or a run's whose end did not delete it (idle since its last job): delete.
      else if (c.owner === 'rayjob' || c.owner === 'run') plan.delete.push(c);
      else plan.suspend.push(c);
    }
  }
  for (const g of input.nodeGroups) {
    if (g.desiredSize > 0 && g.rayPods === 0) plan.scaleToZero.push(g.name);
    else plan.kept.push({ name: `${NODEGROUP_KEPT_PREFIX}${g.name}`, reason: g.desiredSize === 0 ? 'already at 0' : `${g.rayPods} Ray pod(s)` });
  }
  return plan;
}

export const REAPER_EVENT_SOURCE = 'sentinel.reaper';
/** The reaper's detail-types (IAM lets reap-idle publish these and no others). */
export const REAPER_DETAIL_TYPES = ['Ray Cluster Suspended', 'Ray Cluster Deleted', 'Node Group Scaled To Zero'] as const;

export async function reapIdle(deps: {
  reaper: ReaperPort;
  nodeGroups: NodeGroupsPort;
  publisher: EventPublisher;
  managedNodeGroups: string[];
  idleMs: number;
  now: () => Date;
}): Promise<ReapPlan> {
  const [clusters, activity] = await Promise.all([deps.reaper.listRayClusters(), deps.reaper.clusterActivity()]);
  const nodeGroups = await Promise.all(
    deps.managedNodeGroups.map(async (name) => ({ name, desiredSize: await deps.nodeGroups.desiredSize(name), rayPods: await deps.reaper.rayPodsInNodeGroup(name) })),
  );
  const now = deps.now();
  const plan = planReap({ clusters, activity, nodeGroups, idleMs: deps.idleMs, now: now.getTime() });
  const events: BusEvent[] = [];
  const emit = (detailType: (typeof REAPER_DETAIL_TYPES)[number], detail: Record<string, unknown>) => events.push({ source: REAPER_EVENT_SOURCE, 'detail-type': detailType, detail, time: now.toISOString() });
  for (const c of plan.suspend) {
    await deps.reaper.suspend(c);
    emit('Ray Cluster Suspended', { cluster: c.name, namespace: c.namespace });
  }
  for (const c of plan.delete) {
    await deps.reaper.delete(c);
    emit('Ray Cluster Deleted', { cluster: c.name, namespace: c.namespace });
  }
  for (const g of plan.scaleToZero) {
    await deps.nodeGroups.scaleToZero(g);
    emit('Node Group Scaled To Zero', { nodeGroup: g });
  }
  if (events.length) await deps.publisher.publish(events);
  return plan;
}
