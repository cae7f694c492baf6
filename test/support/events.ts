// AWS's documented sample events (test/fixtures/aws-events), with one field changed where a test needs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { repoRoot } from './reference.js';
import { sqsEvent } from '../../local/queue.js';

export function awsSample(name: string): Record<string, any> & { 'detail-type': string } {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'aws-events', `${name}.json`), 'utf8'));
}

export function s3Upload(bucket: string, key: string, extra: Record<string, unknown> = {}) {
  const e = awsSample('s3-object-created');
  e.detail.bucket.name = bucket;
  e.detail.object = { ...e.detail.object, key, ...extra };
  return e;
}

export function ec2Event(name: 'ec2-spot-instance-interruption-warning' | 'ec2-instance-rebalance-recommendation' | 'ec2-instance-state-change-notification', instanceId: string, state?: string) {
  const e = awsSample(name);
  e.detail['instance-id'] = instanceId;
  if (state) e.detail.state = state;
  return e;
}

/**
 * An event as EventBridge delivers it to a target: every envelope field set (version, id, account, region, a real
 * time). The consumers parse that envelope with Powertools' EventBridgeSchema, so a sample's placeholder time
 * ("yyyy-mm-ddThh:mm:ssZ") or missing version is replaced here, and nothing else is changed.
 */
export type Deliverable = { source: string; 'detail-type': string; detail?: unknown; time?: string; resources?: string[] } | (Record<string, any> & { 'detail-type': string });

export function delivered(e: Deliverable, time = new Date()): Record<string, any> & { 'detail-type': string } {
  const realTime = typeof e.time === 'string' && !Number.isNaN(Date.parse(e.time)) ? e.time : time.toISOString();
  return { version: '0', id: randomUUID(), account: '000000000000', region: 'us-east-1', resources: [], ...e, time: realTime };
}

/** An SQS event of one record per event, each body the event as EventBridge delivers it to the queue. */
export const sqsOf = (...events: Array<Deliverable | string>) =>
  sqsEvent(events.map((e) => (typeof e === 'string' ? e : JSON.stringify(delivered(e)))));
