// The spec's promotionTimeout (core/spec.ts), apart from the code that acts on it (core/promotion-wait.ts,
// core/promote.ts), so the spec schema imports nothing that imports the ports back.
import { z } from 'zod';
import { validationFailed } from './errors.js';

/** Durations of the spec's promotionTimeout: 90s, 15m, 2h. */
export const PROMOTION_TIMEOUT_PATTERN = /^([1-9][0-9]{0,4})(s|m|h)$/;
export const DEFAULT_PROMOTION_TIMEOUT = '15m';
export const MIN_PROMOTION_TIMEOUT_SECONDS = 60;
export const MAX_PROMOTION_TIMEOUT_SECONDS = 2 * 3600;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;

const secondsOf = (d: string): number | undefined => {
  const m = PROMOTION_TIMEOUT_PATTERN.exec(d);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : undefined;
};

export const PromotionTimeoutSchema = z
  .string()
  .regex(PROMOTION_TIMEOUT_PATTERN, 'must be a duration like 90s, 15m or 2h')
  .refine((d) => {
    const s = secondsOf(d);
    return s === undefined || (s >= MIN_PROMOTION_TIMEOUT_SECONDS && s <= MAX_PROMOTION_TIMEOUT_SECONDS);
  }, "must be between 1m and 2h (a RayService upgrade that needs a new node takes minutes; the state machine checks serving at most 9 times)");

/** The spec's promotionTimeout in seconds (default 15m). */
export function promotionTimeoutSeconds(d: string | undefined, where = 'spec.promotionTimeout'): number {
  const s = secondsOf(d ?? DEFAULT_PROMOTION_TIMEOUT);
  if (s === undefined) throw validationFailed(`"${d}" is not a duration like 90s, 15m or 2h`, where);
  return s;
}

