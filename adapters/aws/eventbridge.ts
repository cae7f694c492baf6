// EventPublisher over EventBridge PutEvents: at most 10 entries per call (the API's limit). PutEvents can succeed
// as a call and still reject some entries (FailedEntryCount); those are retried with backoff, and whatever still
// fails is raised, so the caller (the watcher) reports the job again on its next pass instead of losing it.
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { BusEvent, EventPublisher } from '../../core/ports.js';

export const MAX_ENTRIES_PER_CALL = 10;

export interface EventBridgePublisherOptions {
  /** Bus name or ARN; the account's default bus when omitted. */
  eventBusName?: string;
  /** Attempts per entry, the first included. */
  maxAttempts?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly eb: EventBridgeClient,
    private readonly opts: EventBridgePublisherOptions = {},
  ) {}

  private entry(e: BusEvent): PutEventsRequestEntry {
    return {
      Source: e.source,
      DetailType: e['detail-type'],
      Detail: JSON.stringify(e.detail),
      ...(e.time ? { Time: new Date(e.time) } : {}),
      ...(e.resources?.length ? { Resources: e.resources } : {}),
      ...(this.opts.eventBusName ? { EventBusName: this.opts.eventBusName } : {}),
    };
  }

  async publish(events: BusEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += MAX_ENTRIES_PER_CALL) {
      await this.putBatch(events.slice(i, i + MAX_ENTRIES_PER_CALL).map((e) => this.entry(e)));
    }
  }

  private async putBatch(entries: PutEventsRequestEntry[]) {
    const maxAttempts = this.opts.maxAttempts ?? 3;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let pending = entries;
    for (let attempt = 1; ; attempt++) {
      const res = await this.eb.send(new PutEventsCommand({ Entries: pending }));
      if (!res.FailedEntryCount) return;
      // Result entries line up with request entries; a failed one has an ErrorCode.
      const failed = pending.map((entry, i) => ({ entry, result: res.Entries?.[i] })).filter((x) => !x.result || x.result.ErrorCode);
      if (!failed.length) return;
      if (attempt >= maxAttempts) {
        const codes = [...new Set(failed.map((f) => `${f.result?.ErrorCode ?? 'NoResult'}${f.result?.ErrorMessage ? ` (${f.result.ErrorMessage})` : ''}`))];
        throw new Error(`EventBridge rejected ${failed.length} of ${pending.length} events after ${attempt} attempts: ${codes.join('; ')}`);
      }
      pending = failed.map((f) => f.entry);
      await sleep((this.opts.baseDelayMs ?? 200) * 2 ** (attempt - 1));
    }
  }
}
