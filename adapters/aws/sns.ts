// TopicPort over SNS Publish: one message per run event, with message attributes (pipeline, event, runId) that a
// subscription's filter policy can select on, so one shared topic can serve several teams.
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { TopicPort } from '../../core/ports.js';

/** SNS limits: a subject is ≤ 100 printable ASCII characters without line breaks; a message ≤ 256 KB. */
const subjectOf = (s: string) => s.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100);

export class SnsTopic implements TopicPort {
  constructor(private readonly sns: SNSClient) {}

  async publish(topicArn: string, m: { subject: string; text: string; attributes: Record<string, string> }): Promise<void> {
    await this.sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: subjectOf(m.subject),
        Message: m.text.slice(0, 200_000),
        MessageAttributes: Object.fromEntries(Object.entries(m.attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
      }),
    );
  }
}
