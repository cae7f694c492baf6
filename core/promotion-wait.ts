// How a promotion waits for serving without blocking a Lambda (issue 10 item 4): promote applies the new serve config
// and returns; the state machine waits (a Wait/Choice loop, workflows/pipeline.ts) and asks again. This module holds
// the pure parts: the spec's promotionTimeout, the poll schedule, and what a serving status means for the wait.
import type { ServeStatus } from './ports.js';

export { DEFAULT_PROMOTION_TIMEOUT, PromotionTimeoutSchema, promotionTimeoutSeconds } from './spec-promotion.js';

/**
 * Checks of the serving status per promotion, whatever the timeout: the state machine's loop costs three transitions
 * per check (Wait, CheckPromotion, PromotionServing), so a run, slow promotion included, stays ≤ 40 transitions:
 * 11 to promote at once, 11 + 3 × MAX_PROMOTION_POLLS (38) for one that times out.
 */
export const MAX_PROMOTION_POLLS = 9;
/** The first wait after applying the config; the waits then grow geometrically to reach the timeout. */
export const FIRST_PROMOTION_WAIT_SECONDS = 3;

/**
 * The waits (whole seconds, ≥ 1) before each check: MAX_PROMOTION_POLLS of them, starting at
 * FIRST_PROMOTION_WAIT_SECONDS and growing by the one ratio that makes them add up to the timeout. 15m: 3, 6, 10,
 * 19, 35, 66, 121, 224, 416 s — frequent while a fast rollout can finish, sparse near the deadline (a rollout that
 * ends at minute 6 is seen at minute 8). A fixed count, not a fixed interval, is what keeps transitions bounded.
 */
export function promotionWaits(timeoutSeconds: number, polls = MAX_PROMOTION_POLLS, first = FIRST_PROMOTION_WAIT_SECONDS): number[] {
  const total = Math.max(polls, Math.round(timeoutSeconds));
  if (first * polls >= total) {
    // Too short to grow: equal waits.
    const times = Array.from({ length: polls }, (_, k) => Math.round(((k + 1) * total) / polls));
    return times.map((t, k) => t - (k ? times[k - 1]! : 0));
  }
  const sum = (r: number) => (first * (r ** polls - 1)) / (r - 1);
  let lo = 1 + 1e-9;
  let hi = 16;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (sum(mid) < total) lo = mid;
    else hi = mid;
  }
  const r = hi;
  // Cumulative check times, rounded, the last one exactly at the timeout; each wait at least 1 s.
  const times: number[] = [];
  for (let k = 1; k <= polls; k++) {
    const t = k === polls ? total : Math.round((first * (r ** k - 1)) / (r - 1));
    times.push(Math.max(t, (times[k - 2] ?? 0) + 1));
  }
  return times.map((t, k) => t - (k ? times[k - 1]! : 0));
}

/** What a serving status means for a promotion waiting for `runId`'s config. */
export type PromotionStatus =
  | { kind: 'serving'; detail: string }
  | { kind: 'pending'; detail: string }
  | { kind: 'failed'; detail: string };

/**
 * serving: the application is RUNNING with `runId`'s config. failed: the config was rejected or failed to deploy
 * (DEPLOY_FAILED, on the active or the pending cluster). pending: anything else, including KubeRay v1.7's upgrade
 * shape — the old run still RUNNING on the active cluster while the new one comes up on a pending one — and a status
 * read that failed (the next check reads again).
 */
export function promotionStatus(s: ServeStatus, runId: string): PromotionStatus {
  const msg = s.message ? `: ${s.message}` : '';
  if (s.state === 'DEPLOY_FAILED' || s.pending?.state === 'DEPLOY_FAILED') {
    const p = s.pending?.state === 'DEPLOY_FAILED' && s.state !== 'DEPLOY_FAILED' ? ` (pending${s.pending.message ? `: ${s.pending.message}` : ''})` : '';
    return { kind: 'failed', detail: `DEPLOY_FAILED${msg}${p}` };
  }
  if (s.state === 'RUNNING' && s.runId === runId) return { kind: 'serving', detail: `RUNNING run ${runId}` };
  if (s.state === 'RUNNING' && s.runId && s.runId !== runId) {
    const next = s.pending ? `; run ${s.pending.runId ?? runId} ${s.pending.state} on the pending cluster` : '';
    return { kind: 'pending', detail: `RUNNING (still serving ${s.runId})${next}${msg}` };
  }
  return { kind: 'pending', detail: `${s.state}${s.runId && s.runId !== runId ? ` (still serving ${s.runId})` : ''}${msg}` };
}
