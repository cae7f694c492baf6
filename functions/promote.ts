import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { PromoteEvent } from './schemas.js';
import { beginPromotion, checkPromotion, type PromoteDeps, type PromotionProgress } from '../core/promote.js';
import { MAX_PROMOTION_POLLS, promotionTimeoutSeconds } from '../core/promotion-wait.js';
import { announcer } from './notify.js';

/**
 * The Promote and CheckPromotion states (one function: the same grants, the same Kubernetes verbs). Without
 * `progress`: apply the run's serve config and look once; with it: one more check. Either returns at once —
 * `{ done: true, ...Promotion }`, or `{ done: false, waitSeconds, progress }` for the state machine's Wait.
 * readyTimeoutMs overrides the spec's promotionTimeout (tests).
 */
export const createPromoteHandler = (deps: PromoteDeps & { readyTimeoutMs?: number }) =>
  handlerFor('promote', PromoteEvent, async (event, { metrics }) => {
    const publisher = announcer(deps.publisher);
    const d = { ...deps, ...(publisher ? { publisher } : {}) };
    const req = { run: event.run, modelUri: event.modelUri, value: event.value };
    const step = event.progress
      ? await checkPromotion(req, event.progress as PromotionProgress, d)
      : await beginPromotion(req, d, { timeoutMs: deps.readyTimeoutMs ?? promotionTimeoutSeconds(event.run.spec.promotionTimeout) * 1000, maxPolls: MAX_PROMOTION_POLLS });
    if (!step.done) {
      logger.info('promotion pending', { runId: event.run.runId, check: step.progress.polls, waitSeconds: step.waitSeconds, last: step.progress.last });
      return { done: false as const, waitSeconds: step.waitSeconds, progress: step.progress };
    }
    const res = step.promotion;
    if (res.staleCheck && 'error' in res.staleCheck) logger.warn('staleness check not armed', { pipeline: event.run.pipeline, error: res.staleCheck.error });
    metrics.add('Promotions', 1, { Pipeline: event.run.pipeline }, event.run);
    logger.info(res.kept ? 'champion kept' : 'promoted', { runId: event.run.runId, endpoint: res.endpoint, previous: res.previousRunId });
    return { done: true as const, ...res };
  });
