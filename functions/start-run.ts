// Every way a run starts, one handler: an S3 upload (EventBridge `Object Created`), a schedule tick, a request by
// pipeline name (CLI, console), or an inline spec (the local CLI). Each is validated, turned into a trigger identity
// (so redelivery starts nothing new) and handed to core's startRun. Ignored events say why in the log.
import { z } from 'zod';
import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { startRun } from '../core/start-run.js';
import { TriggerSchema } from '../core/run-input.js';
import { datasetUriFor, decideForSchedule, decideForUpload, type TriggerDecision } from '../core/triggers.js';
import { validationFailed } from '../core/errors.js';
import { checkImage, loadDeployedSpec } from '../core/deployed-spec.js';
import type { ExecutionsPort, ObjectStore } from '../core/ports.js';

const S3ObjectCreatedEvent = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().optional(),
      etag: z.string().optional(),
      'version-id': z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});
const ScheduleEvent = z.object({ kind: z.literal('schedule'), pipeline: z.string().min(1), time: z.string().optional(), force: z.boolean().optional() }).strict();
const ByNameEvent = z
  .object({ kind: z.literal('manual'), pipeline: z.string().min(1), requestId: z.string().min(1).max(128), datasetUri: z.string().min(1).optional() })
  .strict();
const InlineEvent = z.object({ spec: z.unknown(), trigger: TriggerSchema, datasetUri: z.string().min(1).optional() }).strict();

export const StartRunEvent = z.union([S3ObjectCreatedEvent, ScheduleEvent, ByNameEvent, InlineEvent]);

export interface StartRunDeps {
  executions: ExecutionsPort;
  store: ObjectStore;
  /** s3://bucket (AWS) or the local bucket folder: where datasets/ and pipelines/ are. */
  bucketUri: string;
  artifactRoot: string;
  now?: () => Date;
  /**
   * Inline specs (`sentinel run --spec`): the local runtime only. Absent or false (the Lambda entry): refused, a
   * deployed stack runs only the specs deployed under pipelines/.
   */
  allowInlineSpec?: boolean;
  /** Registry prefixes a loaded spec's image must start with (AWS: infra/config.ts allowedImagePrefixes); absent: unchecked. */
  allowedImagePrefixes?: readonly string[];
}

export const createStartRunHandler = (deps: StartRunDeps) =>
  handlerFor('start-run', StartRunEvent, async (event) => {
    const now = deps.now ?? (() => new Date());
    const loadSpec = (pipeline: string) => loadDeployedSpec(deps.store, deps.bucketUri, pipeline, deps.allowedImagePrefixes);

    let decision: TriggerDecision;
    let inlineSpec: unknown;
    if ('source' in event) {
      const o = event.detail.object;
      decision = decideForUpload(
        { bucket: event.detail.bucket.name, key: o.key, ...(o.size !== undefined ? { size: o.size } : {}), ...(o.etag ? { etag: o.etag } : {}), ...(o['version-id'] ? { versionId: o['version-id'] } : {}), ...(o.sequencer ? { sequencer: o.sequencer } : {}) },
        deps.bucketUri,
      );
    } else if ('kind' in event && event.kind === 'schedule') {
      decision = await decideForSchedule(
        { pipeline: event.pipeline, schedule: `retrain-${event.pipeline}`, time: event.time ?? now().toISOString(), ...(event.force ? { force: true } : {}) },
        { store: deps.store, bucketUri: deps.bucketUri, artifactRoot: deps.artifactRoot },
      );
    } else if ('kind' in event) {
      const spec = await loadSpec(event.pipeline);
      decision = { action: 'start', pipeline: event.pipeline, datasetUri: event.datasetUri ?? datasetUriFor(deps.bucketUri, spec.dataset.uri), trigger: { kind: 'manual', requestId: event.requestId } };
      inlineSpec = spec;
    } else {
      if (!deps.allowInlineSpec) throw validationFailed('an inline spec is refused here: a deployed stack runs only deployed pipelines (start one by name)', 'spec');
      inlineSpec = event.spec;
      const image = (event.spec as { image?: unknown } | null)?.image;
      if (deps.allowedImagePrefixes && typeof image === 'string') checkImage(image, deps.allowedImagePrefixes);
      const name = (event.spec as { name?: string } | null)?.name ?? '';
      decision = { action: 'start', pipeline: name, datasetUri: event.datasetUri ?? '', trigger: event.trigger };
    }

    if (decision.action === 'ignore') {
      logger.info('trigger ignored', { reason: decision.reason });
      return { started: false as const, reason: decision.reason };
    }
    const spec = inlineSpec ?? (await loadSpec(decision.pipeline));
    const datasetUri = decision.datasetUri || datasetUriFor(deps.bucketUri, (spec as { dataset: { uri: string } }).dataset.uri);
    const res = await startRun({ spec, trigger: decision.trigger, artifactRoot: deps.artifactRoot, datasetUri }, { executions: deps.executions, now });
    logger.info(res.alreadyStarted ? 'run already started' : 'run started', { runId: res.runId, execution: res.executionName, trigger: decision.trigger.kind });
    return { started: true as const, runId: res.runId, executionName: res.executionName, executionId: res.executionId, alreadyStarted: res.alreadyStarted };
  });
