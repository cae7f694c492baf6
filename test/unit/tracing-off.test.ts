// Outside Lambda (the local runtime, tests, a developer's shell) there is no X-Ray daemon: Powertools turns tracing
// off, and the project's wrappers hand back exactly what they were given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';
import { kubeRequestTracer, traced, tracer } from '../../functions/lib/tracing.js';

test('without Lambda’s environment tracing is off: SDK clients are not instrumented, Kubernetes requests run as they are', async () => {
  assert.equal(process.env.AWS_EXECUTION_ENV, undefined, 'this test runs outside Lambda');
  assert.equal(tracer.isTracingEnabled(), false);
  const client = new S3Client({ region: 'us-east-1' });
  const before = client.middlewareStack.identify();
  assert.equal(traced(client), client);
  assert.deepEqual(client.middlewareStack.identify(), before, 'no X-Ray middleware added');
  assert.ok(!before.some((m) => /xray/i.test(m)));
  const res = { code: 200, text: '{}' };
  assert.equal(await kubeRequestTracer({ method: 'GET', path: '/api/v1/nodes' }, async () => res), res);
  await assert.rejects(kubeRequestTracer({ method: 'GET', path: '/x' }, async () => { throw new Error('ECONNREFUSED'); }), /ECONNREFUSED/);
});
