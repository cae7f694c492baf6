// Run events (events/run-events.ts), where core publishes them, their patterns on the matcher checked against AWS's
// event-ruler, notifications (real HTTP to a local webhook server), staleness, and an execution's early end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { matches } from '../../events/match.js';
import { executionEndedPattern, jobCompletedPattern } from '../../events/patterns.js';
import { routesFor } from '../../events/routes.js';
import { modelPromotedPattern, parseRunEvent, runEvent, runEventsPattern, RUN_EVENT_SOURCE, RUN_EVENT_TYPES } from '../../events/run-events.js';
import { jobStateChangeEvent } from '../../events/job-state-change.js';
import { notify, NotifySchema, NOTIFICATION_FAILED, type NotifyConfig } from '../../core/notify.js';
import { armStaleCheck, checkStaleness, durationSeconds, stalenessOf } from '../../core/staleness.js';
import { executionEnded } from '../../core/execution-ended.js';
import { finishRun } from '../../core/finish-run.js';
import { promote, rollback } from '../../core/promote.js';
import { prepareRun } from '../../core/prepare-run.js';
import { championUri, runRecordUri } from '../../core/artifacts.js';
import { validateSpec } from '../../core/spec.js';
import { pipelineSpecUri } from '../../core/triggers.js';
import type { BusEvent, OneTimeSchedulesPort } from '../../core/ports.js';
import type { RunRecord } from '../../core/model.js';
import { HttpWebhook } from '../../adapters/http/webhook.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { LocalEventBus } from '../../local/event-bus.js';
import { FileTokenStore } from '../../local/token-store.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { createNotifyHandler } from '../../functions/notify.js';
import { createExecutionEndedHandler } from '../../functions/execution-ended.js';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { awsSample } from '../support/events.js';
import { referenceRun, referenceSpec } from '../support/reference.js';
import { systemClock } from '../../core/ports.js';

let tmp: string;
let server: Server;
let hookUrl: string;
const posts: Array<{ path: string; type: string | undefined; body: unknown }> = [];
let answer = 200;
let delayMs = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sentinel-run-events-'));
  server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', type: req.headers['content-type'], body: JSON.parse(data) });
      setTimeout(() => {
        res.statusCode = answer;
        res.end('ok');
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  hookUrl = `http://127.0.0.1:${port}/services/T000/B000/s3cr3t-token`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await rm(tmp, { recursive: true, force: true });
});

const NOW = new Date('2026-12-01T12:00:00.000Z');
const champion = { runId: 'r0123456789'.slice(0, 10), metric: 'roc_auc', value: 0.99, promotedAt: '2026-11-01T00:00:00.000Z' };
const envelope = (e: BusEvent) => ({ version: '0', id: 'x', account: '1', region: 'us-east-1', time: e.time, resources: e.resources, source: e.source, 'detail-type': e['detail-type'], detail: e.detail });

test('builders: each kind validates its detail; parse gives it back; a bad detail fails in the builder', () => {
  const e = runEvent('promoted', { pipeline: 'iris', runId: 'r0123abcde', champion, endpoint: 'http://x/predict' }, NOW);
  assert.equal(e.source, RUN_EVENT_SOURCE);
  assert.equal(e['detail-type'], 'Model Promoted');
  assert.deepEqual(e.resources, ['iris/r0123abcde']);
  const back = parseRunEvent(envelope(e));
  assert.equal(back?.kind, 'promoted');
  assert.throws(() => runEvent('failed', { pipeline: 'iris', runId: 'r0123abcde', endedAt: 'yesterday', error: 'E', cause: 'c' }, NOW), (err: Error) => err.name === 'ZodError' && /endedAt/.test(err.message));
  assert.equal(parseRunEvent({ source: RUN_EVENT_SOURCE, 'detail-type': 'Model Promoted', detail: { pipeline: 'iris' } }), undefined);
  assert.equal(parseRunEvent({ source: 'sentinel.jobs', 'detail-type': 'Model Promoted', detail: e.detail }), undefined);
  assert.deepEqual(Object.values(RUN_EVENT_TYPES), ['Run Started', 'Run Succeeded', 'Run Failed', 'Model Promoted', 'Champion Kept', 'Model Rolled Back', 'Model Stale']);
});

test('patterns: another pipeline triggers on one pipeline\'s promotions; the notify rule takes every run event and no job event', () => {
  const promoted = envelope(runEvent('promoted', { pipeline: 'iris', runId: 'r0123abcde', champion, endpoint: 'e' }, NOW));
  const otherPipeline = envelope(runEvent('promoted', { pipeline: 'diabetes', runId: 'r0123abcde', champion, endpoint: 'e' }, NOW));
  const kept = envelope(runEvent('kept', { pipeline: 'iris', runId: 'r0123abcde', reason: 'no gain', metrics: {} }, NOW));
  assert.deepEqual(modelPromotedPattern('iris'), { source: ['sentinel.runs'], 'detail-type': ['Model Promoted'], detail: { pipeline: ['iris'] } });
  assert.equal(matches(modelPromotedPattern('iris'), promoted), true);
  assert.equal(matches(modelPromotedPattern('iris'), otherPipeline), false);
  assert.equal(matches(modelPromotedPattern('iris'), kept), false);
  const notifyRoute = routesFor({ bucket: 'b', pipelines: [] }).find((r) => r.target === 'notify')!;
  for (const e of [promoted, otherPipeline, kept]) assert.equal(matches(notifyRoute.pattern, e), true);
  const job = jobStateChangeEvent('kuberay', { jobId: 'iris-r0123abcde-train-1', state: 'FAILED', labels: {} }, 's3://b/a', NOW)!;
  assert.equal(matches(notifyRoute.pattern, envelope(job)), false);
  assert.equal(matches(jobCompletedPattern, promoted), false);
  assert.equal(matches(runEventsPattern({ kinds: ['failed', 'stale'] }), promoted), false);
});

test('execution ended: the documented FAILED sample matches for its state machine; SUCCEEDED and other machines do not', () => {
  const sample = awsSample('sfn-execution-status-change');
  const arn = sample.detail.stateMachineArn as string;
  assert.equal(matches(executionEndedPattern(arn), sample), true);
  for (const status of ['ABORTED', 'TIMED_OUT']) assert.equal(matches(executionEndedPattern(arn), { ...sample, detail: { ...sample.detail, status } }), true, status);
  for (const status of ['SUCCEEDED', 'RUNNING']) assert.equal(matches(executionEndedPattern(arn), { ...sample, detail: { ...sample.detail, status } }), false, status);
  assert.equal(matches(executionEndedPattern(`${arn}-other`), sample), false);
});

test('spec: notify and staleAfter are validated where they are, and a bad webhook URL is not echoed', () => {
  const ok = validateSpec({ ...referenceSpec(), notify: { topic: true, webhookUrlEnv: 'SLACK_URL', on: ['failed', 'promoted'] }, staleAfter: '30d' });
  assert.deepEqual(ok.notify, { topic: true, webhookUrlEnv: 'SLACK_URL', on: ['failed', 'promoted'] });
  const bad = (notify: unknown, staleAfter?: string) => {
    try {
      validateSpec({ ...referenceSpec(), notify, ...(staleAfter ? { staleAfter } : {}) });
    } catch (e) {
      return e as Error;
    }
    assert.fail('accepted');
  };
  const insecure = bad({ webhookUrl: 'http://hooks.example.com/secret-path-123' });
  assert.equal(insecure.name, 'ValidationFailed');
  assert.match(insecure.message, /notify\.webhookUrl/);
  assert.doesNotMatch(insecure.message, /secret-path-123/);
  assert.match(bad({ on: ['promoted'] }).message, /notify\.topic/);
  assert.match(bad({ topic: true, on: ['bogus'] }).message, /notify\.on/);
  assert.match(bad({ webhookUrl: 'https://h/x', webhookUrlEnv: 'X' }).message, /notify\.webhookUrlEnv/);
  assert.match(bad({ topic: true }, '30 days').message, /staleAfter/);
  assert.equal(durationSeconds('90m'), 5400);
  assert.equal(durationSeconds('2d'), 172_800);
});

test('notify: a Slack-compatible JSON POST to a real local webhook; only the kinds asked for; the URL never in an error', async () => {
  const cfg: NotifyConfig = NotifySchema.parse({ webhookUrlEnv: 'HOOK', on: ['failed', 'promoted'] });
  const deps = { configFor: async (p: string) => (p === 'iris' ? cfg : undefined), webhook: new HttpWebhook({ timeoutMs: 10_000 }), env: { HOOK: hookUrl } };
  posts.length = 0;
  const failed = envelope(runEvent('failed', { pipeline: 'iris', runId: 'r0123abcde', endedAt: NOW.toISOString(), error: 'RayJobFailed', cause: 'exit code 1', stage: 'TrainFailed' }, NOW));
  assert.deepEqual(await notify(failed, deps), { sent: ['webhook'], kind: 'failed', pipeline: 'iris' });
  assert.equal(posts.length, 1);
  assert.equal(posts[0]!.path, '/services/T000/B000/s3cr3t-token');
  assert.equal(posts[0]!.type, 'application/json');
  const text = (posts[0]!.body as { text: string }).text;
  assert.deepEqual(Object.keys(posts[0]!.body as object), ['text']);
  assert.match(text, /iris r0123abcde failed/);
  assert.match(text, /RayJobFailed: exit code 1/);

  const started = envelope(runEvent('started', { pipeline: 'iris', runId: 'r0123abcde', startedAt: NOW.toISOString(), trigger: 'manual', datasetUri: 'd' }, NOW));
  assert.deepEqual(await notify(started, deps), { skipped: 'kind not notified', kind: 'started', pipeline: 'iris' });
  assert.deepEqual(await notify({ ...failed, detail: { ...(failed.detail as object), pipeline: 'diabetes' } }, deps), { skipped: 'no notify config', kind: 'failed', pipeline: 'diabetes' });
  assert.deepEqual(await notify({ source: 'aws.s3', detail: {} }, deps), { skipped: 'not a run event' });
  assert.equal(posts.length, 1);

  for (const [status, delay, timeoutMs, want] of [[500, 0, 10_000, /HTTP 500/], [200, 1500, 200, /timed out after 200 ms/]] as const) {
    answer = status;
    delayMs = delay;
    const err = await notify(failed, { ...deps, webhook: new HttpWebhook({ timeoutMs }) }).then(() => undefined, (e: Error) => e);
    assert.equal(err?.name, NOTIFICATION_FAILED);
    assert.match(err!.message, want);
    assert.doesNotMatch(err!.message, /s3cr3t|services/);
  }
  answer = 200;
  delayMs = 0;
  const unset = await notify(failed, { ...deps, env: {} }).then(() => undefined, (e: Error) => e);
  assert.match(unset!.message, /HOOK is not set/);
  // topic: true without a topic (locally): reported, and the webhook still gets it.
  posts.length = 0;
  const both = NotifySchema.parse({ topic: true, webhookUrl: hookUrl });
  const err = await notify(failed, { ...deps, configFor: async () => both }).then(() => undefined, (e: Error) => e);
  assert.match(err!.message, /no notifications topic.*\(sent: webhook\)/);
  assert.equal(posts.length, 1);
});

test('notify handler on the local bus: a run event put on the bus reaches the webhook named by the deployed spec', async () => {
  const bucket = join(tmp, 'bus-bucket');
  const store = new LocalObjectStore();
  const spec = { ...referenceSpec(), notify: { webhookUrl: hookUrl, on: ['promoted'] } };
  await store.putJson(pipelineSpecUri(bucket, 'breast-cancer').replace(/\.yaml$/, '.json'), {}); // a neighbour that is not the spec
  const { writeFile, mkdir } = await import('node:fs/promises');
  await mkdir(join(bucket, 'pipelines'), { recursive: true });
  await writeFile(pipelineSpecUri(bucket, 'breast-cancer'), stringify(spec));
  const bus = new LocalEventBus();
  const handler = createNotifyHandler({ store, bucketUri: bucket, artifactRoot: join(bucket, 'artifacts'), webhook: new HttpWebhook(), publisher: bus });
  const route = routesFor({ bucket: 'b', pipelines: [] }).find((r) => r.target === 'notify')!;
  bus.addRule({ name: route.name, pattern: route.pattern, target: async (e) => void (await handler(e, lambdaContext('notify'))) });
  posts.length = 0;
  await bus.publish([runEvent('promoted', { pipeline: 'breast-cancer', runId: 'r0123abcde', champion, endpoint: 'http://127.0.0.1:8000/predict' }, NOW)]);
  await bus.publish([runEvent('kept', { pipeline: 'breast-cancer', runId: 'r0123abcde', reason: 'no gain', metrics: {} }, NOW)]);
  assert.equal(posts.length, 1);
  assert.match((posts[0]!.body as { text: string }).text, /breast-cancer promoted r0123abcde/);
  assert.deepEqual(bus.log.map((l) => l.matched), [['run-events-notify'], ['run-events-notify']]);
});

test('prepare, finish and promote publish Run Started, Succeeded + Champion Kept, Failed, Model Promoted; rollback Model Rolled Back', async () => {
  const root = join(tmp, 'lifecycle');
  const store = new LocalObjectStore();
  const published: BusEvent[] = [];
  const publisher = { publish: async (e: BusEvent[]) => void published.push(...e) };
  const spec = validateSpec({ ...referenceSpec(), staleAfter: '30d' });
  const run = { ...referenceRun(spec), artifactRoot: join(root, 'artifacts'), datasetUri: join(root, 'd.csv') };
  const { writeFile, mkdir } = await import('node:fs/promises');
  await mkdir(root, { recursive: true });
  await writeFile(run.datasetUri, 'a,b\n1,2\n');
  const now = () => NOW;
  await prepareRun(run, { store, now, publisher });
  await prepareRun(run, { store, now, publisher }); // redelivered: one record, one Run Started
  assert.deepEqual(published.map((e) => e['detail-type']), ['Run Started']);

  const compute = new FakeCompute();
  const tokens = new FileTokenStore(join(root, 'tokens'));
  const stages = { train: { stage: 'train' as const, jobId: 'j', attempt: 1, resultUri: 'r', metrics: { validation_roc_auc: 0.97 }, artifacts: {}, jobSeconds: 3 } };
  published.length = 0;
  await store.putJson(championUri(run.artifactRoot, run.pipeline), { pipeline: run.pipeline, current: { ...champion, runId: 'r000000001', modelUri: 'm', serveConfig: { name: 'breast-cancer', args: { run_id: 'r000000001' } } } });
  await finishRun({ run, stages, end: { status: 'SUCCEEDED', promoted: false, reason: 'candidate 0.97 < champion 0.99' } }, { store, compute, tokens, now, publisher });
  const [succeeded, kept] = published.map((e) => parseRunEvent(e)!);
  assert.equal(succeeded?.kind, 'succeeded');
  assert.deepEqual(succeeded?.kind === 'succeeded' && [succeeded.detail.promoted, succeeded.detail.metrics], [false, { 'train.validation_roc_auc': 0.97 }]);
  assert.equal(kept?.kind === 'kept' && kept.detail.champion?.runId, 'r000000001');

  published.length = 0;
  await finishRun({ run, end: { status: 'FAILED', error: 'RayJobFailed', cause: 'x'.repeat(5000), failedAt: 'TrainFailed' } }, { store, compute, tokens, now, publisher });
  const failed = parseRunEvent(published[0]!)!;
  assert.equal(failed.kind === 'failed' && failed.detail.stage, 'TrainFailed');
  assert.equal(failed.kind === 'failed' && failed.detail.cause.length, 2000);

  published.length = 0;
  const armed: Array<{ name: string; at: Date; input: unknown }> = [];
  const schedules: OneTimeSchedulesPort = { arm: async (name, at, input) => void armed.push({ name, at, input }) };
  const res = await promote({ run, modelUri: 'file:///m', value: 0.995 }, { serving: new FakeServing(), store, clock: systemClock, now, publisher, staleChecks: { schedules, prefix: 'sentinel-dev' } }, 2000);
  const promoted = parseRunEvent(published[0]!)!;
  assert.equal(promoted.kind, 'promoted');
  assert.equal(promoted.kind === 'promoted' && promoted.detail.previousRunId, 'r000000001');
  // Named for the new champion, not the pipeline: the replaced champion's check (r000000001) is not touched.
  assert.deepEqual(armed, [{ name: `sentinel-dev-stale-${run.runId}-breast-cancer`, at: new Date(NOW.getTime() + 30 * 86_400_000), input: { check: 'staleness', pipeline: 'breast-cancer', runId: run.runId } }]);
  assert.deepEqual(res.staleCheck, { name: `sentinel-dev-stale-${run.runId}-breast-cancer`, at: new Date(NOW.getTime() + 30 * 86_400_000).toISOString() });

  published.length = 0;
  const failing: OneTimeSchedulesPort = { arm: async () => Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })) };
  await rollback({ artifactRoot: run.artifactRoot, pipeline: run.pipeline, reason: 'p99 regression' }, { serving: new FakeServing(), store, clock: systemClock, now, publisher, staleChecks: { schedules: failing, prefix: 'p', staleAfterFor: async () => '30d' } }, 2000);
  const back = parseRunEvent(published[0]!)!;
  assert.equal(back.kind, 'rolledBack');
  assert.deepEqual(back.kind === 'rolledBack' && [back.detail.runId, back.detail.from, back.detail.reason], ['r000000001', run.runId, 'p99 regression']);
});

test('staleness: age against staleAfter; the check publishes Model Stale only for the champion it was armed for, once past its age', async () => {
  assert.deepEqual(stalenessOf({ promotedAt: '2026-11-01T00:00:00.000Z' }, '30d', NOW), { stale: true, ageSeconds: 30.5 * 86_400, staleAt: '2026-12-01T00:00:00.000Z', staleAfter: '30d' });
  assert.equal(stalenessOf({ promotedAt: '2026-11-01T00:00:00.000Z' }, '31d', NOW).stale, false);
  const armed: Date[] = [];
  // Already past its age: checked a minute from now, not in the past (Scheduler refuses past at() times).
  await armStaleCheck({ pipeline: 'p', champion: { runId: 'r0123abcde', promotedAt: '2026-01-01T00:00:00.000Z' }, staleAfter: '1d', schedulePrefix: 's' }, { arm: async (_n, at) => void armed.push(at) }, NOW);
  assert.deepEqual(armed, [new Date(NOW.getTime() + 60_000)]);
  // A long pipeline name is cut to Scheduler's 64 characters, never the run id.
  const long = 'p'.repeat(80);
  const names: string[] = [];
  const r = await armStaleCheck({ pipeline: long, champion: { runId: 'r0123abcde', promotedAt: NOW.toISOString() }, staleAfter: '1d', schedulePrefix: 'sentinel-dev' }, { arm: async (n) => void names.push(n) }, NOW);
  assert.equal(r.name.length, 64);
  assert.ok(r.name.startsWith('sentinel-dev-stale-r0123abcde-ppp'), r.name);
  assert.deepEqual(names, [r.name]);

  const root = join(tmp, 'stale');
  const store = new LocalObjectStore();
  await store.putJson(championUri(root, 'p'), { pipeline: 'p', current: { ...champion, runId: 'r0123abcde', modelUri: 'm', serveConfig: {} } });
  const published: BusEvent[] = [];
  const deps = { store, artifactRoot: root, staleAfterFor: async () => '30d', publisher: { publish: async (e: BusEvent[]) => void published.push(...e) }, now: () => NOW };
  assert.deepEqual(await checkStaleness({ check: 'staleness', pipeline: 'p', runId: 'r000000009' }, deps), { stale: false, pipeline: 'p', reason: 'champion changed' });
  assert.deepEqual(await checkStaleness({ check: 'staleness', pipeline: 'p', runId: 'r0123abcde' }, { ...deps, staleAfterFor: async () => '60d' }), { stale: false, pipeline: 'p', reason: 'not yet' });
  assert.deepEqual(await checkStaleness({ check: 'staleness', pipeline: 'q', runId: 'r0123abcde' }, deps), { stale: false, pipeline: 'q', reason: 'no champion' });
  assert.equal(published.length, 0);
  const res = await checkStaleness({ check: 'staleness', pipeline: 'p', runId: 'r0123abcde' }, deps);
  assert.equal(res.stale, true);
  const e = parseRunEvent(published[0]!)!;
  assert.equal(e.kind, 'stale');
  assert.equal(e.kind === 'stale' && e.detail.staleAfter, '30d');
});

test('execution ended: ABORTED stops the run\'s running jobs, drops their tokens, records CANCELLED with when and why; again: nothing more', async () => {
  const root = join(tmp, 'ended');
  const store = new LocalObjectStore();
  const run = { ...referenceRun(), artifactRoot: join(root, 'artifacts') };
  const compute = new FakeCompute();
  const labels = (stage: string) => ({ 'app.kubernetes.io/managed-by': 'sentinel', 'sentinel.dev/pipeline': run.pipeline, 'sentinel.dev/run': run.runId, 'sentinel.dev/stage': stage });
  const job = (jobId: string, state: 'RUNNING' | 'SUCCEEDED' | 'STOPPED', stage: string, extra = {}) => compute.jobs.set(jobId, { jobId, state, labels: labels(stage), req: {} as never, ...extra });
  job(`${run.pipeline}-${run.runId}-ingest-1`, 'SUCCEEDED', 'ingest');
  job(`${run.pipeline}-${run.runId}-train-1`, 'RUNNING', 'train');
  job(`${run.pipeline}-${run.runId}-tune-1`, 'STOPPED', 'tune', { reason: 'DeadlineExceeded', needsStop: true });
  compute.jobs.set('other-r000000001-train-1', { jobId: 'other-r000000001-train-1', state: 'RUNNING', labels: { ...labels('train'), 'sentinel.dev/run': 'r000000001' }, req: {} as never });
  const tokens = new FileTokenStore(join(root, 'tokens'));
  await tokens.put(`${run.pipeline}-${run.runId}-train-1`, 'tok');
  const startedAt = '2026-12-01T11:00:00.000Z';
  await store.putJson(runRecordUri(run.artifactRoot, run.pipeline, run.runId), { pipeline: run.pipeline, runId: run.runId, status: 'RUNNING', trigger: run.trigger, datasetUri: run.datasetUri, startedAt } satisfies RunRecord);
  const sample = awsSample('sfn-execution-status-change');
  const event = {
    ...sample,
    detail: { ...sample.detail, name: `${run.pipeline}-${run.runId}`, status: 'ABORTED', input: JSON.stringify({ run }), error: null, cause: null, stopDate: Date.parse('2026-12-01T11:30:00.000Z') },
  };
  const published: BusEvent[] = [];
  const handler = createExecutionEndedHandler({ compute, tokens, store, artifactRoot: 'unused', publisher: { publish: async (e) => void published.push(...e) }, now: () => NOW });
  const res = await handler(event, lambdaContext('execution-ended'));
  assert.deepEqual(res.stoppedJobs.sort(), [`${run.pipeline}-${run.runId}-train-1`, `${run.pipeline}-${run.runId}-tune-1`].sort());
  assert.equal(res.record, 'recorded');
  assert.equal(await tokens.get(`${run.pipeline}-${run.runId}-train-1`), undefined);
  assert.equal(compute.jobs.get('other-r000000001-train-1')!.state, 'RUNNING');
  const rec = (await store.getJson<Record<string, unknown>>(runRecordUri(run.artifactRoot, run.pipeline, run.runId)))!;
  assert.equal(rec.status, 'CANCELLED');
  assert.equal(rec.endedAt, '2026-12-01T11:30:00.000Z');
  assert.equal(rec.startedAt, startedAt);
  assert.deepEqual(rec.ended, { by: 'execution-ended', at: '2026-12-01T11:30:00.000Z', reason: 'ABORTED: ExecutionAborted: the execution was stopped (StopExecution)' });
  const failed = parseRunEvent(published[0]!)!;
  assert.equal(failed.kind === 'failed' && failed.detail.stage, 'ABORTED');

  // Redelivered: the record stays, nothing running is left to stop, no second event.
  compute.jobs.get(`${run.pipeline}-${run.runId}-tune-1`)!.needsStop = undefined;
  const again = await handler(event, lambdaContext('execution-ended'));
  assert.deepEqual([again.record, again.status, again.stoppedJobs, published.length], ['already-ended', 'CANCELLED', [], 1]);

  // TIMED_OUT of a run whose input is not in the event: found by the execution's name under the deployment's root.
  const run2 = { ...run, runId: 'r000000aaa' };
  await store.putJson(runRecordUri(run.artifactRoot, run.pipeline, run2.runId), { pipeline: run.pipeline, runId: run2.runId, status: 'RUNNING', trigger: run.trigger, datasetUri: run.datasetUri, startedAt } satisfies RunRecord);
  const timedOut = { ...sample, detail: { ...sample.detail, name: `${run.pipeline}-${run2.runId}`, status: 'TIMED_OUT', input: null, error: null, cause: null } };
  const h2 = createExecutionEndedHandler({ compute, tokens, store, artifactRoot: run.artifactRoot, now: () => NOW });
  const r2 = await h2(timedOut, lambdaContext('execution-ended'));
  assert.deepEqual([r2.record, r2.status], ['recorded', 'FAILED']);
  const rec2 = (await store.getJson<RunRecord>(runRecordUri(run.artifactRoot, run.pipeline, run2.runId)))!;
  assert.deepEqual(rec2.outcome, { error: 'States.Timeout', cause: 'the execution timed out', stage: 'TIMED_OUT' });

  // A rejected input (no run record, a name that is not a run's): nothing to do, and no error.
  const r3 = await h2({ ...sample, detail: { ...sample.detail, input: '{"bad": true}' } }, lambdaContext('execution-ended'));
  assert.deepEqual(r3, { stoppedJobs: [], record: 'no-run' });
  // Not an execution status change: refused by the handler's schema, naming the field.
  await assert.rejects(h2({ ...sample, detail: { ...sample.detail, status: 'SUCCEEDED' } }, lambdaContext('execution-ended')), (e: Error) => e.name === 'ValidationFailed' && /status/.test(e.message));
});
