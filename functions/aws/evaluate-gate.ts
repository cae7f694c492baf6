// Lambda entry: Gate (state machine task).
import { createEvaluateGateHandler } from '../evaluate-gate.js';
import { store, tracking } from './deps.js';

const mlflow = tracking();
export const handler = createEvaluateGateHandler({ store: store(), ...(mlflow ? { tracking: mlflow } : {}) });
