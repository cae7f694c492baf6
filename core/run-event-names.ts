// The wire names of run events (source and detail-types), with no imports: the spec's notify block (core/spec-notify.ts)
// and the event schemas (events/run-events.ts) both read them, and neither imports the other.
export const RUN_EVENT_SOURCE = 'sentinel.runs';

export const RUN_EVENT_TYPES = {
  started: 'Run Started',
  succeeded: 'Run Succeeded',
  failed: 'Run Failed',
  promoted: 'Model Promoted',
  kept: 'Champion Kept',
  rolledBack: 'Model Rolled Back',
  stale: 'Model Stale',
} as const;
export type RunEventKind = keyof typeof RUN_EVENT_TYPES;
export type RunEventType = (typeof RUN_EVENT_TYPES)[RunEventKind];
export const RUN_EVENT_KINDS = Object.keys(RUN_EVENT_TYPES) as RunEventKind[];
