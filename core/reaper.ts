// Scale-to-zero: an idle Ray cluster costs money for nothing. The plan is pure (inputs → actions with reasons);
// reapIdle executes it through ports and publishes each action as an event. Never touches a serving cluster.
import type { BusEvent, ClusterActivity, EventPublisher, NodeGroupsPort, RayClusterInfo, ReaperPort } from './ports.js';
import { isTerminal } from './job-status.js';
import { armReaper, tryArm, type Armed, type ReaperArming } from './arming.js';

export interface ReapPlan {
  suspend: RayClusterInfo[];
  delete: RayClusterInfo[];
  scaleToZero: string[];
  kept: Array<{ name: string; reason: string }>;
  /** Finished, settled jobs that ended more than the retention ago (the job objects, not their results). */
  deleteJobs: string[];
  /**
   * When the reaper has work left for later (a cluster not idle long enough yet, a finished job still within its
   * retention, node groups draining the pods this plan deletes); undefined: nothing left, it is not re-armed.
   */
  nextAt?: number;
}

/** After deleting or suspending clusters, look again this soon: their pods are going and the node groups can follow. */
export const DRAIN_RECHECK_MS = 3 * 60_000;

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
/** How kept node groups are named in a plan's `kept` (clusters go by their own name). */
export const NODEGROUP_KEPT_PREFIX = 'nodegroup/';

export function planReap(input: {
  clusters: RayClusterInfo[];
  activity: ClusterActivity[];
  nodeGroups: Array<{ name: string; desiredSize: number; rayPods: number }>;
  idleMs: number;
  now: number;
  /** Finished jobs are deleted this long after their end; absent: jobs are not deleted. */
  retentionMs?: number;
}): ReapPlan {
  const plan: ReapPlan = { suspend: [], delete: [], scaleToZero: [], kept: [], deleteJobs: [] };
  const later: number[] = [];
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
      else if (idle < input.idleMs) {
        keep(`idle ${minutes(idle)} < ${minutes(input.idleMs)}`);
        later.push(lastEnd + input.idleMs);
      }
      // A job's leftover cluster, or a run's whose end did not delete it (idle since its last job): delete.
      else if (c.owner === 'rayjob' || c.owner === 'run') plan.delete.push(c);
      else plan.suspend.push(c);
    }
  }
  for (const g of input.nodeGroups) {
    if (g.desiredSize > 0 && g.rayPods === 0) plan.scaleToZero.push(g.name);
    else plan.kept.push({ name: `${NODEGROUP_KEPT_PREFIX}${g.name}`, reason: g.desiredSize === 0 ? 'already at 0' : `${g.rayPods} Ray pod(s)` });
  }
  // Pods of the clusters going now may be all that keeps a node group up: come back once they are gone.
  if ((plan.suspend.length || plan.delete.length) && input.nodeGroups.some((g) => g.desiredSize > 0 && g.rayPods > 0)) later.push(input.now + DRAIN_RECHECK_MS);
  if (input.retentionMs !== undefined) {
    const seen = new Set<string>();
    for (const j of input.activity) {
      if (!j.jobId || seen.has(j.jobId)) continue;
      seen.add(j.jobId);
      // Only what the watcher has settled (nobody waits on it) and whose end is known.
      if (!isTerminal(j.state) || j.inFlight || j.endTime === undefined) continue;
      if (input.now - j.endTime >= input.retentionMs) plan.deleteJobs.push(j.jobId);
      else later.push(j.endTime + input.retentionMs);
    }
  }
  if (later.length) plan.nextAt = Math.min(...later);
  return plan;
}

export const REAPER_EVENT_SOURCE = 'sentinel.reaper';
/** The reaper's detail-types (IAM lets reap-idle publish these and no others). */
export const REAPER_DETAIL_TYPES = ['Ray Cluster Suspended', 'Ray Cluster Deleted', 'Node Group Scaled To Zero', 'Ray Jobs Deleted'] as const;

export async function reapIdle(deps: {
  reaper: ReaperPort;
  nodeGroups: NodeGroupsPort;
  publisher: EventPublisher;
  managedNodeGroups: string[];
  idleMs: number;
  now: () => Date;
  /** Finished RayJobs older than this are deleted (infra/config.ts jobRetention); absent: kept. */
  retentionMs?: number;
  /** Deployed: re-arm the reaper's one-time schedule for the work it leaves for later (core/arming.ts). */
  rearm?: Pick<ReaperArming, 'schedules' | 'prefix'>;
}): Promise<ReapPlan & { rearmed?: Armed }> {
  const [clusters, activity] = await Promise.all([deps.reaper.listRayClusters(), deps.reaper.clusterActivity()]);
  const nodeGroups = await Promise.all(
    deps.managedNodeGroups.map(async (name) => ({ name, desiredSize: await deps.nodeGroups.desiredSize(name), rayPods: await deps.reaper.rayPodsInNodeGroup(name) })),
  );
  const now = deps.now();
  const plan = planReap({ clusters, activity, nodeGroups, idleMs: deps.idleMs, now: now.getTime(), ...(deps.retentionMs !== undefined && deps.reaper.deleteJob ? { retentionMs: deps.retentionMs } : {}) });
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
  if (plan.deleteJobs.length) {
    for (const j of plan.deleteJobs) await deps.reaper.deleteJob!(j);
    emit('Ray Jobs Deleted', { jobs: plan.deleteJobs.length, retentionSeconds: Math.round(deps.retentionMs! / 1000) });
  }
  if (events.length) await deps.publisher.publish(events);
  const next = plan.nextAt;
  if (deps.rearm && next !== undefined) return { ...plan, rearmed: await tryArm(() => armReaper(deps.rearm!, new Date(next), now)) };
  return plan;
}
