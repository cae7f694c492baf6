// Lambda entry: PrepareRun (state machine task).
import { createPrepareRunHandler } from '../prepare-run.js';
import { store } from './deps.js';

export const handler = createPrepareRunHandler({ store: store() });
