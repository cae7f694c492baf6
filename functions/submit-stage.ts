import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { SubmitStageEvent } from './schemas.js';
import { submitStage, type SubmitDeps } from '../core/submit-stage.js';
import { armWatcher, tryArm, type WatcherArming } from '../core/arming.js';

/** `watcher` (deployed): arm the watcher's one-time schedule for each job submitted (core/arming.ts). */
export const createSubmitStageHandler = (deps: SubmitDeps & { watcher?: WatcherArming; now?: () => Date }) =>
  handlerFor('submit-stage', SubmitStageEvent, async (event, { metrics }) => {
    const res = await submitStage(event, deps);
    // A job exists now (new, or a redelivery's): the safety net must come by. Not for a reused stage (no job).
    const watcher = deps.watcher && !res.reusedFrom ? await tryArm(() => armWatcher(deps.watcher!, (deps.now ?? (() => new Date()))())) : undefined;
    if (watcher && 'error' in watcher) logger.warn('watcher not armed', { runId: event.run.runId, stage: event.stage, error: watcher.error });
    const { run, stage } = event;
    if (res.created) metrics.add('StageAttempts', 1, { Pipeline: run.pipeline, Stage: stage }, run);
    if (res.retryOf) metrics.add('StageRetries', 1, { Pipeline: run.pipeline, Stage: stage, ErrorName: res.retryOf.error }, run);
    // The task token stays out of the log.
    logger.info('stage submitted', { runId: event.run.runId, stage: event.stage, jobId: res.jobId, attempt: res.attempt, created: res.created, ...(watcher ? { watcher } : {}) });
    return watcher ? { ...res, watcher } : res;
  });
