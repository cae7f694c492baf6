// Lambda entry: RecordPromoted / RecordNotPromoted / RecordFailure (state machine tasks).
import { createFinishRunHandler } from '../finish-run.js';
import { compute, publisher, reaperArming, store, tokens, tracking } from './deps.js';

const mlflow = tracking();
export const handler = createFinishRunHandler({ store: store(), compute: compute(), tokens: tokens(), now: () => new Date(), publisher: publisher(), reaper: reaperArming(), ...(mlflow ? { tracking: mlflow } : {}) });
