// SQS consumer of EC2 interruption events (EventBridge rules → queue → this), on the batch consumer of
// functions/lib/batch.ts: one parser per EC2 event kind (events/messages.ts). A malformed record fails (redriven,
// then dead-lettered); instances outside the cluster are acknowledged and logged; a failure to act is retried.
import type { SQSBatchResponse } from 'aws-lambda';
import type { Handler } from './lib/handler.js';
import { sqsEventConsumer } from './lib/batch.js';
import { logger } from './lib/logger.js';
import { INTERRUPTION_MESSAGES } from '../events/messages.js';
import { handleInterruption, interruptionEvent } from '../core/interruption.js';
import type { ClusterPort, EventPublisher } from '../core/ports.js';

export interface InterruptionDeps {
  cluster: ClusterPort;
  publisher: EventPublisher;
  /** Off where Karpenter's interruption handling already cordons and drains. */
  nodeHandling: boolean;
}

export const createHandleInterruptionHandler = (deps: InterruptionDeps): Handler<unknown, SQSBatchResponse> =>
  sqsEventConsumer('handle-interruption', INTERRUPTION_MESSAGES, async ({ detail, event }, { metrics, messageId }) => {
    const outcome = await handleInterruption({ 'detail-type': event['detail-type'], detail, time: event.time }, deps);
    logger.info(outcome.action === 'ignored' ? 'interruption ignored' : 'interruption handled', { messageId, ...outcome });
    if (outcome.action === 'handled') {
      await deps.publisher.publish([interruptionEvent(outcome, new Date())]);
      metrics.add('InterruptionsHandled', 1, {});
      metrics.add('InterruptionJobsMarked', outcome.markedJobs.length, {});
      metrics.add('InterruptionPodsEvicted', outcome.evicted.length, {});
    }
  });
