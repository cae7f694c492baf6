// The one way handlers are built: middy with the Powertools tracer (the handler's subsegment), logger context,
// metrics (published when the invocation ends, with Powertools' cold-start metric and HandlerErrors on failure) and
// event validation, then the core call. Every handler in functions/ goes through handlerFor (test/unit checks).
import middy, { type MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { logger } from './logger.js';
import { validateEvent } from './validate.js';
import { coldStartMetricEnabled, InvocationMetrics, metrics, type MetricRecorder } from './metrics.js';
import { tracer } from './tracing.js';
import type { RunRef } from '../../core/metrics.js';

export type Handler<E, R> = (event: E, context: Context) => Promise<R>;

/** What a handler body gets besides its validated event. */
export interface Invocation {
  metrics: MetricRecorder;
  context: Context;
  /** The handler's name, as handlerFor was given it. */
  name: string;
}

/** The error name HandlerErrors counts: a SentinelError's name (ValidationFailed, …) or the JavaScript error's. */
export const errorNameOf = (e: unknown) => (e instanceof Error && e.name ? e.name : 'Error');

/** Per-invocation metrics, keyed by the invocation's context object (each invocation has its own). */
const recorders = new WeakMap<object, InvocationMetrics>();
const recorderFor = (context: object) => {
  let r = recorders.get(context);
  if (!r) recorders.set(context, (r = new InvocationMetrics()));
  return r;
};

/** The run an event is about, when it names one (the state machine's tasks carry `run`). */
function runOf(event: unknown): RunRef | undefined {
  const run = (event as { run?: { pipeline?: unknown; runId?: unknown } } | null)?.run;
  return run && typeof run.pipeline === 'string' && typeof run.runId === 'string' ? { pipeline: run.pipeline, runId: run.runId } : undefined;
}

function metricsMiddleware(name: string): MiddlewareObj<unknown, unknown, Error, Context> {
  const publish = (context: Context) => {
    recorders.get(context)?.publish();
    recorders.delete(context);
  };
  return {
    before: (request) => {
      request.context ??= {} as Context; // called without a context (some tests): still one recorder per call
      recorderFor(request.context);
      if (coldStartMetricEnabled()) metrics.captureColdStartMetric(request.context.functionName);
    },
    after: (request) => publish(request.context),
    onError: (request) => {
      recorderFor(request.context).add('HandlerErrors', 1, { Function: name, ErrorName: errorNameOf(request.error) }, runOf(request.event));
      publish(request.context);
    },
  };
}

export function handlerFor<S extends z.ZodType, R>(name: string, schema: S, fn: (event: z.output<S>, invocation: Invocation) => Promise<R>): Handler<unknown, R> {
  const h = middy(async (event: z.output<S>, context: Context) => fn(event, { metrics: recorderFor(context), context, name }));
  // In this order: the tracer's subsegment spans everything; metrics publish after the handler and the logger.
  h.use(captureLambdaHandler(tracer, { captureResponse: false }));
  h.use(metricsMiddleware(name) as never);
  h.use(injectLambdaContext(logger, { resetKeys: true }));
  h.use(validateEvent(schema, name) as never);
  return h as unknown as Handler<unknown, R>;
}
