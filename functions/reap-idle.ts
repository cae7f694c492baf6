// Scheduled: suspend idle Ray clusters, delete idle ephemeral ones, scale empty node groups to zero.
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logger } from './lib/logger.js';
import { reapIdle } from '../core/reaper.js';
import type { EventPublisher, NodeGroupsPort, ReaperPort } from '../core/ports.js';

export interface ReapDeps {
  reaper: ReaperPort;
  nodeGroups: NodeGroupsPort;
  publisher: EventPublisher;
  managedNodeGroups: string[];
  idleMs: number;
  now?: () => Date;
}

export const createReapIdleHandler = (deps: ReapDeps) =>
  middy(async () => {
    const plan = await reapIdle({ ...deps, now: deps.now ?? (() => new Date()) });
    const summary = {
      suspended: plan.suspend.map((c) => c.name),
      deleted: plan.delete.map((c) => c.name),
      scaledToZero: plan.scaleToZero,
      kept: plan.kept,
    };
    logger.info('reaped idle capacity', summary);
    return summary;
  }).use(injectLambdaContext(logger, { resetKeys: true }));
