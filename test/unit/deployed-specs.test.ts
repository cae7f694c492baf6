// Issue 14 item 4: a deployed stack runs only deployed specs. The Lambda entry of start-run refuses an inline spec;
// the local runtime's handler (allowInlineSpec) takes it. A spec's image must come from the deployment's allowed
// registry prefixes (ValidationFailed at `image`, naming them), checked when start-run loads a spec and again in
// prepare-run, the state machine's first state, which a hand-made StartExecution reaches without start-run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { createStartRunHandler } from '../../functions/start-run.js';
import { createPrepareRunHandler } from '../../functions/prepare-run.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { validateSpec } from '../../core/spec.js';
import { imageAllowed, ownEcrRegistry } from '../../core/deployed-spec.js';
import { referenceRun, referenceSpec } from '../support/reference.js';

const ctx = { functionName: 'test', awsRequestId: 'r' } as Context;
const ECR = ownEcrRegistry('123456789012', 'us-east-1');
const ALLOWED = [ECR, 'ghcr.io/sentinel-dev/'];

/** A bucket folder with the reference pipeline deployed (its image `image`) and its dataset uploaded. */
function deployment(image = 'ghcr.io/sentinel-dev/sentinel-jobs:0.1.0') {
  const bucket = mkdtempSync(join(tmpdir(), 'sentinel-deployed-'));
  mkdirSync(join(bucket, 'pipelines'), { recursive: true });
  const spec = { ...referenceSpec(), image };
  writeFileSync(join(bucket, 'pipelines', 'breast-cancer.yaml'), JSON.stringify(spec));
  mkdirSync(join(bucket, 'datasets', 'breast-cancer'), { recursive: true });
  writeFileSync(join(bucket, 'datasets', 'breast-cancer', 'breast-cancer.csv'), 'a,target\n1,0\n');
  const started: { name: string; input: unknown }[] = [];
  const executions = { start: async (name: string, input: unknown) => (started.push({ name, input }), { executionId: name, alreadyStarted: false }) };
  return { bucket, spec, started, executions, store: new LocalObjectStore() };
}

const inline = (spec: unknown) => ({ spec, trigger: { kind: 'manual' as const, requestId: 'q1' } });
const failedAt = (where: string, ...mentions: string[]) => (e: unknown) => {
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'ValidationFailed');
  assert.equal((e as { where?: string }).where, where);
  for (const m of mentions) assert.ok(e.message.includes(m), `the error names ${m}: ${e.message}`);
  return true;
};

test('the AWS entry of start-run refuses an inline spec, at `spec`, and starts nothing', async () => {
  Object.assign(process.env, { SENTINEL_BUCKET: 'bkt', SENTINEL_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:x', SENTINEL_ALLOWED_IMAGE_PREFIXES: ALLOWED.join(',') });
  const { handler } = await import('../../functions/aws/start-run.js');
  await assert.rejects(handler(inline(referenceSpec()), ctx), failedAt('spec'));
});

test('start-run without allowInlineSpec refuses an inline spec; the local runtime (allowInlineSpec) starts it', async () => {
  const d = deployment();
  const deps = { executions: d.executions, store: d.store, bucketUri: d.bucket, artifactRoot: join(d.bucket, 'artifacts') };
  await assert.rejects(createStartRunHandler(deps)(inline(d.spec), ctx), failedAt('spec'));
  assert.equal(d.started.length, 0);
  const res = await createStartRunHandler({ ...deps, allowInlineSpec: true })(inline(d.spec), ctx);
  assert.equal(res.started, true);
  assert.equal(d.started.length, 1);
});

test('a deployed spec whose image is from another registry is refused at `image`, naming the allowed prefixes', async () => {
  const d = deployment('docker.io/attacker/miner:latest');
  const h = createStartRunHandler({ executions: d.executions, store: d.store, bucketUri: d.bucket, artifactRoot: join(d.bucket, 'artifacts'), allowedImagePrefixes: ALLOWED });
  await assert.rejects(h({ kind: 'manual', pipeline: 'breast-cancer', requestId: 'q1' }, ctx), failedAt('image', ECR, 'ghcr.io/sentinel-dev/'));
  assert.equal(d.started.length, 0);
});

test('an image from an allowed registry starts; a prefix is a registry path, not a string start', async () => {
  const d = deployment(`${ECR}sentinel-jobs:1.2.3`);
  const h = createStartRunHandler({ executions: d.executions, store: d.store, bucketUri: d.bucket, artifactRoot: join(d.bucket, 'artifacts'), allowedImagePrefixes: ALLOWED });
  const res = await h({ kind: 'manual', pipeline: 'breast-cancer', requestId: 'q1' }, ctx);
  assert.equal(res.started, true);
  assert.equal(d.started.length, 1);
  assert.equal(imageAllowed('ghcr.io/sentinel-dev-evil/x:1', ALLOWED), false);
  assert.equal(imageAllowed('123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/x:1', ALLOWED), false);
});

test('prepare-run on AWS refuses a hand-made StartExecution whose spec is not the deployed one; the deployed one runs', async () => {
  const d = deployment();
  const policy = { bucketUri: d.bucket, allowedImagePrefixes: ALLOWED };
  const datasetUri = join(d.bucket, 'datasets', 'breast-cancer', 'breast-cancer.csv');
  const artifactRoot = join(d.bucket, 'artifacts');
  const prepare = createPrepareRunHandler({ store: d.store, deployedSpecs: policy });
  // The same pipeline name, another image: what StartExecution with an inline spec would hand to the first state.
  const forged = { ...referenceRun(validateSpec({ ...d.spec, image: 'docker.io/attacker/miner:latest' })), datasetUri, artifactRoot };
  await assert.rejects(prepare({ run: forged }, ctx), failedAt('run.spec'));
  const otherParams = { ...referenceRun(validateSpec({ ...d.spec, model: { ...d.spec.model, params: { max_depth: 99 } } })), datasetUri, artifactRoot };
  await assert.rejects(prepare({ run: otherParams }, ctx), failedAt('run.spec'));
  const ok = await prepare({ run: { ...referenceRun(validateSpec(d.spec)), datasetUri, artifactRoot } }, ctx);
  assert.equal(ok.run.pipeline, 'breast-cancer');
  // Locally (no policy) the same forged spec prepares: `sentinel run --spec` runs any valid spec.
  const local = await createPrepareRunHandler({ store: d.store })({ run: { ...forged, runId: referenceRun().runId } }, ctx);
  assert.equal(local.run.spec.image, 'docker.io/attacker/miner:latest');
});

test('prepare-run on AWS refuses a deployed spec whose image is not allowed, at `image`', async () => {
  const d = deployment('quay.io/someone/jobs:1');
  const datasetUri = join(d.bucket, 'datasets', 'breast-cancer', 'breast-cancer.csv');
  const prepare = createPrepareRunHandler({ store: d.store, deployedSpecs: { bucketUri: d.bucket, allowedImagePrefixes: ALLOWED } });
  await assert.rejects(prepare({ run: { ...referenceRun(validateSpec(d.spec)), datasetUri, artifactRoot: join(d.bucket, 'artifacts') } }, ctx), failedAt('image', ECR));
});
