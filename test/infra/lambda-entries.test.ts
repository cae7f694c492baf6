// The deployable artifacts themselves: bundles built with the deploy's esbuild options, imported and invoked offline
// on events that need no AWS call (a bad event, an ignored upload, an undecodable message). Plus the wiring the
// entries share: environment names, lazy adapters, per-pipeline serving.
import { lambdaContext } from '../../local/lambda-context.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { buildLambda, lambdaEntries, PLACEHOLDER_ENV, provideSdk } from '../../infra/bundles.js';
import { lambdaEnvironment } from '../../infra/functions.js';
import { TOKEN_KEY, TTL_ATTRIBUTE } from '../../infra/tokens.js';
import * as adapter from '../../adapters/aws/dynamo-tokens.js';
import { resourceNames, sentinelConfig } from '../../infra/config.js';
import { deploymentArns } from '../../infra/iam.js';
import { ENV, lazy, PerPipelineServing } from '../../functions/aws/deps.js';
import type { ServingPort } from '../../core/ports.js';
import { sqsEvent } from '../../local/queue.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
type Handler = (event: unknown, context: Context) => Promise<any>;
const context = (fn: string) => lambdaContext(fn, 30_000);

const handlers = new Map<string, Handler>();
let outdir = '';
before(async () => {
  Object.assign(process.env, PLACEHOLDER_ENV);
  outdir = mkdtempSync(join(tmpdir(), 'sentinel-entries-'));
  provideSdk(outdir, root); // the bundles import the AWS SDK, which Lambda's runtime provides
  const entries = lambdaEntries(root).filter((x) => ['evaluate-gate', 'start-run', 'complete-stage', 'submit-stage', 'handle-interruption'].includes(x.name));
  for (const b of await Promise.all(entries.map((e) => buildLambda(e, outdir)))) {
    handlers.set(b.name, ((await import(pathToFileURL(b.outfile).href)) as { handler: Handler }).handler);
  }
  process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));
});

test('a bundled handler rejects a bad event with ValidationFailed naming the field (before any AWS call)', async () => {
  await assert.rejects(handlers.get('evaluate-gate')!({ run: { runId: 42 } }, context('evaluate-gate')), (e: Error) => e.name === 'ValidationFailed' && /run/.test(e.message));
  await assert.rejects(handlers.get('submit-stage')!({ stage: 'train' }, context('submit-stage')), (e: Error) => e.name === 'ValidationFailed' && /taskToken/.test(e.message));
});

test('the bundled start-run ignores an upload outside datasets/ and says why', async () => {
  const event = { source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: 'b' }, object: { key: 'notes/readme.txt', size: 10 } } };
  const res = await handlers.get('start-run')!(event, context('start-run'));
  assert.equal(res.started, false);
  assert.match(res.reason, /outside datasets\//);
});

test('the bundled queue consumers fail an undecodable message (so SQS redrives it to the DLQ), and only that one', async () => {
  for (const fn of ['complete-stage', 'handle-interruption']) {
    const event = sqsEvent(['not json', JSON.stringify({ source: 'aws.ec2', 'detail-type': 'EC2 Something New', detail: {} })]);
    const res = await handlers.get(fn)!(event, context(fn));
    assert.deepEqual(res, { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) }, fn);
  }
});

test('infra sets every environment variable the entries read; the token table matches the adapter', () => {
  const cfg = sentinelConfig('dev', { region: 'us-east-1' });
  const env = lambdaEnvironment(cfg, resourceNames(cfg), deploymentArns(cfg, { account: '123456789012' }), [{ name: 'breast-cancer', key: 'k', path: 'p', image: 'img:1' }]);
  for (const name of Object.values(ENV)) assert.ok(name in env, `${name} is read by functions/aws/deps.ts but not set by infra`);
  assert.deepEqual(JSON.parse(env.SENTINEL_SERVE_IMAGES!), { 'breast-cancer': 'img:1' });
  for (const k of Object.keys(PLACEHOLDER_ENV).filter((k) => k.startsWith('SENTINEL_'))) assert.ok(k in env, `bench sets ${k}, which infra does not`);
  assert.equal(TOKEN_KEY, adapter.TOKEN_KEY);
  assert.equal(TTL_ATTRIBUTE, adapter.TTL_ATTRIBUTE);
});

test('lazy() builds nothing until first use, then forwards with the right `this`', async () => {
  let built = 0;
  const obj = lazy(() => {
    built++;
    return { n: 2, twice(this: { n: number }, x: number) { return x * this.n; } };
  });
  assert.equal(built, 0);
  assert.equal(obj.twice(21), 42);
  assert.equal(obj.n, 2);
  assert.equal(built, 1);
});

test('serving picks each pipeline’s image and refuses a pipeline that is not deployed', async () => {
  const made: string[] = [];
  const fake = (image: string): ServingPort => {
    made.push(image);
    return { apply: async () => undefined, status: async () => ({ state: 'RUNNING', message: image }), endpoint: (p, r) => `http://${p}${r}` };
  };
  const s = new PerPipelineServing({ a: 'img-a', b: 'img-b' }, fake);
  assert.equal((await s.status('b')).message, 'img-b');
  assert.equal((await s.status('b')).message, 'img-b');
  assert.equal(s.endpoint('a', '/predict'), 'http://a/predict');
  assert.deepEqual(made, ['img-b', 'img-a'], 'one adapter per pipeline, reused');
  assert.throws(() => s.endpoint('c', '/x'), (e: Error) => e.name === 'ValidationFailed' && /"c" is not deployed/.test(e.message));
});
