import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { FinishRunEvent } from './schemas.js';
import { finishRun, type FinishDeps } from '../core/finish-run.js';

export const createFinishRunHandler = (deps: FinishDeps) =>
  handlerFor('finish-run', FinishRunEvent, async (event) => {
    const res = await finishRun(event, deps);
    logger.info('run finished', { runId: event.run.runId, status: res.status, stoppedJobs: res.stoppedJobs });
    return res;
  });
