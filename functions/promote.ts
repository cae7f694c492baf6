import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { PromoteEvent } from './schemas.js';
import { promote, type PromoteDeps } from '../core/promote.js';

export const createPromoteHandler = (deps: PromoteDeps & { readyTimeoutMs?: number }) =>
  handlerFor('promote', PromoteEvent, async (event, { metrics }) => {
    const res = await promote(event, deps, deps.readyTimeoutMs);
    metrics.add('Promotions', 1, { Pipeline: event.run.pipeline }, event.run);
    logger.info('promoted', { runId: event.run.runId, endpoint: res.endpoint, previous: res.previousRunId });
    return res;
  });
