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
  /** Serving did not run the new config within the spec's promotionTimeout; the champion was not switched. */
  PromotionTimedOut: 'PromotionTimedOut',
  /** The pipeline's run slots (spec maxConcurrentRuns) are taken: the run waits in the queue (core/run-slots.ts). Retried. */
  RunQueued: 'RunQueued',
} as const;

export type ErrorName = (typeof ErrorNames)[keyof typeof ErrorNames];

/** Errors the state machine retries with backoff (the rest are caught and recorded). */
export const RETRYABLE_ERRORS: readonly ErrorName[] = [ErrorNames.ComputeUnavailable, ErrorNames.SpotInterrupted];

/** At most this many characters of one input (a name, a key, a value, a line of a file) are echoed in an error. */
export const MAX_ECHO = 200;
/** The backstop for a whole error message: what the sites that echo input have not capped is cut here. */
export const MAX_ERROR_MESSAGE = 4000;

/**
 * `text` as an error message may echo it: whole when it is at most `max` characters, else its first `max`, an
 * elision mark and its whole length (`AAAA… (6000000 characters)`). Never splits a surrogate pair.
 */
export function capEcho(text: string, max = MAX_ECHO): string {
  if (text.length <= max) return text;
  const end = max > 0 && /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}… (${text.length} characters)`;
}

/** A value echoed in quotes, capped: `"price.csv"`, or `"AAAA… (6000000 characters)"`. */
export const quoted = (value: unknown, max = MAX_ECHO) => `"${capEcho(String(value), max)}"`;

export class SentinelError extends Error {
  /** Where the problem is: a field path, a URI, a job id. Shown to the user, capped at MAX_ECHO characters. */
  readonly where?: string;
  constructor(name: ErrorName, message: string, where?: string) {
    const at = where === undefined ? undefined : capEcho(where);
    super(capEcho(at ? `${at}: ${message}` : message, MAX_ERROR_MESSAGE));
    if (at !== undefined) this.where = at;
    this.name = name;
  }
}

export const validationFailed = (message: string, where?: string) =>
  new SentinelError(ErrorNames.ValidationFailed, message, where);

export const isSentinelError = (e: unknown, name?: ErrorName): e is SentinelError =>
  e instanceof SentinelError && (name === undefined || e.name === name);
