// The callback pattern on one machine. Step Functions mints a task token per task attempt and parks the state until
// SendTaskSuccess/Failure arrives, failing it on HeartbeatSeconds/TimeoutSeconds. aws-local-stepfunctions does none
// of that, so this broker does: it mints tokens (through the context object's $$.Task.Token), parks the waiting
// state, and answers callbacks with Step Functions' semantics ('gone' for a completed, timed-out or unknown token).
import { randomBytes } from 'node:crypto';
import type { CallbackResult, TaskCallbacks } from '../core/ports.js';

interface Waiter {
  resolve: (output: unknown) => void;
  reject: (e: Error) => void;
  heartbeatMs?: number;
  heartbeatTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
}

/** An error whose name is what Retry/Catch match, like the error of SendTaskFailure. */
export function namedError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

export class LocalTaskBroker implements TaskCallbacks {
  private readonly minted = new Set<string>();
  private readonly waiting = new Map<string, Waiter>();
  /** Callbacks received, for benchmarks and tests. */
  readonly counts = { success: 0, failure: 0, heartbeat: 0, gone: 0 };

  /** A fresh token. Called by the context object's Task.Token getter, so each task attempt gets its own. */
  mint(): string {
    const token = `local-${randomBytes(24).toString('base64url')}`;
    this.minted.add(token);
    return token;
  }

  /** Parks a task on its token. Timers follow the state's HeartbeatSeconds and TimeoutSeconds. */
  wait(token: string, opts: { heartbeatSeconds?: number; timeoutSeconds?: number }): Promise<unknown> {
    if (!this.minted.has(token)) return Promise.reject(namedError('States.Runtime', 'task token was not minted by this runtime'));
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      if (opts.heartbeatSeconds) {
        w.heartbeatMs = opts.heartbeatSeconds * 1000;
        w.heartbeatTimer = setTimeout(() => this.settle(token, namedError('States.HeartbeatTimeout', 'no heartbeat from the job watcher in time')), w.heartbeatMs);
      }
      if (opts.timeoutSeconds) {
        w.timeoutTimer = setTimeout(() => this.settle(token, namedError('States.Timeout', 'task timed out')), opts.timeoutSeconds * 1000);
      }
      this.waiting.set(token, w);
    });
  }

  private settle(token: string, outcome: Error | { output: unknown }): boolean {
    const w = this.waiting.get(token);
    if (!w) return false;
    this.waiting.delete(token);
    this.minted.delete(token);
    clearTimeout(w.heartbeatTimer);
    clearTimeout(w.timeoutTimer);
    if (outcome instanceof Error) w.reject(outcome);
    else w.resolve(outcome.output);
    return true;
  }

  /** Drops a waiter whose task failed before it could be called back (e.g. the submit handler threw). */
  forget(token: string) {
    const w = this.waiting.get(token);
    if (!w) return;
    this.waiting.delete(token);
    clearTimeout(w.heartbeatTimer);
    clearTimeout(w.timeoutTimer);
  }

  private result(ok: boolean): CallbackResult {
    if (!ok) this.counts.gone++;
    return ok ? 'ok' : 'gone';
  }

  async success(token: string, output: unknown) {
    this.counts.success++;
    // Step Functions hands the output over as JSON; a round trip keeps local runs honest about that.
    return this.result(this.settle(token, { output: JSON.parse(JSON.stringify(output ?? null)) }));
  }

  async failure(token: string, error: string, cause: string) {
    this.counts.failure++;
    return this.result(this.settle(token, namedError(error, cause)));
  }

  async heartbeat(token: string) {
    this.counts.heartbeat++;
    const w = this.waiting.get(token);
    if (!w) return this.result(false);
    if (w.heartbeatMs) {
      clearTimeout(w.heartbeatTimer);
      w.heartbeatTimer = setTimeout(() => this.settle(token, namedError('States.HeartbeatTimeout', 'no heartbeat from the job watcher in time')), w.heartbeatMs);
    }
    return 'ok' as const;
  }

  get pending() {
    return this.waiting.size;
  }

  /** Fails every parked task (used when the execution is aborted). */
  abortAll(reason: string) {
    for (const token of [...this.waiting.keys()]) this.settle(token, namedError('States.Aborted', reason));
  }
}
