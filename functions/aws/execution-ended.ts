// Lambda entry: Step Functions Execution Status Change (ABORTED, TIMED_OUT, FAILED) of the pipeline's state machine
// (EventBridge rule execution-ended) → the run's RayJobs deleted, its end recorded in run.json.
import { createExecutionEndedHandler } from '../execution-ended.js';
import { artifactRoot, compute, publisher, reaperArming, store, tokens } from './deps.js';

export const handler = createExecutionEndedHandler({
  compute: compute(),
  tokens: tokens(),
  store: store(),
  get artifactRoot() {
    return artifactRoot();
  },
  publisher: publisher(),
  now: () => new Date(),
  // The run's clusters are reaped once idle: the reaper is armed for the end + the idle time.
  reaper: reaperArming(),
});
