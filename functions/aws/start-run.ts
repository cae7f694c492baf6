// Lambda entry: start-run (S3 uploads via EventBridge, retrain schedules, requests by pipeline name). No inline specs,
// and a spec's image must come from the deployment's allowed registries (SENTINEL_ALLOWED_IMAGE_PREFIXES).
import { createStartRunHandler } from '../start-run.js';
import { allowedImagePrefixes, artifactRoot, bucketUri, executions, store } from './deps.js';

export const handler = createStartRunHandler({ executions: executions(), store: store(), bucketUri: bucketUri(), artifactRoot: artifactRoot(), allowInlineSpec: false, allowedImagePrefixes: allowedImagePrefixes() });
