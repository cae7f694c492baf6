// Notifications: a rule on run events (events/run-events.ts, route `run-events-notify`) invokes this with each event;
// it sends it where the pipeline's deployed spec says (`notify`: SNS topic, Slack-compatible webhook). The same
// function is the target of the one-time staleness schedules (core/staleness.ts): `{check: "staleness", …}`
// publishes `Model Stale` when the champion it was armed for still serves past `staleAfter` (and that event comes
// back here through the rule). Locally the runtime's bus routes the same events to the same handler.
import { z } from 'zod';
import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import type { EventPublisher, ObjectStore, TopicPort, WebhookPort } from '../core/ports.js';
import { bestEffort, notify, notifyConfigOf } from '../core/notify.js';
import { checkStaleness, StaleCheckInputSchema } from '../core/staleness.js';
import { parseSpec, type PipelineSpec } from '../core/spec.js';
import { pipelineSpecUri } from '../core/triggers.js';
import { RUN_EVENT_SOURCE } from '../events/run-events.js';

/** A run event as EventBridge delivers it (the detail is checked against its schema in core). */
const RunEventEnvelope = z.object({ source: z.literal(RUN_EVENT_SOURCE), 'detail-type': z.string(), detail: z.unknown() }).passthrough();
export const NotifyEvent = z.union([RunEventEnvelope, StaleCheckInputSchema]);

export interface NotifyHandlerDeps {
  store: ObjectStore;
  /** Where pipelines/<name>.yaml (the deployed specs) are. */
  bucketUri: string;
  artifactRoot: string;
  /** The deployment's notifications topic (SNS), when it has one. */
  topic?: { arn: string; port: TopicPort };
  webhook?: WebhookPort;
  /** Where the staleness check publishes `Model Stale`. */
  publisher: EventPublisher;
  env?: Record<string, string | undefined>;
  now?: () => Date;
}

/** Run events are announcements: a bus that fails is logged (which events, why), never the caller's failure. */
export const announcer = (publisher: EventPublisher | undefined) =>
  publisher &&
  bestEffort(publisher, (e, events) => logger.warn('run events not published', { error: `${e.name}: ${e.message}`, events: events.map((x) => x['detail-type']) }));

export const createNotifyHandler = (deps: NotifyHandlerDeps) =>
  handlerFor('notify', NotifyEvent, async (event) => {
    const now = deps.now ?? (() => new Date());
    const specs = new Map<string, PipelineSpec | undefined>();
    const specOf = async (pipeline: string) => {
      if (!specs.has(pipeline)) {
        const uri = pipelineSpecUri(deps.bucketUri, pipeline);
        const text = await deps.store.getText(uri);
        specs.set(pipeline, text === undefined ? undefined : parseSpec(text, uri));
      }
      return specs.get(pipeline);
    };
    if ('check' in event && event.check === 'staleness') {
      const res = await checkStaleness(event as z.infer<typeof StaleCheckInputSchema>, { store: deps.store, artifactRoot: deps.artifactRoot, staleAfterFor: async (p) => (await specOf(p))?.staleAfter, publisher: deps.publisher, now });
      logger.info('staleness checked', res);
      return res;
    }
    const res = await notify(event, {
      configFor: async (p) => notifyConfigOf(await specOf(p), `${p}: notify`),
      ...(deps.topic ? { topic: deps.topic } : {}),
      ...(deps.webhook ? { webhook: deps.webhook } : {}),
      ...(deps.env ? { env: deps.env } : {}),
    });
    // Never the webhook URL: only which channels were used.
    logger.info('notified', res);
    return res;
  });
