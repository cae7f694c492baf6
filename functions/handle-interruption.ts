// SQS consumer of EC2 interruption events (EventBridge rules → queue → this). Unknown detail-types and instances
// outside the cluster are acknowledged and logged, never retried; a failure to act is retried (then dead-lettered).
import type { SQSBatchResponse } from 'aws-lambda';
import { z } from 'zod';
import { errorNameOf, handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { SqsBatchEvent } from './schemas.js';
import { handleInterruption, interruptionEvent } from '../core/interruption.js';
import type { ClusterPort, EventPublisher } from '../core/ports.js';

const Envelope = z.object({
  'detail-type': z.string(),
  detail: z.object({ 'instance-id': z.string().optional(), 'instance-action': z.string().optional(), state: z.string().optional() }).passthrough().optional(),
  time: z.string().optional(),
});

export interface InterruptionDeps {
  cluster: ClusterPort;
  publisher: EventPublisher;
  /** Off where Karpenter's interruption handling already cordons and drains. */
  nodeHandling: boolean;
}

export const createHandleInterruptionHandler = (deps: InterruptionDeps) =>
  handlerFor('handle-interruption', SqsBatchEvent, async (event, { metrics, name }): Promise<SQSBatchResponse> => {
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      let parsed: z.infer<typeof Envelope>;
      try {
        parsed = Envelope.parse(JSON.parse(record.body));
      } catch {
        logger.error('dropping message: not an EventBridge event', { messageId: record.messageId });
        continue;
      }
      try {
        const outcome = await handleInterruption(parsed, deps);
        logger.info(outcome.action === 'ignored' ? 'interruption ignored' : 'interruption handled', { messageId: record.messageId, ...outcome });
        if (outcome.action === 'handled') {
          await deps.publisher.publish([interruptionEvent(outcome, new Date())]);
          metrics.add('InterruptionsHandled', 1, {});
          metrics.add('InterruptionJobsMarked', outcome.markedJobs.length, {});
          metrics.add('InterruptionPodsEvicted', outcome.evicted.length, {});
        }
      } catch (e) {
        logger.error('interruption handling failed; will retry', { messageId: record.messageId, error: (e as Error).message });
        metrics.add('HandlerErrors', 1, { Function: name, ErrorName: errorNameOf(e) });
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures: failures };
  });
