// Lambda entry: PrepareRun (state machine task).
import { createPrepareRunHandler } from '../prepare-run.js';
import { publisher, store, tracking } from './deps.js';

const mlflow = tracking();
export const handler = createPrepareRunHandler({ store: store(), publisher: publisher(), ...(mlflow ? { tracking: mlflow } : {}) });
