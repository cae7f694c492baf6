// Lambda entry: the completion consumer (SQS event source, partial batch failures).
import { createCompleteStageHandler } from '../complete-stage.js';
import { artifactRoot, callbacks, compute, store, tokens } from './deps.js';

export const handler = createCompleteStageHandler({ compute: compute(), tokens: tokens(), callbacks: callbacks(), store: store(), artifactRoot: artifactRoot() });
