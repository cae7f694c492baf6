// S3 `Object Created` (bucket notifications with EventBridgeEnabled), as far as Sentinel reads it: the detail's
// schema, the one key shape that completes a stage (a job's own write of <artifacts>/<pipeline>/<runId>/<stage>/
// result.json), and the builder the local object store's watcher emits with (local/object-events.ts), so a local
// write and an S3 PUT put the same event on the bus.
import { z } from 'zod';
import type { BusEvent } from '../core/ports.js';
import { ARTIFACTS_PREFIX, RESULT_FILE } from '../core/artifacts.js';
import { STAGES, type Stage } from '../core/stages.js';

export const S3_EVENT_SOURCE = 'aws.s3';
export const OBJECT_CREATED_DETAIL_TYPE = 'Object Created';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** artifacts/<pipeline>/<runId>/<stage>/result.json: pipeline names and run ids as core/names.ts and core/run-id.ts make them. */
const STAGE_RESULT_KEY = new RegExp(`^${escape(ARTIFACTS_PREFIX)}([a-z][a-z0-9-]{0,23})/(r[0-9a-f]{9})/(${STAGES.join('|')})/${escape(RESULT_FILE)}$`);

/** The run and stage whose result a key is, or undefined for any other key. */
export function stageResultKey(key: string): { pipeline: string; runId: string; stage: Stage } | undefined {
  const m = STAGE_RESULT_KEY.exec(key);
  return m ? { pipeline: m[1]!, runId: m[2]!, stage: m[3] as Stage } : undefined;
}

/** AWS may add fields to the detail: unknown fields pass; the key must be a stage's result. */
export const StageResultWrittenDetailSchema = z.looseObject({
  bucket: z.looseObject({ name: z.string().min(1) }),
  object: z.looseObject({
    key: z.string().max(1024).refine((k) => stageResultKey(k) !== undefined, `is not a stage result (${ARTIFACTS_PREFIX}<pipeline>/<runId>/<stage>/${RESULT_FILE})`),
    size: z.number().int().min(0).optional(),
    etag: z.string().optional(),
    sequencer: z.string().optional(),
  }),
});
export type StageResultWrittenDetail = z.infer<typeof StageResultWrittenDetailSchema>;

export interface CreatedObject {
  size: number;
  etag: string;
  /** S3's per-key ordering token (hex); locally the write's time in microseconds. */
  sequencer: string;
}

/** An `Object Created` event as S3 sends it to EventBridge (the documented detail fields Sentinel has locally). */
export function objectCreatedEvent(bucket: string, key: string, o: CreatedObject, now: Date): BusEvent {
  return {
    source: S3_EVENT_SOURCE,
    'detail-type': OBJECT_CREATED_DETAIL_TYPE,
    time: now.toISOString(),
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size: o.size, etag: o.etag, sequencer: o.sequencer },
      'request-id': 'local',
      requester: 'local',
      reason: 'PutObject',
    },
  };
}
