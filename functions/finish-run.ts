import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { FinishRunEvent } from './schemas.js';
import { finishRun, type FinishDeps } from '../core/finish-run.js';
import { announcer } from './notify.js';

export const createFinishRunHandler = (deps: FinishDeps) =>
  handlerFor('finish-run', FinishRunEvent, async (event, { metrics }) => {
    const publisher = announcer(deps.publisher);
    const res = await finishRun(event, { ...deps, ...(publisher ? { publisher } : {}) });
    const dims = { Pipeline: event.run.pipeline };
    // Run requested → recorded, whatever the outcome.
    metrics.add('RunDuration', (deps.now().getTime() - Date.parse(event.run.requestedAt)) / 1000, dims, event.run);
    metrics.add(res.status === 'SUCCEEDED' ? 'RunsSucceeded' : 'RunsFailed', 1, dims, event.run);
    logger.info('run finished', { runId: event.run.runId, status: res.status, stoppedJobs: res.stoppedJobs });
    return res;
  });
