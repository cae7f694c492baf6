import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { PromoteEvent } from './schemas.js';
import { promote, type PromoteDeps } from '../core/promote.js';
import { announcer } from './notify.js';

export const createPromoteHandler = (deps: PromoteDeps & { readyTimeoutMs?: number }) =>
  handlerFor('promote', PromoteEvent, async (event, { metrics }) => {
    const publisher = announcer(deps.publisher);
    const res = await promote(event, { ...deps, ...(publisher ? { publisher } : {}) }, deps.readyTimeoutMs);
    if (res.staleCheck && 'error' in res.staleCheck) logger.warn('staleness check not armed', { pipeline: event.run.pipeline, error: res.staleCheck.error });
    metrics.add('Promotions', 1, { Pipeline: event.run.pipeline }, event.run);
    logger.info('promoted', { runId: event.run.runId, endpoint: res.endpoint, previous: res.previousRunId });
    return res;
  });
