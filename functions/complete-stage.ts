// SQS consumer of `Ray Job State Change` events (EventBridge rule → queue → this), on the batch consumer of
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
import { completeStage, type CompleteDeps } from '../core/complete-stage.js';

export const createCompleteStageHandler = (deps: CompleteDeps & { now?: () => Date }): Handler<unknown, SQSBatchResponse> =>
  sqsEventConsumer('complete-stage', COMPLETION_MESSAGES, async ({ detail: d }, { metrics, messageId }) => {
    const now = deps.now ?? (() => new Date());
    const { completion, job, identity } = await completeStage(claimFromDetail(d), deps);
    logger.info('job completion handled', { messageId, jobId: d.jobId, outcome: completion });
    if (!job || !identity || (completion !== 'completed' && completion !== 'failed')) return;
    // The job's times as the compute port reports them (the event's are only claims). Clamped at 0: the job's clock
    // (the Ray head, the KubeRay operator) may run slightly ahead of this one.
    const run = { pipeline: identity.pipeline, runId: identity.runId };
    if (job.endTime) metrics.add('CompletionLatency', Math.max(0, now().getTime() - job.endTime) / 1000, { Pipeline: identity.pipeline }, run);
    if (completion === 'completed' && job.startTime && job.endTime && job.endTime >= job.startTime) {
      metrics.add('StageDuration', (job.endTime - job.startTime) / 1000, { Pipeline: identity.pipeline, Stage: identity.stage }, run);
    }
  });
