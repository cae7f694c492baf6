// Lambda entry: the watcher (a one-time EventBridge Scheduler schedule, one at a time): armed by submit-stage, it
// re-arms itself while stages are in flight and otherwise lets the schedule go (core/arming.ts).
import { createWatchJobsHandler } from '../watch-jobs.js';
import { artifactRoot, callbacks, compute, publisher, tokens, watcherArming } from './deps.js';

export const handler = createWatchJobsHandler({
  compute: compute(),
  tokens: tokens(),
  callbacks: callbacks(),
  publisher: publisher(),
  now: () => new Date(),
  artifactRoot: artifactRoot(),
  rearm: watcherArming(),
});
