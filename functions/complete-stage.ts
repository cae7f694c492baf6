// SQS consumer of `Ray Job State Change` events (EventBridge rule → queue → this). Reports partial batch failures
// so one bad message is retried (then dead-lettered) without redoing the others.
import type { SQSBatchResponse } from 'aws-lambda';
import { z } from 'zod';
import { errorNameOf, handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { SqsBatchEvent } from './schemas.js';
import { JobStateChangeDetailSchema, jobFromDetail } from '../events/job-state-change.js';
import { jobCompletedPattern } from '../events/patterns.js';
import { matches } from '../events/match.js';
import { completeStage, type CompleteDeps } from '../core/complete-stage.js';
import { formatIssues } from '../core/validation.js';

const Envelope = z.object({ source: z.string(), 'detail-type': z.string(), detail: JobStateChangeDetailSchema });

export const createCompleteStageHandler = (deps: CompleteDeps & { now?: () => Date }) =>
  handlerFor('complete-stage', SqsBatchEvent, async (event, { metrics, name }): Promise<SQSBatchResponse> => {
    const now = deps.now ?? (() => new Date());
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        // Malformed forever: retrying cannot fix it, so acknowledge and say so.
        logger.error('dropping message: body is not JSON', { messageId: record.messageId });
        continue;
      }
      const parsed = Envelope.safeParse(body);
      if (!parsed.success || !matches(jobCompletedPattern, body)) {
        logger.error('dropping message: not a job completion event', {
          messageId: record.messageId,
          problem: parsed.success ? 'does not match the completion pattern' : formatIssues(parsed.error.issues, 'event'),
        });
        continue;
      }
      const d = parsed.data.detail;
      try {
        const outcome = await completeStage(jobFromDetail(d), deps);
        logger.info('job completion handled', { messageId: record.messageId, jobId: d.jobId, outcome });
        if (outcome === 'completed' || outcome === 'failed') {
          // Clamped at 0: the job's clock (the Ray head, the KubeRay operator) may run slightly ahead of this one.
          if (d.endTime) metrics.add('CompletionLatency', Math.max(0, now().getTime() - d.endTime) / 1000, { Pipeline: d.pipeline }, d);
          if (outcome === 'completed' && d.startTime && d.endTime && d.endTime >= d.startTime) {
            metrics.add('StageDuration', (d.endTime - d.startTime) / 1000, { Pipeline: d.pipeline, Stage: d.stage }, d);
          }
        }
      } catch (e) {
        logger.error('job completion failed; will retry', { messageId: record.messageId, error: (e as Error).message });
        metrics.add('HandlerErrors', 1, { Function: name, ErrorName: errorNameOf(e) }, d);
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures: failures };
  });
