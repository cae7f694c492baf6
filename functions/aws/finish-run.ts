// Lambda entry: RecordPromoted / RecordNotPromoted / RecordFailure (state machine tasks).
import { createFinishRunHandler } from '../finish-run.js';
import { compute, store, tokens } from './deps.js';

export const handler = createFinishRunHandler({ store: store(), compute: compute(), tokens: tokens(), now: () => new Date() });
