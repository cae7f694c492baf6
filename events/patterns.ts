// EventBridge event patterns, as data. The same objects become rules in infra/, routes on the local bus, and test
// fixtures; nothing else writes a pattern.
import { JOB_EVENT_DETAIL_TYPE, JOB_EVENT_SOURCE } from './job-state-change.js';

export type EventPattern = { [key: string]: EventPattern | readonly unknown[] };

/** Terminal Ray job states → the completion queue. Running jobs are heartbeated by the watcher instead. */
export const jobCompletedPattern = {
  source: [JOB_EVENT_SOURCE],
  'detail-type': [JOB_EVENT_DETAIL_TYPE],
  detail: { state: ['SUCCEEDED', 'FAILED', 'STOPPED'] },
} as const satisfies EventPattern;

export const patterns = { jobCompleted: jobCompletedPattern } as const;
