// Lambda entry: start-run (S3 uploads via EventBridge, retrain schedules, requests by pipeline name).
import { createStartRunHandler } from '../start-run.js';
import { artifactRoot, bucketUri, executions, store } from './deps.js';

export const handler = createStartRunHandler({ executions: executions(), store: store(), bucketUri: bucketUri(), artifactRoot: artifactRoot() });
