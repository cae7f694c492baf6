// Lambda entry: PrepareRun (state machine task).
import { createPrepareRunHandler } from '../prepare-run.js';
import { allowedImagePrefixes, bucketUri, publisher, store, tracking } from './deps.js';

const mlflow = tracking();
export const handler = createPrepareRunHandler({ store: store(), publisher: publisher(), deployedSpecs: { bucketUri: bucketUri(), allowedImagePrefixes: allowedImagePrefixes() }, ...(mlflow ? { tracking: mlflow } : {}) });
