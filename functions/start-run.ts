import { z } from 'zod';
import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { startRun } from '../core/start-run.js';
import { TriggerSchema } from '../core/run-input.js';
import type { ExecutionsPort } from '../core/ports.js';

export const StartRunEvent = z.object({ spec: z.unknown(), trigger: TriggerSchema, datasetUri: z.string().min(1).optional() }).strict();

export const createStartRunHandler = (deps: { executions: ExecutionsPort; artifactRoot: string }) =>
  handlerFor('start-run', StartRunEvent, async (event) => {
    const res = await startRun({ ...event, artifactRoot: deps.artifactRoot }, { executions: deps.executions, now: () => new Date() });
    logger.info(res.alreadyStarted ? 'run already started' : 'run started', { runId: res.runId, execution: res.executionName });
    return { runId: res.runId, executionName: res.executionName, executionId: res.executionId, alreadyStarted: res.alreadyStarted };
  });
