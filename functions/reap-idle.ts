// Scheduled: suspend idle Ray clusters, delete idle ephemeral ones, scale empty node groups to zero.
import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { ScheduledEvent } from './schemas.js';
import { reapIdle, NODEGROUP_KEPT_PREFIX } from '../core/reaper.js';
import type { EventPublisher, NodeGroupsPort, ReaperPort } from '../core/ports.js';
import type { ReaperArming } from '../core/arming.js';

export interface ReapDeps {
  reaper: ReaperPort;
  nodeGroups: NodeGroupsPort;
  publisher: EventPublisher;
  managedNodeGroups: string[];
  idleMs: number;
  now?: () => Date;
  /** Finished RayJobs older than this are deleted; absent: kept. */
  retentionMs?: number;
  /** Deployed: re-arm the reaper for the work it leaves for later. */
  rearm?: Pick<ReaperArming, 'schedules' | 'prefix'>;
}

export const createReapIdleHandler = (deps: ReapDeps) =>
  handlerFor('reap-idle', ScheduledEvent, async (_event, { metrics }) => {
    const plan = await reapIdle({ ...deps, now: deps.now ?? (() => new Date()) });
    const summary = {
      suspended: plan.suspend.map((c) => c.name),
      deleted: plan.delete.map((c) => c.name),
      scaledToZero: plan.scaleToZero,
      kept: plan.kept,
      deletedJobs: plan.deleteJobs,
      ...(plan.nextAt !== undefined ? { nextAt: new Date(plan.nextAt).toISOString() } : {}),
      ...(plan.rearmed ? { rearmed: plan.rearmed } : {}),
    };
    const keptClusters = plan.kept.filter((k) => !k.name.startsWith(NODEGROUP_KEPT_PREFIX)).length;
    metrics.add('ReaperClustersSeen', plan.suspend.length + plan.delete.length + keptClusters, {});
    metrics.add('ReaperClustersSuspended', plan.suspend.length, {});
    metrics.add('ReaperClustersDeleted', plan.delete.length, {});
    metrics.add('ReaperNodeGroupsScaledToZero', plan.scaleToZero.length, {});
    logger.info('reaped idle capacity', summary);
    return summary;
  });
