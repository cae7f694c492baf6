// The deployment's run-notifications topic: the notify function publishes every pipeline's notifications here
// (sns:Publish on this topic alone), each message with the attributes pipeline, event and runId, so a team subscribes
// with a filter policy such as {"pipeline": ["churn"], "event": ["failed", "stale"]}.
import { sns } from '@pulumi/aws';
import type { ResourceNames } from './config.js';

export function createNotificationsTopic(names: ResourceNames) {
  return new sns.Topic('NotificationsTopic', { name: names.notificationsTopic });
}
