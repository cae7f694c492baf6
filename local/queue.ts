// A local SQS queue in front of a batch consumer: records as Lambda's SQS event source delivers them, partial batch
// failures (batchItemFailures) and thrown invocations redelivered up to maxReceiveCount, then moved to a dead-letter
// list, as a redrive policy would. The consumers parse records with Powertools' SqsEnvelope, so the records here
// carry every field a real one does.
import { createHash, randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type BatchConsumer = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

/** One SQS record as the event source mapping delivers it (every field Powertools' SqsRecordSchema requires). */
export function sqsRecord(body: string, o: { messageId?: string; receiveCount?: number; queue?: string; sentAt?: number } = {}): SQSRecord {
  const messageId = o.messageId ?? randomUUID();
  const sent = String(o.sentAt ?? Date.now());
  return {
    messageId,
    receiptHandle: `${messageId}#${o.receiveCount ?? 1}`,
    body,
    attributes: { ApproximateReceiveCount: String(o.receiveCount ?? 1), SentTimestamp: sent, SenderId: 'AROAEXAMPLE:events', ApproximateFirstReceiveTimestamp: sent },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${o.queue ?? 'sentinel-local'}`,
    awsRegion: 'us-east-1',
  };
}

/** An SQS event of one record per body. */
export const sqsEvent = (bodies: string[], o: { queue?: string; receiveCount?: number } = {}): SQSEvent => ({ Records: bodies.map((b) => sqsRecord(b, o)) });

export class LocalQueue {
  readonly deadLetters: Array<{ body: string; receives: number }> = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly consumer: BatchConsumer,
    private readonly opts: { maxReceiveCount: number; retryDelayMs: number } = { maxReceiveCount: 3, retryDelayMs: 200 },
  ) {}

  /** Enqueue; delivery is serialized like a queue with batch size 1 and concurrency 1. */
  send(body: string): Promise<void> {
    const id = randomUUID();
    this.chain = this.chain.then(() => this.deliver(id, body, 1));
    return this.chain;
  }

  private async deliver(messageId: string, body: string, receive: number, sentAt = Date.now()): Promise<void> {
    const record = sqsRecord(body, { messageId, receiveCount: receive, queue: this.name, sentAt });
    let failed: boolean;
    try {
      const res = await this.consumer({ Records: [record] });
      failed = !!res?.batchItemFailures?.some((f) => f.itemIdentifier === messageId);
    } catch {
      failed = true;
    }
    if (!failed) return;
    if (receive >= this.opts.maxReceiveCount) {
      this.deadLetters.push({ body, receives: receive });
      return;
    }
    await new Promise((r) => setTimeout(r, this.opts.retryDelayMs));
    return this.deliver(messageId, body, receive + 1, sentAt);
  }

  drained() {
    return this.chain;
  }
}
