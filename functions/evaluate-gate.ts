import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { EvaluateGateEvent } from './schemas.js';
import { evaluateGate, type GateDeps } from '../core/evaluate-gate.js';

export const createEvaluateGateHandler = (deps: GateDeps) =>
  handlerFor('evaluate-gate', EvaluateGateEvent, async (event, { metrics }) => {
    const decision = await evaluateGate(event, deps);
    if (!decision.promote && decision.championRunId) metrics.add('ChampionsKept', 1, { Pipeline: event.run.pipeline }, event.run);
    logger.info('gate decided', { runId: event.run.runId, promote: decision.promote, reason: decision.reason });
    return decision;
  });
