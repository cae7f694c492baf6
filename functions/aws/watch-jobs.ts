// Lambda entry: the scheduled watcher (EventBridge Scheduler, one at a time).
import { createWatchJobsHandler } from '../watch-jobs.js';
import { artifactRoot, callbacks, compute, publisher, tokens } from './deps.js';

export const handler = createWatchJobsHandler({
  compute: compute(),
  tokens: tokens(),
  callbacks: callbacks(),
  publisher: publisher(),
  now: () => new Date(),
  artifactRoot: artifactRoot(),
});
