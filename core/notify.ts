// Notifications per pipeline: the spec's `notify` block says which run events (events/run-events.ts) go where: the
// deployment's SNS topic (one shared topic, `sentinel-<stage>-notifications`; every message carries the attributes
// pipeline, event and runId, so a subscription's filter policy picks its pipelines) and/or a Slack-compatible
// webhook (`{"text": …}`). One topic keeps the notify function's IAM to sns:Publish on that topic alone. The notify handler (functions/notify.ts) calls notify()
// for every run event a rule routes to it, on AWS and on the local bus alike.
//
// The webhook URL is a credential (whoever has it can post to the channel): it is never logged, never put in an
// error, and a spec may name the environment variable that holds it (`webhookUrlEnv`) instead of the URL itself.
import { z } from 'zod';
import type { BusEvent, EventPublisher, TopicPort, WebhookPort } from './ports.js';
import { validationFailed } from './errors.js';
import { parseRunEvent, type AnyRunEvent, type RunEventKind } from '../events/run-events.js';
import { DEFAULT_NOTIFY_ON, NotifySchema, webhookUrlProblem } from './spec-notify.js';

export { DEFAULT_NOTIFY_ON, NotifySchema, webhookUrlProblem };
export type NotifyConfig = z.output<typeof NotifySchema>;

/** Events are best effort where they are announcements: a bus that fails is reported, never the run's failure. */
export function bestEffort(publisher: EventPublisher, onError: (e: Error, events: BusEvent[]) => void): EventPublisher {
  return {
    async publish(events) {
      try {
        await publisher.publish(events);
      } catch (e) {
        onError(e as Error, events);
      }
    },
  };
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ''));
const metricsLine = (m: Record<string, number>) =>
  Object.entries(m)
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(' ');

/** A one-line subject and a short text, the same for SNS and the webhook. */
export function messageFor(e: AnyRunEvent): { subject: string; text: string } {
  const d = e.detail;
  const head = `${d.pipeline} ${d.runId}`;
  switch (e.kind) {
    case 'started':
      return { subject: `Sentinel: ${head} started`, text: `Run ${head} started (${e.detail.trigger}) on ${e.detail.datasetUri}` };
    case 'succeeded': {
      const m = metricsLine(e.detail.metrics);
      return {
        subject: `Sentinel: ${head} succeeded${e.detail.promoted ? ', promoted' : ''}`,
        text: `Run ${head} succeeded in ${Math.round(e.detail.durationSeconds)} s; ${e.detail.promoted ? 'promoted' : 'champion kept'}: ${e.detail.reason}${m ? `\n${m}` : ''}`,
      };
    }
    case 'failed':
      return { subject: `Sentinel: ${head} failed (${e.detail.error})`, text: `Run ${head} failed${e.detail.stage ? ` at ${e.detail.stage}` : ''}: ${e.detail.error}: ${e.detail.cause}` };
    case 'promoted': {
      const c = e.detail.champion;
      return {
        subject: `Sentinel: ${d.pipeline} promoted ${d.runId}`,
        text: `Model of run ${d.runId} now serves ${d.pipeline} at ${e.detail.endpoint} (${c.metric}=${fmt(c.value)})${e.detail.previousRunId ? `; previous champion ${e.detail.previousRunId}` : ''}`,
      };
    }
    case 'kept':
      return {
        subject: `Sentinel: ${d.pipeline} kept its champion`,
        text: `Run ${d.runId} did not replace ${e.detail.champion ? `champion ${e.detail.champion.runId}` : 'the champion'}: ${e.detail.reason}`,
      };
    case 'rolledBack':
      return { subject: `Sentinel: ${d.pipeline} rolled back to ${d.runId}`, text: `${d.pipeline} serves run ${d.runId} again (was ${e.detail.from}): ${e.detail.reason}` };
    case 'stale': {
      const days = (e.detail.ageSeconds / 86_400).toFixed(1);
      return { subject: `Sentinel: ${d.pipeline}'s champion is stale`, text: `${d.pipeline}'s champion (run ${d.runId}, promoted ${e.detail.champion.promotedAt}) is ${days} days old, past staleAfter ${e.detail.staleAfter}` };
    }
  }
}

export interface NotifyDeps {
  /** The pipeline's notify block (from its deployed spec); undefined: the pipeline notifies nobody. */
  configFor(pipeline: string): Promise<NotifyConfig | undefined>;
  /** The deployment's notifications topic and its client; absent (locally): a spec's `topic: true` is reported unsent. */
  topic?: { arn: string; port: TopicPort };
  webhook?: WebhookPort;
  env?: Record<string, string | undefined>;
}

export type NotifyResult =
  | { sent: Array<'topic' | 'webhook'>; kind: RunEventKind; pipeline: string }
  | { skipped: 'not a run event' | 'no notify config' | 'kind not notified'; kind?: RunEventKind; pipeline?: string };

/** Sends one run event where the pipeline's spec says; both channels are tried before a failure is raised. */
export async function notify(event: unknown, deps: NotifyDeps): Promise<NotifyResult> {
  const e = parseRunEvent((event ?? {}) as Record<string, unknown>);
  if (!e) return { skipped: 'not a run event' };
  const { pipeline } = e.detail;
  const cfg = await deps.configFor(pipeline);
  if (!cfg) return { skipped: 'no notify config', kind: e.kind, pipeline };
  if (!(cfg.on ?? DEFAULT_NOTIFY_ON).includes(e.kind)) return { skipped: 'kind not notified', kind: e.kind, pipeline };
  const msg = messageFor(e);
  const sent: Array<'topic' | 'webhook'> = [];
  const failures: string[] = [];
  if (cfg.topic) {
    if (!deps.topic) failures.push('topic: this deployment has no notifications topic (none locally)');
    else {
      try {
        await deps.topic.port.publish(deps.topic.arn, { ...msg, attributes: { pipeline, event: e.kind, runId: e.detail.runId } });
        sent.push('topic');
      } catch (err) {
        failures.push(`topic ${deps.topic.arn}: ${(err as Error).name}: ${(err as Error).message}`);
      }
    }
  }
  const url = cfg.webhookUrl ?? (cfg.webhookUrlEnv ? (deps.env ?? process.env)[cfg.webhookUrlEnv] : undefined);
  if (cfg.webhookUrlEnv && !url) failures.push(`webhook: environment variable ${cfg.webhookUrlEnv} is not set`);
  else if (url) {
    const bad = webhookUrlProblem(url);
    if (bad) failures.push(`webhook: the URL in ${cfg.webhookUrlEnv ?? 'notify.webhookUrl'} ${bad}`);
    else if (!deps.webhook) failures.push('webhook: no webhook client configured');
    else {
      try {
        await deps.webhook.post(url, { text: `*${msg.subject}*\n${msg.text}` });
        sent.push('webhook');
      } catch (err) {
        // Adapters never put the URL in their errors (adapters/http/webhook.ts).
        failures.push(`webhook: ${(err as Error).message}`);
      }
    }
  }
  if (failures.length) throw notificationFailed(pipeline, failures, sent);
  return { sent, kind: e.kind, pipeline };
}

/** The error name of a notification not (fully) delivered; not a state machine error (core/errors.ts). */
export const NOTIFICATION_FAILED = 'NotificationFailed';

/** What was sent and what was not (the rule retries the event, so a channel that worked may repeat). */
function notificationFailed(pipeline: string, failures: string[], sent: string[]) {
  const err = new Error(`${pipeline}: ${failures.join('; ')}${sent.length ? ` (sent: ${sent.join(', ')})` : ''}`);
  err.name = NOTIFICATION_FAILED;
  return err;
}

/** The notify block of a spec-like object, validated (a deployed spec was validated already; this is the narrow read). */
export function notifyConfigOf(spec: { notify?: unknown } | undefined, where = 'notify'): NotifyConfig | undefined {
  if (!spec?.notify) return undefined;
  const r = NotifySchema.safeParse(spec.notify);
  if (!r.success) throw validationFailed(r.error.issues.map((i) => `${i.path.join('.') || '.'}: ${i.message}`).join('; '), where);
  return r.data;
}
