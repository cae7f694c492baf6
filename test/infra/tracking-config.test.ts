// Tracking as deployment configuration: infra/config.ts's trackingUri reaches the functions only when set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sentinelConfig, resourceNames } from '../../infra/config.js';

test('deployment configuration: trackingUri is optional, checked, and reaches the functions only when set', async () => {
  assert.equal(sentinelConfig('dev').trackingUri, undefined);
  assert.equal(sentinelConfig('dev', { trackingUri: 'https://mlflow.example.com' }).trackingUri, 'https://mlflow.example.com');
  assert.throws(() => sentinelConfig('dev', { trackingUri: 'mlflow.example.com' }), /trackingUri "mlflow.example.com" is not an http\(s\) URL/);
  const { lambdaEnvironment } = await import('../../infra/functions.js');
  const arns = { bucketName: 'b', stateMachine: 'arn:sm', functions: {} } as never;
  const off = lambdaEnvironment(sentinelConfig('dev'), resourceNames(sentinelConfig('dev')), arns, []);
  assert.equal('SENTINEL_TRACKING_URI' in off, false);
  const cfg = sentinelConfig('dev', { trackingUri: 'https://mlflow.example.com' });
  assert.equal(lambdaEnvironment(cfg, resourceNames(cfg), arns, []).SENTINEL_TRACKING_URI, 'https://mlflow.example.com');
});
