// Scheduled: report terminal jobs and heartbeat running ones (see core/watch-jobs.ts).
import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { ScheduledEvent } from './schemas.js';
import { watchJobs, type WatchDeps } from '../core/watch-jobs.js';

export const createWatchJobsHandler = (deps: WatchDeps) =>
  handlerFor('watch-jobs', ScheduledEvent, async (_event, { metrics }) => {
    const res = await watchJobs(deps);
    metrics.add('WatcherJobsSeen', res.listed, {});
    metrics.add('WatcherCompletionsPublished', res.published, {});
    metrics.add('WatcherHeartbeats', res.heartbeats, {});
    if (res.published || res.heartbeats || res.stopped.length || res.settled || res.rearmed) logger.info('watched jobs', { ...res });
    return res;
  });
