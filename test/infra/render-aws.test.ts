// `sentinel render`'s AWS documents: valid ASL, well-formed IAM documents without wildcard actions, every route and
// schedule written with the placeholder bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { renderAws } from '../../cli/render-aws.js';
import { deployedLambdas, routeSettings, sentinelConfig } from '../../infra/config.js';
import { deploymentArns, WILDCARD_RESOURCE_ACTIONS } from '../../infra/iam.js';
import { routesFor, schedulesFor } from '../../events/routes.js';

const aslValidator = createRequire(import.meta.url)('asl-validator') as (d: unknown) => { isValid: boolean; errors: unknown[] };

test('renderAws writes the ASL, every IAM document, every pattern and schedule', async () => {
  const out = await mkdtemp(join(tmpdir(), 'sentinel-render-aws-'));
  try {
    const opts = { stage: 'dev', region: 'us-east-1', account: '000000000000', bucket: 'my-placeholder-bucket' };
    const files = await renderAws(out, opts);
    const rel = files.map((f) => relative(out, f));
    const read = async (r: string) => JSON.parse(await readFile(join(out, r), 'utf8'));

    const asl = await read('statemachines/pipeline.asl.json');
    const v = aslValidator(asl);
    assert.ok(v.isValid, JSON.stringify(v.errors));
    assert.equal(asl.States.PrepareRun.Resource, 'arn:aws:lambda:us-east-1:000000000000:function:sentinel-dev-prepare-run');

    const cfg = sentinelConfig('dev', { region: 'us-east-1' });
    for (const f of deployedLambdas(cfg)) assert.ok(rel.includes(`iam/functions/${f}.json`), f);
    const policies = rel.filter((r) => r.startsWith('iam/') && !r.endsWith('trust.json'));
    assert.ok(policies.includes('iam/state-machine.json'));
    for (const r of [...policies, ...rel.filter((x) => x.startsWith('resource-policies/'))]) {
      const doc = await read(r);
      assert.equal(doc.Version, '2012-10-17', r);
      assert.ok(Array.isArray(doc.Statement) && doc.Statement.length > 0, r);
      for (const s of doc.Statement) {
        assert.ok(s.Effect === 'Allow' || s.Effect === 'Deny', r);
        assert.ok(Array.isArray(s.Action) && s.Action.length, r);
        assert.ok(Array.isArray(s.Resource) && s.Resource.length, r);
        // Allow statements never use a wildcard action; the only wildcard actions are the resource policies'
        // Deny-everything-over-plain-HTTP statements.
        if (s.Effect === 'Allow') for (const a of s.Action) assert.ok(!a.includes('*'), `${r}: ${a}`);
        else assert.deepEqual(s.Condition, { Bool: { 'aws:SecureTransport': 'false' } }, `${r}: a Deny is only the TLS guard`);
        if (s.Effect === 'Allow' && s.Resource.includes('*')) for (const a of s.Action) assert.ok(WILDCARD_RESOURCE_ACTIONS[a], `${r}: ${a} on *`);
      }
    }
    const fnPolicy = await read('iam/functions/prepare-run.json');
    assert.ok(fnPolicy.Statement.some((s: { Resource: string[] }) => s.Resource.includes('arn:aws:s3:::my-placeholder-bucket/datasets/*')));

    const settings = routeSettings(cfg, 'my-placeholder-bucket', deploymentArns(cfg, { account: opts.account }).stateMachine);
    for (const route of routesFor(settings)) assert.deepEqual((await read(`events/rules/${route.name}.json`)).pattern, route.pattern);
    assert.deepEqual((await read('events/rules/dataset-uploaded.json')).pattern.detail.bucket.name, ['my-placeholder-bucket']);
    for (const s of schedulesFor(settings)) assert.equal((await read(`events/schedules/${s.name}.json`)).expression, s.expression);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
