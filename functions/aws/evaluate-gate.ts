// Lambda entry: Gate (state machine task).
import { createEvaluateGateHandler } from '../evaluate-gate.js';
import { store } from './deps.js';

export const handler = createEvaluateGateHandler({ store: store() });
