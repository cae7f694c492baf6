// Lambda entry: the stage tasks (lambda:invoke.waitForTaskToken): park the token, create the RayJob.
import { createSubmitStageHandler } from '../submit-stage.js';
import { compute, store, tokens, watcherArming } from './deps.js';

export const handler = createSubmitStageHandler({ compute: compute(), tokens: tokens(), store: store(), watcher: watcherArming() });
