// Lambda entry: Promote (state machine task): apply the RayService config, wait until it serves.
import { createPromoteHandler } from '../promote.js';
import { systemClock } from '../../core/ports.js';
import { publisher, serving, store, tracking } from './deps.js';

const mlflow = tracking();
export const handler = createPromoteHandler({ serving: serving(), store: store(), clock: systemClock, now: () => new Date(), publisher: publisher(), ...(mlflow ? { tracking: mlflow } : {}) });
