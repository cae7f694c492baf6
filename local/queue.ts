// A local SQS queue in front of a batch consumer: SQS-shaped records, partial batch failures redelivered up to
// maxReceiveCount, then moved to a dead-letter list, as a redrive policy would.
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type BatchConsumer = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

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

  private async deliver(messageId: string, body: string, receive: number): Promise<void> {
    const record = {
      messageId,
      receiptHandle: messageId,
      body,
      attributes: { ApproximateReceiveCount: String(receive) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:local:000000000000:${this.name}`,
      awsRegion: 'local',
    } as unknown as SQSRecord;
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
    return this.deliver(messageId, body, receive + 1);
  }

  drained() {
    return this.chain;
  }
}
