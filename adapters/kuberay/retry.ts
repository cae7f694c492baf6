// How Kubernetes API failures become Sentinel's named errors, and which ones are worth another try.
//   429 / 5xx / connection errors → exponential backoff with full jitter (honouring Retry-After), bounded,
//                                   then ComputeUnavailable (the state machine retries that with its own backoff).
//   409 Conflict on a write        → re-read and retry the read-modify-write (withConflictRetry).
//   422 Invalid / 400 BadRequest   → ValidationFailed naming the field path and the server's reason.
//   403 Forbidden                  → ValidationFailed: missing RBAC is a deployment fault that retrying cannot fix.
import { ErrorNames, SentinelError, validationFailed } from '../../core/errors.js';

export interface RetryPolicy {
  /** Tries in all (1 = no retry). */
  attempts: number;
  baseMs: number;
  maxMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseMs: 200,
  maxMs: 5_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  random: Math.random,
};

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** The API server's Status object (the body of every error response). */
export interface KubeStatus {
  kind?: string;
  reason?: string;
  message?: string;
  code?: number;
  details?: { name?: string; kind?: string; group?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
}

export interface KubeFailure {
  code: number;
  status?: KubeStatus;
  retryAfterMs?: number;
}

/**
 * The HTTP status and Status body of a failed API call, or undefined for anything else (e.g. a network error).
 * Duck-typed: KubeApiError (client.ts) and @kubernetes/client-node's ApiException (used by tests) both carry
 * a numeric `code` and the Status as `status` or `body` (object or JSON text).
 */
export function kubeFailure(e: unknown): KubeFailure | undefined {
  const err = e as { code?: unknown; status?: unknown; body?: unknown; headers?: unknown } | null;
  if (!err || typeof err !== 'object' || typeof err.code !== 'number') return undefined;
  let status: KubeStatus | undefined;
  const body: unknown = err.status ?? err.body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body) as KubeStatus;
    } catch {
      status = { message: body.slice(0, 500) };
    }
  } else if (body && typeof body === 'object') {
    status = body as KubeStatus;
  }
  const headers = (err.headers ?? {}) as Record<string, string>;
  const retryAfter = Number(headers['retry-after'] ?? status?.details?.retryAfterSeconds);
  return { code: err.code, ...(status ? { status } : {}), ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
}

export const isNotFound = (e: unknown) => kubeFailure(e)?.code === 404;
export const isAlreadyExists = (e: unknown) => {
  const f = kubeFailure(e);
  return f?.code === 409 && f.status?.reason === 'AlreadyExists';
};
/** A stale resourceVersion on update/patch (optimistic concurrency), not AlreadyExists. */
export const isConflict = (e: unknown) => {
  const f = kubeFailure(e);
  return f?.code === 409 && f.status?.reason !== 'AlreadyExists';
};

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

function isTransient(e: unknown): boolean {
  const f = kubeFailure(e);
  if (f) return f.code === 429 || f.code >= 500;
  // Connection refused/reset, timeouts, DNS hiccups (and fetch's TypeError for the same): the server may be back soon.
  const code = (e as { code?: unknown })?.code;
  return e instanceof TypeError || (typeof code === 'string' && NETWORK_ERRORS.has(code));
}

const describe = (e: unknown) => {
  const f = kubeFailure(e);
  if (f) return `HTTP ${f.code}${f.status?.reason ? ` ${f.status.reason}` : ''}${f.status?.message ? `: ${f.status.message}` : ''}`;
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return `${(e as Error)?.message ?? String(e)}${cause?.code ? ` (${cause.code})` : cause?.message ? ` (${cause.message})` : ''}`;
};

/** Full jitter: a uniform pause in [0, min(max, base·2^n)], at least what Retry-After asked for. */
export function backoffMs(policy: RetryPolicy, retry: number, retryAfterMs = 0): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** retry);
  return Math.min(policy.maxMs, Math.max(retryAfterMs, Math.round(policy.random() * cap)));
}

/** Runs one API call, retrying transient failures; other failures are rethrown untouched for the caller. */
export async function withRetry<T>(what: string, call: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (attempt >= policy.attempts) {
        throw new SentinelError(ErrorNames.ComputeUnavailable, `${what} failed ${attempt} times; last: ${describe(e)}`, 'Kubernetes API');
      }
      await policy.sleep(backoffMs(policy, attempt - 1, kubeFailure(e)?.retryAfterMs));
    }
  }
}

/**
 * A read-modify-write: `attempt` reads afresh each time. Any 409 (Conflict: written since our read; AlreadyExists:
 * created since our read) means someone else wrote first, so the whole step runs again on a fresh read.
 */
export async function withConflictRetry<T>(what: string, attempt: () => Promise<T>, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (kubeFailure(e)?.code !== 409) throw e;
      if (i >= tries) throw new SentinelError(ErrorNames.ComputeUnavailable, `${what}: still conflicting after ${tries} fresh reads`, 'Kubernetes API');
    }
  }
}

/** Turns a non-retryable API failure into the named error the user sees; SentinelErrors pass through. */
export function toSentinelError(e: unknown, what: string): Error {
  if (e instanceof SentinelError) return e;
  const f = kubeFailure(e);
  if (!f) return new SentinelError(ErrorNames.ComputeUnavailable, `${what}: ${describe(e)}`, 'Kubernetes API');
  const s = f.status;
  if (f.code === 422 || f.code === 400) {
    const reason = s?.reason ?? (f.code === 422 ? 'Invalid' : 'BadRequest');
    // Sorted by field, so the same mistake always reads the same way (the server's order varies).
    const causes = [...(s?.details?.causes ?? [])].sort((a, b) => (a.field ?? '').localeCompare(b.field ?? ''));
    const first = causes[0];
    if (!first) return validationFailed(`${what} refused by the API server (${reason}): ${s?.message ?? ''}`, what);
    // The server repeats the field inside each cause's message ("…: <field> in body should match …"): say it once.
    const why = (first.message ?? first.reason ?? '').replace(`: ${first.field} in body `, ': ');
    const others = [...new Set(causes.slice(1).map((c) => c.field).filter(Boolean))];
    const also = others.length ? ` (the same for ${others.length} more field(s): ${others.join(', ')})` : '';
    return validationFailed(`${what} refused by the API server (${reason}): ${why}${also}`, first.field ?? what);
  }
  if (f.code === 403) return validationFailed(`${what} is forbidden by RBAC: ${s?.message ?? 'Forbidden'}`, what);
  return new SentinelError(ErrorNames.ComputeUnavailable, `${what}: ${describe(e)}`, 'Kubernetes API');
}
