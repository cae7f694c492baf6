import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { SubmitStageEvent } from './schemas.js';
import { submitStage, type SubmitDeps } from '../core/submit-stage.js';

export const createSubmitStageHandler = (deps: SubmitDeps) =>
  handlerFor('submit-stage', SubmitStageEvent, async (event) => {
    const res = await submitStage(event, deps);
    // The task token stays out of the log.
    logger.info('stage submitted', { runId: event.run.runId, stage: event.stage, jobId: res.jobId, attempt: res.attempt, created: res.created });
    return res;
  });
