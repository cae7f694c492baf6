// S3 `Object Created` (bucket notifications with EventBridgeEnabled), as far as Sentinel reads it: the detail's
// schema, the two key shapes that complete a stage (a job's own write of <artifacts>/<pipeline>/<runId>/<stage>/
// result.json, or of its failure record failure.json), and the builder the local object store's watcher emits with
// (local/object-events.ts), so a local write and an S3 PUT put the same event on the bus.
import { z } from 'zod';
import type { BusEvent } from '../core/ports.js';
import { ARTIFACTS_PREFIX, FAILURE_FILE, RESULT_FILE } from '../core/artifacts.js';
import { STAGES, type Stage } from '../core/stages.js';

export const S3_EVENT_SOURCE = 'aws.s3';
export const OBJECT_CREATED_DETAIL_TYPE = 'Object Created';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** What a stage job writes in its stage folder that completes its task: its result, or its failure record. */
export type StageWriteFile = 'result' | 'failure';
export const STAGE_WRITE_FILES = { result: RESULT_FILE, failure: FAILURE_FILE } as const satisfies Record<StageWriteFile, string>;

/** artifacts/<pipeline>/<runId>/<stage>/<file>: pipeline names and run ids as core/names.ts and core/run-id.ts make them. */
const stageKey = (file: string) => new RegExp(`^${escape(ARTIFACTS_PREFIX)}([a-z][a-z0-9-]{0,23})/(r[0-9a-f]{9})/(${STAGES.join('|')})/${escape(file)}$`);
const STAGE_WRITE_KEYS = Object.entries(STAGE_WRITE_FILES).map(([file, name]) => [file as StageWriteFile, stageKey(name)] as const);

export interface StageWriteKey {
  pipeline: string;
  runId: string;
  stage: Stage;
  file: StageWriteFile;
}

/** The run, stage and file a key is (a stage's result.json or failure.json), or undefined for any other key. */
export function stageWriteKey(key: string): StageWriteKey | undefined {
  for (const [file, re] of STAGE_WRITE_KEYS) {
    const m = re.exec(key);
    if (m) return { pipeline: m[1]!, runId: m[2]!, stage: m[3] as Stage, file };
  }
  return undefined;
}

/** The run and stage whose result a key is, or undefined for any other key (a failure record's included). */
export function stageResultKey(key: string): { pipeline: string; runId: string; stage: Stage } | undefined {
  const k = stageWriteKey(key);
  return k?.file === 'result' ? { pipeline: k.pipeline, runId: k.runId, stage: k.stage } : undefined;
}

/** AWS may add fields to the detail: unknown fields pass; the key must be a stage's result or failure record. */
export const StageWrittenDetailSchema = z.looseObject({
  bucket: z.looseObject({ name: z.string().min(1) }),
  object: z.looseObject({
    key: z
      .string()
      .max(1024)
      .refine((k) => stageWriteKey(k) !== undefined, `is not a stage's result or failure record (${ARTIFACTS_PREFIX}<pipeline>/<runId>/<stage>/${RESULT_FILE} or ${FAILURE_FILE})`),
    size: z.number().int().min(0).optional(),
    etag: z.string().optional(),
    sequencer: z.string().optional(),
  }),
});
export type StageWrittenDetail = z.infer<typeof StageWrittenDetailSchema>;

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
