// Lambda entry: Promote and CheckPromotion (state machine tasks): apply the RayService config, or check once whether it
// serves; the state machine waits in between.
import { createPromoteHandler } from '../promote.js';
import { systemClock } from '../../core/ports.js';
import { publisher, serving, store, tracking } from './deps.js';

const mlflow = tracking();
export const handler = createPromoteHandler({ serving: serving(), store: store(), clock: systemClock, now: () => new Date(), publisher: publisher(), ...(mlflow ? { tracking: mlflow } : {}) });
