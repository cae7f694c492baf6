// Step Functions `Execution Status Change` (ABORTED, TIMED_OUT, FAILED) for the pipeline's state machine: delete the
// run's Ray jobs and record the end in run.json (core/execution-ended.ts). Idempotent: EventBridge delivers at least
// once, and a FAILED execution after RecordFailure finds the run recorded already.
import { z } from 'zod';
import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { executionEnded, ExecutionStatusChangeDetailSchema, type ExecutionEndedDeps } from '../core/execution-ended.js';
import { announcer } from './notify.js';
import { armReaperAfterRun, tryArm, type ReaperArming } from '../core/arming.js';

export const ExecutionStatusChangeEvent = z
  .object({ source: z.literal('aws.states'), 'detail-type': z.literal('Step Functions Execution Status Change'), detail: ExecutionStatusChangeDetailSchema })
  .passthrough();

/** `reaper` (deployed): arm the idle reaper for the execution's end + the idle time (core/arming.ts). */
export const createExecutionEndedHandler = (deps: ExecutionEndedDeps & { reaper?: ReaperArming }) =>
  handlerFor('execution-ended', ExecutionStatusChangeEvent, async (event) => {
    const publisher = announcer(deps.publisher);
    const res = await executionEnded(event.detail, { ...deps, ...(publisher ? { publisher } : {}) });
    const ended = event.detail.stopDate ? new Date(event.detail.stopDate) : deps.now();
    const reaper = deps.reaper ? await tryArm(() => armReaperAfterRun(deps.reaper!, ended, deps.now())) : undefined;
    logger.info('execution ended', { execution: event.detail.name, status: event.detail.status, ...res, ...(reaper ? { reaper } : {}) });
    return reaper ? { ...res, reaper } : res;
  });
