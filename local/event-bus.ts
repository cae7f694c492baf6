// A local EventBridge: rules are the project's own patterns (events/patterns.ts); a matching event goes to the
// rule's target. The completion target is a queue (local/queue.ts), as in AWS.
import type { BusEvent, EventPublisher } from '../core/ports.js';
import type { EventPattern } from '../events/patterns.js';
import { matches } from '../events/match.js';
import { randomUUID } from 'node:crypto';

export interface Rule {
  name: string;
  pattern: EventPattern;
  target: (event: EventBridgeEnvelope) => Promise<void>;
}

/** The envelope EventBridge delivers to targets. */
export interface EventBridgeEnvelope extends Required<Pick<BusEvent, 'source' | 'detail-type' | 'detail'>> {
  version: '0';
  id: string;
  account: string;
  region: string;
  time: string;
  resources: string[];
}

/** Fault injection: deliver each matched event `copies` times, each after a random delay up to `maxDelayMs`. */
export interface DeliveryFaults {
  copies: number;
  maxDelayMs: number;
}

export class LocalEventBus implements EventPublisher {
  private readonly rules: Rule[] = [];
  /** EventBridge delivers at least once and in no particular order; tests turn that up with faults. */
  faults?: DeliveryFaults;
  /** Every event put on the bus, with the rules it matched: what `sentinel` shows and tests assert on. */
  readonly log: Array<{ event: EventBridgeEnvelope; matched: string[] }> = [];
  private readonly listeners: Array<(e: EventBridgeEnvelope) => void> = [];

  addRule(rule: Rule) {
    this.rules.push(rule);
  }

  onEvent(fn: (e: EventBridgeEnvelope) => void) {
    this.listeners.push(fn);
  }

  async publish(events: BusEvent[]) {
    for (const e of events) {
      const envelope: EventBridgeEnvelope = {
        version: '0',
        id: randomUUID(),
        account: '000000000000',
        region: 'local',
        time: e.time ?? new Date().toISOString(),
        resources: e.resources ?? [],
        source: e.source,
        'detail-type': e['detail-type'],
        detail: e.detail,
      };
      const targets = this.rules.filter((r) => matches(r.pattern, envelope));
      this.log.push({ event: envelope, matched: targets.map((r) => r.name) });
      for (const l of this.listeners) l(envelope);
      const copies = this.faults?.copies ?? 1;
      const delay = () => (this.faults ? new Promise((r) => setTimeout(r, Math.random() * this.faults!.maxDelayMs)) : Promise.resolve());
      await Promise.all(targets.flatMap((r) => Array.from({ length: copies }, () => delay().then(() => r.target(envelope)))));
    }
  }
}
