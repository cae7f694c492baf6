// The one way handlers are built: middy + Powertools logger context + event validation, then the core call.
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { logger } from './logger.js';
import { validateEvent } from './validate.js';

export type Handler<E, R> = (event: E, context: Context) => Promise<R>;

export function handlerFor<S extends z.ZodType, R>(name: string, schema: S, fn: (event: z.output<S>) => Promise<R>): Handler<unknown, R> {
  const h = middy(async (event: z.output<S>) => fn(event))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(validateEvent(schema, name) as never);
  return h as unknown as Handler<unknown, R>;
}
