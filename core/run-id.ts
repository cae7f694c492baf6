// Run identity: a run id is derived from its trigger, so a repeated delivery of the same trigger maps to the same
// Step Functions execution name, and Step Functions refuses to start it twice.
import { createHash } from 'node:crypto';
import { validationFailed } from './errors.js';

export type Trigger =
  | { kind: 'manual'; requestId: string }
  | { kind: 's3'; bucket: string; key: string; versionId?: string; sequencer?: string; etag?: string }
  | { kind: 'schedule'; schedule: string; time: string };

/** Canonical text of a trigger: only the fields that identify it, in a fixed order. */
function canonical(t: Trigger): string {
  switch (t.kind) {
    case 'manual':
      return `manual\n${t.requestId}`;
    case 's3':
      // Prefer the object version, then the event sequencer, then the etag: each names one upload of the key.
      return `s3\n${t.bucket}\n${t.key}\n${t.versionId ?? t.sequencer ?? t.etag ?? ''}`;
    case 'schedule':
      return `schedule\n${t.schedule}\n${t.time}`;
  }
}

export const RUN_ID_PATTERN = /^r[0-9a-f]{9}$/;

/** `r` + 9 hex chars of SHA-256 over the pipeline and the trigger: short enough for Kubernetes names. */
export function runIdFor(pipeline: string, trigger: Trigger): string {
  if (trigger.kind === 'manual' && !trigger.requestId) throw validationFailed('requestId is empty', 'trigger');
  const digest = createHash('sha256').update(`${pipeline}\n${canonical(trigger)}`).digest('hex');
  return `r${digest.slice(0, 9)}`;
}

/** Step Functions execution names are unique per state machine (90 days), which is what makes runs idempotent. */
export const executionNameFor = (pipeline: string, runId: string) => `${pipeline}-${runId}`;
