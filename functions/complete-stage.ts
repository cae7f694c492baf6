// SQS consumer of `Ray Job State Change` events from the watcher and of S3 `Object Created` of a stage's result.json
// or failure.json (the job's own write: core/pushed-completion.ts) (EventBridge rules → queue → this), on the batch consumer of
// functions/lib/batch.ts: a malformed record fails (redriven, then dead-lettered), its neighbours go on. Each event
// is a claim that core checks against the compute port before any task is completed (core/complete-stage.ts): a
// rejected claim fails its record too, so a forged event ends in the DLQ and is counted (HandlerErrors,
// ErrorName=CompletionRejected), and the waiting task is left for the real completion.
import type { SQSBatchResponse } from 'aws-lambda';
import type { Handler } from './lib/handler.js';
import { sqsEventConsumer } from './lib/batch.js';
import { logger } from './lib/logger.js';
import { claimFromDetail } from '../events/job-state-change.js';
import { COMPLETION_MESSAGES } from '../events/messages.js';
import { completeStage, type CompleteDeps, type CompletionReport } from '../core/complete-stage.js';
import { completeFromFailureWrite, completeFromResultWrite, DEFAULT_SETTLE_MS } from '../core/pushed-completion.js';
import { stageWriteKey } from '../events/object-created.js';
import { systemClock, type Clock } from '../core/ports.js';

/** What a pushed completion's wait leaves of the invocation's time, for the rest of the batch and the callbacks. */
const SETTLE_MARGIN_MS = 15_000;

export const createCompleteStageHandler = (deps: CompleteDeps & { now?: () => Date; clock?: Clock; settleMs?: number }): Handler<unknown, SQSBatchResponse> =>
  sqsEventConsumer('complete-stage', COMPLETION_MESSAGES, async (message, { metrics, messageId, context }) => {
    const now = deps.now ?? (() => new Date());
    let report: CompletionReport;
    let jobId: string | undefined;
    let via: string = message.kind;
    if (message.kind === 'job-state-change') {
      jobId = message.detail.jobId;
      report = await completeStage(claimFromDetail(message.detail), deps);
    } else {
      // The job's own write of its result.json or failure.json (pushed): the schema let through only those keys.
      // Its wait for the job to be reported terminal stays within the invocation's time (a batch holds up to 10).
      const remaining = typeof context.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() - SETTLE_MARGIN_MS : Infinity;
      const settleMs = Math.max(0, Math.min(deps.settleMs ?? DEFAULT_SETTLE_MS, remaining));
      const { file, ...write } = stageWriteKey(message.detail.object.key)!;
      const pushedDeps = { ...deps, clock: deps.clock ?? systemClock, settleMs };
      via = `${message.kind}:${file}`;
      const pushed = file === 'result' ? await completeFromResultWrite(write, pushedDeps) : await completeFromFailureWrite(write, pushedDeps);
      jobId = pushed.jobId;
      report = pushed;
    }
    const { completion, job, identity } = report;
    logger.info('job completion handled', { messageId, via, jobId, outcome: completion });
    if (!job || !identity || (completion !== 'completed' && completion !== 'failed')) return;
    // The job's times as the compute port reports them (the event's are only claims). Clamped at 0: the job's clock
    // (the Ray head, the KubeRay operator) may run slightly ahead of this one.
    const run = { pipeline: identity.pipeline, runId: identity.runId };
    if (job.endTime) metrics.add('CompletionLatency', Math.max(0, now().getTime() - job.endTime) / 1000, { Pipeline: identity.pipeline }, run);
    if (completion === 'completed' && job.startTime && job.endTime && job.endTime >= job.startTime) {
      metrics.add('StageDuration', (job.endTime - job.startTime) / 1000, { Pipeline: identity.pipeline, Stage: identity.stage }, run);
    }
  });
