// The spec's notify and staleAfter fields (core/spec.ts), apart from the code that acts on them (core/notify.ts,
// core/staleness.ts), so the spec schema imports nothing that imports the ports or the event schemas back.
import { z } from 'zod';
import { RUN_EVENT_KINDS, type RunEventKind } from './run-event-names.js';

export const DURATION = /^([1-9][0-9]{0,5})(m|h|d)$/;
export const StaleAfterSchema = z.string().regex(DURATION, 'must be a duration like 30d, 12h or 90m');

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** https, or http to this machine only (a local test server); no credentials in the URL's authority. */
export function webhookUrlProblem(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (u.username || u.password) return 'must not carry credentials before the host';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && LOOPBACK.has(u.hostname)) return undefined;
  return 'must be https (http only to 127.0.0.1 or localhost)';
}

export const DEFAULT_NOTIFY_ON: RunEventKind[] = ['succeeded', 'failed', 'promoted', 'rolledBack', 'stale'];

export const NotifySchema = z
  .object({
    /** Publish to the deployment's notifications topic (SNS; attributes pipeline, event, runId for filter policies). */
    topic: z.boolean().optional(),
    /** A Slack-compatible incoming webhook. Prefer webhookUrlEnv: a spec is not a place for secrets. */
    webhookUrl: z
      .string()
      .superRefine((v, ctx) => {
        const p = webhookUrlProblem(v);
        if (p) ctx.addIssue({ code: 'custom', message: p }); // the value itself is never echoed
      })
      .optional(),
    /** The environment variable holding the webhook URL (the notify function's, or the local CLI's). */
    webhookUrlEnv: z.string().regex(ENV_NAME, 'must be an environment variable name like SLACK_WEBHOOK_URL').optional(),
    /** Which run events notify (default: succeeded, failed, promoted, rolledBack, stale). */
    on: z.array(z.enum(RUN_EVENT_KINDS as [RunEventKind, ...RunEventKind[]])).min(1).optional(),
  })
  .strict()
  .refine((n) => !(n.webhookUrl && n.webhookUrlEnv), { message: 'give webhookUrl or webhookUrlEnv, not both', path: ['webhookUrlEnv'] })
  .refine((n) => n.topic || n.webhookUrl || n.webhookUrlEnv, { message: 'needs topic: true, webhookUrl or webhookUrlEnv', path: ['topic'] });
