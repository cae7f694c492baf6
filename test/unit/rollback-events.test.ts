// `sentinel rollback` with no live session publishes `Model Rolled Back` on a local bus with the deployment's
// run-events rule, so the notify handler sends it where the pipeline's deployed spec says (a webhook on this machine
// here), and records the event with the rollback (its --json output and rollbacks/<time>.json). A webhook that fails
// is a warning that names the error, never the URL; the rollback stands. The handler's logs stay out of stdout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { rollbackCommand } from '../../cli/rollback.js';
import { referenceSpec } from '../support/harness.js';
import type { Champion, ChampionRecord } from '../../core/model.js';
import { RUN_EVENT_TYPES } from '../../core/run-event-names.js';

const PIPELINE = 'breast-cancer';

function champion(runId: string, value: number): Champion {
  const modelUri = `/models/${runId}/train/model`;
  return {
    runId,
    modelUri,
    metric: 'roc_auc',
    value,
    promotedAt: '2026-12-01T10:00:00.000Z',
    serveConfig: { name: PIPELINE, route_prefix: '/predict', import_path: 'sentinel_sdk.serving:app', args: { model_uri: modelUri, run_id: runId, pipeline: PIPELINE, max_rows: 1000 } },
  };
}

/** A home whose champion r000000002 replaced r000000001, and whose deployed spec notifies `webhook` of rollbacks. */
function home(webhook: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-rollback-'));
  const artifacts = join(dir, 'bucket', 'artifacts', PIPELINE);
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(artifacts, 'champion.json'), JSON.stringify({ pipeline: PIPELINE, current: champion('r000000002', 0.99), previous: champion('r000000001', 0.9) } satisfies ChampionRecord));
  mkdirSync(join(dir, 'bucket', 'pipelines'), { recursive: true });
  writeFileSync(join(dir, 'bucket', 'pipelines', `${PIPELINE}.yaml`), stringify({ ...referenceSpec(), notify: { webhookUrl: webhook, on: ['rolledBack'] } }));
  return { dir, artifacts };
}

async function webhookServer(status: number) {
  const bodies: Array<{ text: string }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(body) as { text: string });
      res.writeHead(status, { connection: 'close' }).end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/secret-token`;
  return { bodies, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Runs the command in this process with stdout and stderr captured. */
async function rollback(args: string[]) {
  let out = '';
  let err = '';
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  // The command writes strings; the test runner's own messages to its parent (buffers) pass through.
  const capture = (write: typeof process.stdout.write, add: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => (typeof chunk === 'string' ? (add(chunk), true) : (write as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest))) as typeof process.stdout.write;
  process.stdout.write = capture(writeOut, (s) => (out += s));
  process.stderr.write = capture(writeErr, (s) => (err += s));
  try {
    const code = await rollbackCommand(args);
    return { code, out, err };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
}

test('rollback publishes Model Rolled Back: notified as the spec says, recorded with the rollback, logs off stdout', async () => {
  const hook = await webhookServer(200);
  try {
    const h = home(hook.url);
    const r = await rollback([PIPELINE, '--reason', 'bad canary', '--json', '--home', h.dir]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const change = JSON.parse(r.out); // stdout is the JSON alone: the notify handler logged to <home>/logs/handlers.log
    assert.deepEqual({ from: change.from, to: change.to, reason: change.reason, where: change.where }, { from: 'r000000002', to: 'r000000001', reason: 'bad canary', where: 'recorded' });
    assert.equal(change.event['detail-type'], RUN_EVENT_TYPES.rolledBack);
    assert.equal(change.event.source, 'sentinel.runs');
    assert.deepEqual(
      { pipeline: change.event.detail.pipeline, runId: change.event.detail.runId, from: change.event.detail.from, reason: change.event.detail.reason, champion: change.event.detail.champion.runId },
      { pipeline: PIPELINE, runId: 'r000000001', from: 'r000000002', reason: 'bad canary', champion: 'r000000001' },
    );
    const records = readdirSync(join(h.artifacts, 'rollbacks'));
    assert.equal(records.length, 1);
    assert.deepEqual(JSON.parse(readFileSync(join(h.artifacts, 'rollbacks', records[0]!), 'utf8')).event, change.event);
    assert.equal(hook.bodies.length, 1);
    assert.match(hook.bodies[0]!.text, /breast-cancer rolled back to r000000001/);
    assert.match(hook.bodies[0]!.text, /was r000000002\): bad canary/);
    // The handler's log file (empty when the suite silences Powertools), never with the webhook URL in it.
    assert.doesNotMatch(readFileSync(join(h.dir, 'logs', 'handlers.log'), 'utf8'), /secret-token/, 'the webhook URL is never logged');
    const now = JSON.parse(readFileSync(join(h.artifacts, 'champion.json'), 'utf8')) as ChampionRecord;
    assert.equal(now.current.runId, 'r000000001');
    assert.equal(now.previous?.runId, 'r000000002');
  } finally {
    await hook.close();
  }
});

test('a webhook that fails: the rollback stands, a warning names the error and not the URL', async () => {
  const hook = await webhookServer(500);
  try {
    const h = home(hook.url);
    const r = await rollback([PIPELINE, '--reason', 'e2e', '--json', '--home', h.dir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /warning: the rollback's notification was not sent: NotificationFailed/);
    assert.doesNotMatch(r.err, /secret-token/);
    const change = JSON.parse(r.out);
    assert.equal(change.event['detail-type'], RUN_EVENT_TYPES.rolledBack);
    assert.equal(hook.bodies.length >= 1, true, 'the webhook was tried');
    const now = JSON.parse(readFileSync(join(h.artifacts, 'champion.json'), 'utf8')) as ChampionRecord;
    assert.equal(now.current.runId, 'r000000001');
  } finally {
    await hook.close();
  }
});
