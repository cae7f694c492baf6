// Event schemas of the state machine's Lambda tasks. The run itself is validated by core (run-input.ts); here only
// the envelope each task receives.
import { z } from 'zod';
import { RunContextSchema } from '../core/run-input.js';
import { STAGES } from '../core/stages.js';

const summary = z
  .object({
    stage: z.enum(STAGES),
    jobId: z.string(),
    attempt: z.number().int(),
    resultUri: z.string(),
    metrics: z.record(z.string(), z.number()),
    artifacts: z.record(z.string(), z.string()),
    details: z.record(z.string(), z.unknown()).optional(),
    jobSeconds: z.number(),
  })
  .strict();
export const StageSummariesSchema = z.object({ ingest: summary, train: summary, tune: summary, evaluate: summary }).partial().strict();

export const PrepareRunEvent = z.object({ run: z.unknown() }).strict();
export const SubmitStageEvent = z
  .object({ taskToken: z.string().min(1).max(1024), stage: z.enum(STAGES), run: RunContextSchema, stages: StageSummariesSchema.default({}) })
  .strict();
export const EvaluateGateEvent = z.object({ run: RunContextSchema, stages: StageSummariesSchema }).strict();
/** Where a promotion that has not finished stands (core/promote.ts PromotionProgress), as CheckPromotion gets it back. */
const PromotionProgressSchema = z
  .object({
    phase: z.enum(['lease', 'serving']),
    startedMs: z.number(),
    deadlineMs: z.number(),
    timeoutSeconds: z.number().int().min(0),
    polls: z.number().int().min(0),
    maxPolls: z.number().int().min(1).optional(),
    attempt: z.number().int().min(1),
    seen: z.string().nullable(),
    applied: z.boolean(),
    waitingFor: z.string().optional(),
    restoring: z.object({ reason: z.string(), restores: z.number().int().min(0) }).strict().optional(),
    ownsLease: z.boolean(),
    last: z.string().optional(),
  })
  .strict();
/** Promote (no progress: apply and look once) and CheckPromotion (the progress the last step returned). */
export const PromoteEvent = z.object({ run: RunContextSchema, modelUri: z.string().min(1), value: z.number(), progress: PromotionProgressSchema.optional() }).strict();
export const FinishRunEvent = z
  .object({
    run: RunContextSchema,
    stages: StageSummariesSchema.default({}),
    end: z.discriminatedUnion('status', [
      z.object({ status: z.literal('SUCCEEDED'), promoted: z.boolean(), reason: z.string() }).strict(),
      z.object({ status: z.literal('FAILED'), error: z.string(), cause: z.string(), failedAt: z.string().optional() }).strict(),
    ]),
  })
  .strict();

/** An SQS batch as the event source mapping delivers it: each record's id and body (the rest passes through). */
export const SqsBatchEvent = z.looseObject({ Records: z.array(z.looseObject({ messageId: z.string().min(1), body: z.string() })).default([]) });
/** The scheduled handlers (watcher, reaper) act on their own listing; what the schedule sends is not read. */
export const ScheduledEvent = z.unknown();
