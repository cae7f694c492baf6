// Lambda entry: the stage tasks (lambda:invoke.waitForTaskToken): park the token, create the RayJob. A resumed run's
// reused stage is answered here (SendTaskSuccess with its copied result) and no job runs; the stage it continues
// at gets the earlier run's checkpoints copied first (CopyObject), as the local runtime does.
import { createSubmitStageHandler } from '../submit-stage.js';
import { callbacks, compute, store, tokens, watcherArming } from './deps.js';

export const handler = createSubmitStageHandler({ compute: compute(), tokens: tokens(), store: store(), callbacks: callbacks(), watcher: watcherArming() });
