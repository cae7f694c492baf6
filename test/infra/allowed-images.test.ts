// Issue 14 item 4: infra/config.ts allowedImagePrefixes (plus the deployment's own ECR registry, always) reaches the
// functions as SENTINEL_ALLOWED_IMAGE_PREFIXES, which the start-run and prepare-run entries read; the shipped
// pipelines' images are allowed by the base configuration, and a prefix that is not a registry path is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { sentinelConfig, resourceNames, imagePrefixes } from '../../infra/config.js';
import { lambdaEnvironment } from '../../infra/functions.js';
import { deploymentArns } from '../../infra/iam.js';
import { ENV, allowedImagePrefixes } from '../../functions/aws/deps.js';
import { imageAllowed } from '../../core/deployed-spec.js';
import { repoRoot } from '../support/reference.js';

test('allowedImagePrefixes reaches the functions with the own ECR registry first, and the entries read it back', () => {
  const cfg = sentinelConfig('dev', { region: 'eu-west-1', allowedImagePrefixes: ['ghcr.io/my-org/', 'registry.example.com:5000/ml/'] });
  const env = lambdaEnvironment(cfg, resourceNames(cfg), deploymentArns(cfg, { account: '210987654321' }), []);
  const set = env[ENV.allowedImagePrefixes];
  assert.ok(set, `${ENV.allowedImagePrefixes} is set on the functions`);
  const saved = process.env[ENV.allowedImagePrefixes];
  process.env[ENV.allowedImagePrefixes] = set;
  try {
    assert.deepEqual(allowedImagePrefixes(), ['210987654321.dkr.ecr.eu-west-1.amazonaws.com/', 'ghcr.io/my-org/', 'registry.example.com:5000/ml/']);
  } finally {
    if (saved === undefined) delete process.env[ENV.allowedImagePrefixes];
    else process.env[ENV.allowedImagePrefixes] = saved;
  }
  // No extra prefixes: the own registry alone.
  const own = sentinelConfig('dev', { region: 'eu-west-1', allowedImagePrefixes: [] });
  assert.equal(lambdaEnvironment(own, resourceNames(own), deploymentArns(own, { account: '210987654321' }), [])[ENV.allowedImagePrefixes], '210987654321.dkr.ecr.eu-west-1.amazonaws.com/');
});

test('the base configuration allows the images of the shipped pipeline specs', () => {
  const prefixes = imagePrefixes(sentinelConfig('dev'), '123456789012');
  for (const f of readdirSync(join(repoRoot, 'pipelines')).filter((f) => f.endsWith('.yaml'))) {
    const image = (parse(readFileSync(join(repoRoot, 'pipelines', f), 'utf8')) as { image: string }).image;
    assert.ok(imageAllowed(image, prefixes), `${f}: ${image}`);
  }
});

test('a prefix that is not a registry path ending in "/" is refused, by name', () => {
  for (const bad of ['ghcr.io/sentinel', '', 'docker.io', 'https://ghcr.io/x/'])
    assert.throws(() => sentinelConfig('dev', { allowedImagePrefixes: [bad] }), (e: Error) => e.message.includes(`allowedImagePrefixes "${bad}"`), bad);
});
