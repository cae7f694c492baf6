// Lambda entry: PrepareRun (state machine task).
import { createPrepareRunHandler } from '../prepare-run.js';
import { store, tracking } from './deps.js';

const mlflow = tracking();
export const handler = createPrepareRunHandler({ store: store(), ...(mlflow ? { tracking: mlflow } : {}) });
