// Queues between EventBridge and the consumers: job completions (→ complete-stage) and EC2 interruptions
// (→ handle-interruption), each with a dead-letter queue after 3 receives; and one queue for events that rules and
// schedules could not deliver at all. Only the project's EventBridge rules may send (queue policies name them).
//
// Encryption: SSE-SQS (SQS-managed keys). EventBridge cannot send to a queue encrypted with the AWS-managed
// aws/sqs KMS key, and a customer key would need a key policy for EventBridge; SSE-SQS encrypts at rest without one.
import * as pulumi from '@pulumi/pulumi';
import { sqs } from '@pulumi/aws';
import type { Route } from '../events/routes.js';
import type { ResourceNames, SentinelConfig } from './config.js';
import { queuePolicyDocument, type DeploymentArns } from './iam.js';
import { visibilityTimeoutFor } from './functions.js';

export const MAX_RECEIVE_COUNT = 3;
const DAY = 24 * 3600;

export interface QueueWithDlq {
  queue: sqs.Queue;
  dlq: sqs.Queue;
  policy: sqs.QueuePolicy;
}

function queueWithDlq(
  id: string,
  name: string,
  names: ResourceNames,
  arns: pulumi.Output<DeploymentArns>,
  arnOf: (a: DeploymentArns) => string,
  visibilityTimeoutSeconds: number,
  senders: Route[],
): QueueWithDlq {
  const dlq = new sqs.Queue(`${id}Dlq`, {
    name: names.dlq(name),
    messageRetentionSeconds: 14 * DAY,
    sqsManagedSseEnabled: true,
    // Only its own source queue may dead-letter into it (ARN from names: no dependency cycle).
    redriveAllowPolicy: arns.apply((a) => JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: [arnOf(a)] })),
  });
  const queue = new sqs.Queue(id, {
    name,
    visibilityTimeoutSeconds,
    messageRetentionSeconds: 4 * DAY,
    receiveWaitTimeSeconds: 20,
    sqsManagedSseEnabled: true,
    redrivePolicy: dlq.arn.apply((deadLetterTargetArn) => JSON.stringify({ deadLetterTargetArn, maxReceiveCount: MAX_RECEIVE_COUNT })),
  });
  const policy = new sqs.QueuePolicy(`${id}Policy`, {
    queueUrl: queue.id,
    policy: arns.apply((a) => JSON.stringify(queuePolicyDocument(arnOf(a), senders.map((r) => a.rule(r.name))))),
  });
  return { queue, dlq, policy };
}

export function createQueues(cfg: SentinelConfig, names: ResourceNames, arns: pulumi.Output<DeploymentArns>, routes: Route[]) {
  const to = (target: Route['target']) => routes.filter((r) => r.target === target);
  const completion = queueWithDlq('JobCompletions', names.completionQueue, names, arns, (a) => a.completionQueue, visibilityTimeoutFor('complete-stage'), to('completion-queue'));
  const interruption = queueWithDlq('Interruptions', names.interruptionQueue, names, arns, (a) => a.interruptionQueue, visibilityTimeoutFor('handle-interruption'), to('interruption-queue'));
  // Itself a dead-letter queue (for every rule target; schedules send with their role), so it has none of its own.
  const undelivered = new sqs.Queue('UndeliveredEvents', { name: names.undeliveredQueue, messageRetentionSeconds: 14 * DAY, sqsManagedSseEnabled: true });
  const undeliveredPolicy = new sqs.QueuePolicy('UndeliveredEventsPolicy', {
    queueUrl: undelivered.id,
    policy: arns.apply((a) => JSON.stringify(queuePolicyDocument(a.undeliveredQueue, routes.map((r) => a.rule(r.name))))),
  });
  return { completion, interruption, undelivered, undeliveredPolicy };
}
export type Queues = ReturnType<typeof createQueues>;
