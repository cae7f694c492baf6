// Lambda entry: run events (EventBridge rule run-events-notify) and staleness checks (one-time schedules) →
// notifications on the deployment's SNS topic and the specs' webhooks.
//   SENTINEL_NOTIFICATIONS_TOPIC_ARN  the shared notifications topic (infra/functions.ts)
// A spec's webhookUrlEnv names a variable of this function's environment.
import { SNSClient } from '@aws-sdk/client-sns';
import { createNotifyHandler } from '../notify.js';
import { SnsTopic } from '../../adapters/aws/sns.js';
import { HttpWebhook } from '../../adapters/http/webhook.js';
import { traced } from '../lib/tracing.js';
import { artifactRoot, bucketUri, env, lazy, publisher, store } from './deps.js';

export const NOTIFICATIONS_TOPIC_ENV = 'SENTINEL_NOTIFICATIONS_TOPIC_ARN';

export const handler = createNotifyHandler({
  store: store(),
  get bucketUri() {
    return bucketUri();
  },
  get artifactRoot() {
    return artifactRoot();
  },
  topic: {
    get arn() {
      return env(NOTIFICATIONS_TOPIC_ENV);
    },
    port: lazy(() => new SnsTopic(traced(new SNSClient({})))),
  },
  webhook: new HttpWebhook({ timeoutMs: 5000 }),
  publisher: publisher(),
});
