// SQS consumer of `Ray Job State Change` events (EventBridge rule → queue → this). Reports partial batch failures
// so one bad message is retried (then dead-lettered) without redoing the others.
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { logger } from './lib/logger.js';
import { JobStateChangeDetailSchema, jobFromDetail } from '../events/job-state-change.js';
import { jobCompletedPattern } from '../events/patterns.js';
import { matches } from '../events/match.js';
import { completeStage, type CompleteDeps } from '../core/complete-stage.js';
import { formatIssues } from '../core/validation.js';

const Envelope = z.object({ source: z.string(), 'detail-type': z.string(), detail: JobStateChangeDetailSchema });

export const createCompleteStageHandler = (deps: CompleteDeps) =>
  middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records ?? []) {
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
      try {
        const outcome = await completeStage(jobFromDetail(parsed.data.detail), deps);
        logger.info('job completion handled', { messageId: record.messageId, jobId: parsed.data.detail.jobId, outcome });
      } catch (e) {
        logger.error('job completion failed; will retry', { messageId: record.messageId, error: (e as Error).message });
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures: failures };
  }).use(injectLambdaContext(logger, { resetKeys: true }));
