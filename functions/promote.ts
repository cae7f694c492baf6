import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { PromoteEvent } from './schemas.js';
import { promote, type PromoteDeps } from '../core/promote.js';

export const createPromoteHandler = (deps: PromoteDeps & { readyTimeoutMs?: number }) =>
  handlerFor('promote', PromoteEvent, async (event) => {
    const res = await promote(event, deps, deps.readyTimeoutMs);
    logger.info('promoted', { runId: event.run.runId, endpoint: res.endpoint, previous: res.previousRunId });
    return res;
  });
