// The pinned toolchain: `npx sst` resolves to the pinned SST 3.x, the tests run against exactly the @pulumi/* that
// SST ships, and a deploy that resolves another @pulumi/aws fails with what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { checkPulumiAws, PINNED, VersionMismatch } from '../../infra/versions.js';

const root = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const installed = (name: string) =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

test('package.json pins sst, @pulumi/aws and @pulumi/pulumi exactly to PINNED, and those are what is installed', () => {
  assert.equal(pkg.devDependencies['sst'], PINNED.sst);
  assert.equal(pkg.devDependencies['@pulumi/aws'], PINNED.pulumiAws);
  assert.equal(pkg.devDependencies['@pulumi/pulumi'], PINNED.pulumiPulumi);
  assert.equal(installed('sst'), PINNED.sst);
  assert.equal(installed('@pulumi/aws'), PINNED.pulumiAws);
  assert.equal(installed('@pulumi/pulumi'), PINNED.pulumiPulumi);
});

test('npx sst resolves to the pinned CLI in node_modules/.bin, not a download', () => {
  const bin = join(root, 'node_modules/.bin/sst');
  assert.ok(existsSync(bin), 'node_modules/.bin/sst is installed');
  assert.match(realpathSync(bin), /node_modules\/sst\//);
  // npm exec (what npx runs) puts the project's node_modules/.bin first on PATH: the first `sst` found there is
  // the one `npx sst` runs. Asked offline, so nothing could be fetched.
  const probe = `const { existsSync, realpathSync } = require('node:fs'); const { join } = require('node:path');
    const dir = process.env.PATH.split(':').find((d) => existsSync(join(d, 'sst')));
    process.stdout.write(dir ? realpathSync(join(dir, 'sst')) : '');`;
  const r = spawnSync('npm', ['exec', '--offline', '--', 'node', '-e', probe], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, realpathSync(bin));
});

test('a deploy with another @pulumi/aws is refused with what to do', () => {
  assert.doesNotThrow(() => checkPulumiAws(PINNED.pulumiAws));
  assert.doesNotThrow(() => checkPulumiAws(`v${PINNED.pulumiAws}`));
  for (const other of ['7.0.0', '7.12.1', '6.83.4']) {
    assert.throws(() => checkPulumiAws(other), (e: unknown) => {
      assert.ok(e instanceof VersionMismatch);
      assert.ok(e.message.includes(other) && e.message.includes(PINNED.sst) && e.message.includes('npx sst deploy'));
      return true;
    });
  }
});

test('sst.config.ts references SST platform types, and run() checks versions before building anything', () => {
  const src = readFileSync(join(root, 'sst.config.ts'), 'utf8');
  assert.equal(src.split('\n')[0], '/// <reference path="./.sst/platform/config.d.ts" />');
  const run = src.slice(src.indexOf('async run()'));
  assert.ok(run.indexOf('assertDeployVersions') > -1 && run.indexOf('assertDeployVersions') < run.indexOf('sentinel('));
});
