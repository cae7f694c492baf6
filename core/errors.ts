// Named errors. The `name` is what Step Functions matches in Retry/Catch (`ErrorEquals`), so these strings are part
// of the state machine's contract: the ASL in workflows/ imports them from here rather than repeating them.

export const ErrorNames = {
  /** Input (event, spec, dataset, run input) is wrong. Never retried: retrying cannot fix it. */
  ValidationFailed: 'ValidationFailed',
  /** The Ray job ran and failed (non-zero exit, exception). Not retried: the cause is in the job or its data. */
  RayJobFailed: 'RayJobFailed',
  /** The Ray job was stopped (cancelled, deadline). Not retried. */
  RayJobStopped: 'RayJobStopped',
  /** The job's node was reclaimed (spot interruption). Retried: train and tune resume from their checkpoint. */
  SpotInterrupted: 'SpotInterrupted',
  /** The compute backend was briefly unavailable (connection refused, 429, 5xx). Retried with backoff. */
  ComputeUnavailable: 'ComputeUnavailable',
  /** Serving did not become healthy in time, or rejected the config. */
  PromotionFailed: 'PromotionFailed',
} as const;

export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

/** Errors the state machine retries with backoff (the rest are caught and recorded). */
export const RETRYABLE_ERRORS: readonly ErrorName[] = [ErrorNames.ComputeUnavailable, ErrorNames.SpotInterrupted];

export class SentinelError extends Error {
  constructor(
    name: ErrorName,
    message: string,
    /** Where the problem is: a field path, a URI, a job id. Shown to the user. */
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
    this.name = name;
  }
}

export const validationFailed = (message: string, where?: string) =>
  new SentinelError(ErrorNames.ValidationFailed, message, where);

export const isSentinelError = (e: unknown, name?: ErrorName): e is SentinelError =>
  e instanceof SentinelError && (name === undefined || e.name === name);
