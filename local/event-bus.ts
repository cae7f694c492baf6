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

export class LocalEventBus implements EventPublisher {
  private readonly rules: Rule[] = [];
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
      await Promise.all(targets.map((r) => r.target(envelope)));
    }
  }
}
