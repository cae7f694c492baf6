// Error messages that echo input echo at most MAX_ECHO characters of it (core/errors.ts capEcho): a 6 MB name, key
// or line comes back as its start, an elision mark and its length, never whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { capEcho, MAX_ECHO, MAX_ERROR_MESSAGE, SentinelError, ErrorNames } from '../../core/errors.js';
import { validateSpec } from '../../core/spec.js';
import { jobNameFor } from '../../core/names.js';
import { checkCsvHeader } from '../../core/csv-header.js';
import { decodeStageInput } from '../../core/stage-input-wire.js';
import { createStartRunHandler } from '../../functions/start-run.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { referenceSpec } from '../support/reference.js';

const SIX_MB = 6 * 1024 * 1024;
const big = (c = 'A') => c.repeat(SIX_MB);
const ctx = { functionName: 'test', awsRequestId: 'r' } as Context;

/** The error is `name`, says how long the input was, and holds no run of it longer than MAX_ECHO. */
function capped(e: unknown, name: string, c = 'A'): true {
  assert.ok(e instanceof Error);
  assert.equal(e.name, name);
  assert.ok(e.message.length < 2 * MAX_ECHO + 400, `message of ${e.message.length} characters`);
  assert.ok(!e.message.includes(c.repeat(MAX_ECHO + 1)), 'no more than MAX_ECHO characters of the input');
  assert.match(e.message, /… \(\d{7,} characters\)/);
  return true;
}

test('capEcho keeps short text, cuts long text with its length, never inside a surrogate pair', () => {
  assert.equal(capEcho('short'), 'short');
  assert.equal(capEcho('x'.repeat(MAX_ECHO)), 'x'.repeat(MAX_ECHO));
  assert.equal(capEcho(big()), `${'A'.repeat(MAX_ECHO)}… (${SIX_MB} characters)`);
  const emoji = `${'a'.repeat(MAX_ECHO - 1)}😀tail`;
  assert.equal(capEcho(emoji), `${'a'.repeat(MAX_ECHO - 1)}… (${emoji.length} characters)`);
});

test('a 6 MB pipeline name to start-run comes back capped, and is never used as a key', async () => {
  const bucket = mkdtempSync(join(tmpdir(), 'sentinel-caps-'));
  const started: unknown[] = [];
  const handler = createStartRunHandler({
    executions: { start: async (name, input) => (started.push({ name, input }), { executionId: name, alreadyStarted: false }) },
    store: new LocalObjectStore(),
    bucketUri: bucket,
    artifactRoot: join(bucket, 'artifacts'),
  });
  await assert.rejects(handler({ kind: 'manual', pipeline: big(), requestId: 'q1' }, ctx), (e) => capped(e, 'ValidationFailed'));
  assert.deepEqual(started, []);
});

test('spec validation: a 6 MB unknown key, metric or name comes back capped', () => {
  assert.throws(() => validateSpec({ ...referenceSpec(), [big()]: 1 }), (e) => capped(e, 'ValidationFailed'));
  assert.throws(() => validateSpec({ ...referenceSpec(), gate: { ...referenceSpec().gate, metric: big() } }), (e) => capped(e, 'ValidationFailed'));
  assert.throws(() => validateSpec({ ...referenceSpec(), name: big() }), (e: Error) => e.name === 'ValidationFailed' && e.message.length < 400);
  assert.throws(() => validateSpec({ ...referenceSpec(), stages: { tune: { searchSpace: { [big()]: { type: 'nope' } } } } }), (e) => capped(e, 'ValidationFailed'));
});

test('job names, CSV headers and the stage input variable echo at most MAX_ECHO characters', () => {
  assert.throws(() => jobNameFor(big('a'), 'r000000001', 'train', 1), (e) => capped(e, 'ValidationFailed', 'a'));
  // The quick header check before any compute: the first line of whatever file was uploaded.
  assert.throws(() => checkCsvHeader(`root:x:0:0:root:/root:/bin/bash${big()}\n`, 'target', 'datasets/x.csv'), (e) => capped(e, 'ValidationFailed'));
  assert.throws(() => checkCsvHeader(`${big()},${big()}\n`, 'target', 'datasets/x.csv'), (e) => capped(e, 'ValidationFailed'));
  assert.throws(() => decodeStageInput(Buffer.from(`{"a": ${big('1')}x}`).toString('base64')), (e: Error) => e.name === 'ValidationFailed' && e.message.length < 2 * MAX_ECHO + 200);
});

test('SentinelError is the backstop: `where` at most MAX_ECHO characters, the message at most MAX_ERROR_MESSAGE', () => {
  const e = new SentinelError(ErrorNames.ValidationFailed, `bad: ${big()}`, big('w'));
  assert.equal(e.where, capEcho(big('w')));
  assert.ok(e.message.length <= MAX_ERROR_MESSAGE + 40, `${e.message.length}`);
  assert.match(e.message, /… \(\d+ characters\)$/);
  assert.equal(new SentinelError(ErrorNames.ValidationFailed, 'short', 'spec.name').message, 'spec.name: short');
});
