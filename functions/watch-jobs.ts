// Scheduled: report terminal jobs and heartbeat running ones (see core/watch-jobs.ts).
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logger } from './lib/logger.js';
import { watchJobs, type WatchDeps } from '../core/watch-jobs.js';

export const createWatchJobsHandler = (deps: WatchDeps) =>
  middy(async () => {
    const res = await watchJobs(deps);
    if (res.published || res.heartbeats) logger.info('watched jobs', res);
    return res;
  }).use(injectLambdaContext(logger, { resetKeys: true }));
