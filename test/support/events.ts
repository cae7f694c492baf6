// AWS's documented sample events (test/fixtures/aws-events), with one field changed where a test needs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './reference.js';

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
