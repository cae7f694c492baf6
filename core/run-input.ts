// Schema of the state machine's input. A plain StartExecution (by hand, from the console) is checked by the first
// state against the same schema the triggers use, so every path into a run is validated the same way.
import { z } from 'zod';
import { PipelineSpecSchema } from './spec.js';
import { RUN_ID_PATTERN } from './run-id.js';
import { STAGES } from './stages.js';
import { validationFailed } from './errors.js';
import { formatIssues } from './validation.js';
import type { RunContext } from './model.js';

export const TriggerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('manual'), requestId: z.string().min(1).max(128) }).strict(),
  z
    .object({
      kind: z.literal('s3'),
      bucket: z.string().min(3),
      key: z.string().min(1),
      versionId: z.string().optional(),
      sequencer: z.string().optional(),
      etag: z.string().optional(),
    })
    .strict(),
  z.object({ kind: z.literal('schedule'), schedule: z.string().min(1), time: z.string().min(1) }).strict(),
]);

export const RunContextSchema = z
  .object({
    pipeline: z.string().min(1),
    runId: z.string().regex(RUN_ID_PATTERN, 'must look like r0123abcde'),
    trigger: TriggerSchema,
    artifactRoot: z.string().regex(/^(s3:\/\/[a-z0-9.-]{3,63}(\/.*)?|\/.*)$/, 'must be s3://bucket/prefix or an absolute path'),
    datasetUri: z.string().min(1),
    datasetEtag: z.string().optional(),
    spec: PipelineSpecSchema,
    requestedAt: z.string().min(1),
    tracking: z
      .union([
        z.object({ uri: z.string().min(1), experimentId: z.string().min(1), parentRunId: z.string().min(1), url: z.string().min(1) }).strict(),
        z.object({ off: z.string() }).strict(),
      ])
      .optional(),
    resume: z
      .object({
        from: z.string().regex(RUN_ID_PATTERN, 'must look like r0123abcde'),
        attempt: z.number().int().min(1).max(1000),
        reuse: z.partialRecord(z.enum(STAGES), z.string().min(1)),
        checkpoints: z.partialRecord(z.enum(STAGES), z.string().min(1)),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((r) => r.pipeline === r.spec.name, { message: 'must equal spec.name', path: ['pipeline'] })
  // A spec file's relative `code` is resolved by the local CLI; a run (on KubeRay: a path inside the image) needs it absolute.
  .refine((r) => r.spec.code === undefined || r.spec.code.startsWith('/'), {
    message: 'must be an absolute path when a run starts (on KubeRay: a folder inside the image)',
    path: ['spec', 'code'],
  });

export function parseRunContext(raw: unknown, where = 'run'): RunContext {
  const r = RunContextSchema.safeParse(raw);
  if (!r.success) throw validationFailed(formatIssues(r.error.issues, where));
  return r.data;
}
