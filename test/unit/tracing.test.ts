// Traces as a Lambda with active tracing sends them: Powertools Tracer and the X-Ray SDK, unmocked, inside a handler
// built by the one factory, talking to a stand-in daemon on 127.0.0.1 (test/support/xray-daemon.ts). The AWS SDK
// clients (through the project's adapters) call a local HTTP endpoint, the Kubernetes client a local HTTPS one.
// Checked: one subsegment per SDK call and per Kubernetes request, under the handler's own; method, path and status
// recorded; neither the task token nor the bearer token in anything sent.
import { datagrams, documents, ready, TRACE_ROOT, type XrayDocument } from '../support/xray-daemon.js';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SfnTaskCallbacks } from '../../adapters/aws/sfn.js';
import { DynamoTokenStore } from '../../adapters/aws/dynamo-tokens.js';
import { KubeClient } from '../../adapters/kuberay/client.js';
import { DEFAULT_RETRY } from '../../adapters/kuberay/retry.js';
import { lambdaContext } from '../../local/lambda-context.js';

// Loaded once the stand-in daemon listens and the Lambda environment is set (both read it when they load).
await ready;
const { handlerFor } = await import('../../functions/lib/handler.js');
const { kubeRequestTracer, traced, tracer, KUBE_SUBSEGMENT } = await import('../../functions/lib/tracing.js');

const TASK_TOKEN = 'AAAAKgAAAAIAAAAAAAAAAQ-task-token-that-must-stay-secret';
const BEARER = 'k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8-bearer-that-must-stay-secret';

const seen: Array<{ path: string; auth?: string }> = [];
const listen = async (server: ReturnType<typeof createHttpServer>) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => server.close());
  return (server.address() as AddressInfo).port;
};

/** The AWS JSON APIs (Step Functions, DynamoDB): SendTaskSuccess answers {}, GetItem the parked token. */
const aws = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const body = target.endsWith('GetItem') ? { Item: { jobId: { S: 'job-a' }, token: { S: TASK_TOKEN }, expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) } } } : {};
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'req-1' }).end(JSON.stringify(body));
  });
});

/** A Kubernetes API server: a RayJob, a missing one, a list, and throttling. */
const pki = mkdtempSync(join(tmpdir(), 'sentinel-tls-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(pki, 'key.pem'), '-out', join(pki, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
const cert = readFileSync(join(pki, 'cert.pem'), 'utf8');
const kube = createHttpsServer({ key: readFileSync(join(pki, 'key.pem')), cert }, (req, res) => {
  seen.push({ path: req.url ?? '', ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
  const path = new URL(req.url ?? '/', 'https://x').pathname;
  const json = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (path.endsWith('/rayjobs/job-a')) return json(200, { metadata: { name: 'job-a' } });
  if (path.endsWith('/rayjobs')) return json(200, { items: [], metadata: {} });
  if (path.endsWith('/rayjobs/busy')) return json(429, { kind: 'Status', reason: 'TooManyRequests', code: 429 });
  return json(404, { kind: 'Status', reason: 'NotFound', code: 404 });
});

test('in Lambda with active tracing: a subsegment per SDK call and per Kubernetes request, under the handler’s; no token in any', async () => {
  assert.equal(tracer.isTracingEnabled(), true);
  const awsPort = await listen(aws);
  const kubePort = await listen(kube as unknown as ReturnType<typeof createHttpServer>);
  const config = { endpoint: `http://127.0.0.1:${awsPort}`, region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 };
  const callbacks = new SfnTaskCallbacks(traced(new SFNClient(config)));
  const tokens = new DynamoTokenStore(traced(new DynamoDBClient(config)), { table: 'sentinel-test-tokens' });
  const client = KubeClient.forEndpoint({ server: `https://127.0.0.1:${kubePort}`, ca: { pem: cert }, token: async () => BEARER }, { ...DEFAULT_RETRY, attempts: 1 }, kubeRequestTracer);
  after(() => client.close());

  const h = handlerFor('trace-test', z.unknown(), async () => {
    const token = await tokens.get('job-a');
    await callbacks.success(token!, { stage: 'train' });
    await client.get('rayjobs', 'sentinel', 'job-a');
    await client.list('rayjobs', 'sentinel', { labelSelector: 'app.kubernetes.io/managed-by=sentinel', limit: 500 });
    await assert.rejects(client.get('rayjobs', 'sentinel', 'gone'), /HTTP 404/);
    await assert.rejects(client.get('rayjobs', 'sentinel', 'busy'), /HTTP 429/);
    return 'done';
  });
  assert.equal(await h({ taskToken: TASK_TOKEN }, lambdaContext('sentinel-test-fn')), 'done');
  for (let i = 0; i < 50 && documents().length < 7; i++) await new Promise((r) => setTimeout(r, 20));

  const docs = documents();
  const byName = (n: string) => docs.filter((d) => d.name === n);
  const [handler] = byName('## index.handler');
  assert.ok(handler, `the handler's subsegment (got ${docs.map((d) => d.name).join(', ')})`);
  assert.equal(handler.trace_id, TRACE_ROOT);
  assert.deepEqual(handler.annotations, { ColdStart: true, Service: 'sentinel' });
  assert.equal(handler.metadata, undefined, 'no response or event recorded');

  const under = (d: XrayDocument) => assert.equal(d.parent_id, handler.id, `${d.name} is under the handler's subsegment`);
  const [ddb] = byName('DynamoDB');
  assert.deepEqual([ddb?.namespace, ddb?.aws?.operation, ddb?.aws?.table_name], ['aws', 'GetItem', 'sentinel-test-tokens']);
  under(ddb!);
  const [sfn] = byName('SFN');
  assert.deepEqual([sfn?.namespace, sfn?.aws?.operation, sfn?.http?.response?.status], ['aws', 'SendTaskSuccess', 200]);
  under(sfn!);

  const k = byName(KUBE_SUBSEGMENT);
  assert.equal(k.length, 4, 'one subsegment per Kubernetes request');
  k.forEach(under);
  const summary = k.map((d) => [d.namespace, d.http?.request?.method, d.http?.request?.url, d.http?.response?.status, d.annotations, !!d.error, !!d.throttle]);
  assert.deepEqual(summary, [
    ['remote', 'GET', '/apis/ray.io/v1/namespaces/sentinel/rayjobs/job-a', 200, { k8s_method: 'GET', k8s_status: 200 }, false, false],
    ['remote', 'GET', '/apis/ray.io/v1/namespaces/sentinel/rayjobs', 200, { k8s_method: 'GET', k8s_status: 200 }, false, false],
    ['remote', 'GET', '/apis/ray.io/v1/namespaces/sentinel/rayjobs/gone', 404, { k8s_method: 'GET', k8s_status: 404 }, true, false],
    ['remote', 'GET', '/apis/ray.io/v1/namespaces/sentinel/rayjobs/busy', 429, { k8s_method: 'GET', k8s_status: 429 }, true, true],
  ]);
  // The requests did carry the secrets (so their absence below means something), and the list its query.
  assert.ok(seen.every((s) => s.auth === `Bearer ${BEARER}`));
  assert.ok(seen.some((s) => s.path.includes('labelSelector=')));
  for (const d of datagrams) {
    assert.ok(!d.includes(TASK_TOKEN) && !d.includes('task-token-that-must-stay-secret'), `the task token in ${d}`);
    assert.ok(!d.includes('bearer-that-must-stay-secret'), `the bearer token in ${d}`);
    assert.ok(!d.includes('labelSelector'), `a query string in ${d}`);
  }
});
