import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { SubmitStageEvent } from './schemas.js';
import { submitStage, type SubmitDeps } from '../core/submit-stage.js';

export const createSubmitStageHandler = (deps: SubmitDeps) =>
  handlerFor('submit-stage', SubmitStageEvent, async (event, { metrics }) => {
    const res = await submitStage(event, deps);
    const { run, stage } = event;
    if (res.created) metrics.add('StageAttempts', 1, { Pipeline: run.pipeline, Stage: stage }, run);
    if (res.retryOf) metrics.add('StageRetries', 1, { Pipeline: run.pipeline, Stage: stage, ErrorName: res.retryOf.error }, run);
    // The task token stays out of the log.
    logger.info('stage submitted', { runId: event.run.runId, stage: event.stage, jobId: res.jobId, attempt: res.attempt, created: res.created });
    return res;
  });
