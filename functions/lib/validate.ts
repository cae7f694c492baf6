// Middy middleware: validate the event against a zod schema before the handler runs. A bad event fails with
// ValidationFailed naming each wrong field, and the handler never sees it.
import type { MiddlewareObj } from '@middy/core';
import type { z } from 'zod';
import { validationFailed } from '../../core/errors.js';
import { formatIssues } from '../../core/validation.js';

export function validateEvent<S extends z.ZodType>(schema: S, where = 'event'): MiddlewareObj<unknown> {
  return {
    before: (request) => {
      const r = schema.safeParse(request.event);
      if (!r.success) throw validationFailed(formatIssues(r.error.issues, where));
      request.event = r.data;
    },
  };
}
