// The handlers' metrics as Powertools writes them: real CloudWatch EMF on stdout (what a Lambda logs and CloudWatch
// turns into metrics), captured here, not a mock of Powertools. Plus the sink the local runtime uses instead of
// stdout, and the one factory every handler goes through.
//
// scripts/test.sh turns Metrics off for the unit suite (handlers called directly would print EMF); metrics-on turns
// it back on before any handler module (and so Powertools) is loaded.
import '../support/metrics-on.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { referenceSpec, repoRoot } from '../support/reference.js';
import { validateSpec } from '../../core/spec.js';
import { systemClock, type ClusterActivity, type RayClusterInfo } from '../../core/ports.js';
import { METRICS, metricsNamespace, LOCAL_STAGE } from '../../core/metrics.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { FileTokenStore } from '../../local/token-store.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { jobStateChangeEvent } from '../../events/job-state-change.js';
import { labelsFor, parseJobName } from '../../core/names.js';
import type { JobRequest } from '../../core/ports.js';
import { sqsOf } from '../support/events.js';

import { createPromoteHandler } from '../../functions/promote.js';
import { createSubmitStageHandler } from '../../functions/submit-stage.js';
import { createCompleteStageHandler } from '../../functions/complete-stage.js';
import { createWatchJobsHandler } from '../../functions/watch-jobs.js';
import { createReapIdleHandler } from '../../functions/reap-idle.js';
import { createFinishRunHandler } from '../../functions/finish-run.js';
import { InvocationMetrics, useMetricsSink } from '../../functions/lib/metrics.js';

type Emf = { _aws: { Timestamp: number; CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> }; [k: string]: unknown };

/** Runs fn and returns the EMF lines written to stdout meanwhile (everything else passes through). */
async function emfOf(fn: () => Promise<unknown>): Promise<{ lines: Emf[]; raw: string[]; error?: unknown }> {
  const raw: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (!text.startsWith('{"_aws"')) return write(chunk, ...rest);
    raw.push(...text.split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  } finally {
    process.stdout.write = write;
  }
  return { lines: raw.map((l) => JSON.parse(l) as Emf), raw, ...(error ? { error } : {}) };
}
const named = (lines: Emf[], metric: string) => lines.filter((l) => l._aws.CloudWatchMetrics[0]!.Metrics.some((m) => m.Name === metric));
const without = (l: Emf) => {
  const { _aws, ...rest } = l;
  return { directive: { ..._aws.CloudWatchMetrics[0]! }, ...rest };
};

const dir = () => mkdtempSync(join(tmpdir(), 'sentinel-metrics-'));
const run = (root: string, runId = 'r0123456789'.slice(0, 10)) => ({
  pipeline: 'breast-cancer',
  runId,
  trigger: { kind: 'manual' as const, requestId: 'x' },
  artifactRoot: root,
  datasetUri: join(root, 'd.csv'),
  spec: validateSpec(referenceSpec()),
  requestedAt: new Date(0).toISOString(),
});
const NS = metricsNamespace(LOCAL_STAGE);

// First in the file: Powertools' cold-start flag is per process, like a Lambda container's.
test('an invocation emits its metrics as CloudWatch EMF (namespace, dimensions, unit, value, run metadata); ColdStart once, as Powertools emits it', async () => {
  const root = dir();
  const h = createPromoteHandler({ serving: new FakeServing(), store: new LocalObjectStore(), clock: systemClock, now: () => new Date(), readyTimeoutMs: 2000 });
  const first = await emfOf(() => h({ run: run(root), modelUri: '/m1', value: 0.95 }, lambdaContext('sentinel-dev-promote')));
  assert.equal(first.error, undefined);
  const [cold] = named(first.lines, 'ColdStart');
  assert.deepEqual(without(cold!), {
    directive: { Namespace: NS, Dimensions: [['service', 'function_name']], Metrics: [{ Name: 'ColdStart', Unit: 'Count' }] },
    service: 'sentinel',
    function_name: 'sentinel-dev-promote',
    ColdStart: 1,
  });
  const [promoted] = named(first.lines, 'Promotions');
  assert.deepEqual(without(promoted!), {
    directive: { Namespace: NS, Dimensions: [['service', 'Pipeline']], Metrics: [{ Name: 'Promotions', Unit: 'Count' }] },
    pipeline: 'breast-cancer',
    runId: 'r012345678',
    service: 'sentinel',
    Pipeline: 'breast-cancer',
    Promotions: 1,
  });
  assert.ok(Math.abs(promoted!._aws.Timestamp - Date.now()) < 60_000);
  assert.equal(first.lines.length, 2);

  const second = await emfOf(() => h({ run: run(root, 'r99999999a'), modelUri: '/m2', value: 0.97 }, lambdaContext('sentinel-dev-promote')));
  assert.deepEqual(second.lines.map((l) => l._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name), ['Promotions'], 'a warm invocation has no ColdStart');
});

test('a failed invocation counts HandlerErrors by function and error name, with the run when the event names one', async () => {
  const root = dir();
  const h = createSubmitStageHandler({ compute: new FakeCompute(), tokens: new FileTokenStore(join(root, 't')), store: new LocalObjectStore() });
  const { lines, error } = await emfOf(() => h({ taskToken: 't', stage: 'deploy', run: run(root) }, lambdaContext('x')));
  assert.equal((error as Error).name, 'ValidationFailed');
  assert.equal(lines.length, 1);
  assert.deepEqual(without(lines[0]!), {
    directive: { Namespace: NS, Dimensions: [['service', 'Function', 'ErrorName']], Metrics: [{ Name: 'HandlerErrors', Unit: 'Count' }] },
    pipeline: 'breast-cancer',
    runId: 'r012345678',
    service: 'sentinel',
    Function: 'submit-stage',
    ErrorName: 'ValidationFailed',
    HandlerErrors: 1,
  });
});

test('submit-stage: one StageAttempts per created job, a StageRetries named by the failed attempt’s error; no task token in any line', async () => {
  const root = dir();
  const compute = new FakeCompute({ ingest: [{ kind: 'interrupted' }, { kind: 'succeed' }] }, 5);
  const h = createSubmitStageHandler({ compute, tokens: new FileTokenStore(join(root, 't')), store: new LocalObjectStore() });
  const token = (n: number) => `AQB4AAAAKgAAAAMAAAAAAAAAAT-secret-task-token-${n}`;
  const ev = (n: number) => ({ taskToken: token(n), stage: 'ingest', run: run(root) });
  const a = await emfOf(() => h(ev(1), lambdaContext('x')));
  const dup = await emfOf(() => h(ev(2), lambdaContext('x'))); // redelivery while attempt 1 runs: no new job
  await new Promise((r) => setTimeout(r, 30)); // attempt 1 ends interrupted
  const b = await emfOf(() => h(ev(3), lambdaContext('x')));
  assert.deepEqual([a.error, dup.error, b.error], [undefined, undefined, undefined]);
  assert.deepEqual(named(a.lines, 'StageAttempts').map((l) => [l.Pipeline, l.Stage, l.StageAttempts]), [['breast-cancer', 'ingest', 1]]);
  assert.equal(dup.lines.length, 0);
  const [retry] = named(b.lines, 'StageRetries');
  assert.deepEqual(retry!._aws.CloudWatchMetrics[0]!.Dimensions, [['service', 'Pipeline', 'Stage', 'ErrorName']]);
  assert.deepEqual([retry!.Stage, retry!.ErrorName, retry!.StageRetries, retry!.StageAttempts], ['ingest', 'SpotInterrupted', 1, undefined]);
  assert.equal(named(b.lines, 'StageAttempts').length, 1);
  for (const line of [...a.raw, ...dup.raw, ...b.raw]) assert.ok(!line.includes('secret-task-token'), `a task token in ${line}`);
});

test('complete-stage: stage duration from the job’s own times, completion latency from its end to the callback', async () => {
  const root = dir();
  const tokens = new FileTokenStore(join(root, 't'));
  const callbacks = { success: async () => 'ok' as const, failure: async () => 'ok' as const, heartbeat: async () => 'ok' as const };
  const end = Date.parse('2026-01-01T00:10:00Z');
  const compute = new FakeCompute();
  const h = createCompleteStageHandler({ compute, tokens, callbacks, store: new LocalObjectStore(), artifactRoot: root, now: () => new Date(end + 2500) });
  const jobId = 'breast-cancer-r012345678-train-1';
  // The times measured are the compute port's (the event's are only claims).
  compute.jobs.set(jobId, { jobId, state: 'SUCCEEDED', labels: labelsFor(parseJobName(jobId)!), startTime: end - 42_000, endTime: end, req: {} as JobRequest });
  mkdirSync(join(root, 'breast-cancer', 'r012345678', 'train'), { recursive: true });
  writeFileSync(join(root, 'breast-cancer', 'r012345678', 'train', 'result.json'), JSON.stringify({ stage: 'train', metrics: {}, artifacts: {} }));
  await tokens.put(jobId, 'secret-task-token');
  const ev = jobStateChangeEvent('ray-jobs', { jobId, state: 'SUCCEEDED', labels: {}, startTime: 0, endTime: 1 }, root, new Date())!;
  const { lines, raw } = await emfOf(() => h(sqsOf(ev), lambdaContext('x')));
  const values = Object.fromEntries(lines.flatMap((l) => l._aws.CloudWatchMetrics[0]!.Metrics.map((m) => [m.Name, [l[m.Name], m.Unit, l._aws.CloudWatchMetrics[0]!.Dimensions[0]]])));
  assert.deepEqual(values, {
    CompletionLatency: [2.5, 'Seconds', ['service', 'Pipeline']],
    StageDuration: [42, 'Seconds', ['service', 'Pipeline', 'Stage']],
  });
  assert.ok(raw.every((l) => !l.includes('secret-task-token')));
  // A redelivery finds no waiting task: nothing more is measured.
  assert.equal((await emfOf(() => h(sqsOf(ev), lambdaContext('x')))).lines.length, 0);
});

test('finish-run: run duration and the outcome, one line per run', async () => {
  const root = dir();
  const h = createFinishRunHandler({ store: new LocalObjectStore(), compute: new FakeCompute(), tokens: new FileTokenStore(join(root, 't')), now: () => new Date(90_500) });
  const { lines } = await emfOf(() => h({ run: run(root), stages: {}, end: { status: 'FAILED', error: 'RayJobFailed', cause: 'boom', failedAt: 'Train' } }, lambdaContext('x')));
  assert.equal(lines.length, 1, 'same dimensions and run: one EMF line');
  assert.deepEqual(lines[0]!._aws.CloudWatchMetrics[0]!.Metrics, [{ Name: 'RunDuration', Unit: 'Seconds' }, { Name: 'RunsFailed', Unit: 'Count' }]);
  assert.deepEqual([lines[0]!.RunDuration, lines[0]!.RunsFailed], [90.5, 1]);
});

test('the watcher and the reaper report their work each pass', async () => {
  const compute = new FakeCompute({ ingest: [{ kind: 'hang' }] });
  const watch = createWatchJobsHandler({
    compute,
    tokens: { put: async () => undefined, get: async () => 'tok', delete: async () => undefined },
    callbacks: { success: async () => 'ok', failure: async () => 'ok', heartbeat: async () => 'ok' },
    publisher: { publish: async () => undefined },
    now: () => new Date(),
    artifactRoot: '/a',
  });
  await compute.submit({ jobId: 'breast-cancer-r012345678-ingest-1', identity: { pipeline: 'breast-cancer', runId: 'r012345678', stage: 'ingest', attempt: 1 }, module: 'm', input: {}, resources: { cpu: 1, memory: '1Gi', gpu: 0, spot: false }, timeoutSeconds: 60, image: 'i', cluster: { mode: 'ephemeral' }, labels: { 'app.kubernetes.io/managed-by': 'sentinel' } } as never);
  const w = await emfOf(() => watch({ source: 'aws.events' }, lambdaContext('x')));
  assert.equal(w.lines.length, 1);
  assert.deepEqual(w.lines[0]!._aws.CloudWatchMetrics[0]!.Dimensions, [['service']]);
  assert.deepEqual([w.lines[0]!.WatcherJobsSeen, w.lines[0]!.WatcherCompletionsPublished, w.lines[0]!.WatcherHeartbeats], [1, 0, 1]);

  const c = (name: string, owner: RayClusterInfo['owner']): RayClusterInfo => ({ name, namespace: 'ml', suspended: false, owner, createdAt: 0 });
  const reap = createReapIdleHandler({
    reaper: {
      listRayClusters: async () => [c('shared', 'none'), c('eph', 'rayjob'), c('serve', 'rayservice')],
      clusterActivity: async (): Promise<ClusterActivity[]> => [],
      suspend: async () => undefined,
      delete: async () => undefined,
      rayPodsInNodeGroup: async () => 0,
    },
    nodeGroups: { desiredSize: async () => 2, scaleToZero: async () => undefined },
    publisher: { publish: async () => undefined },
    managedNodeGroups: ['spot'],
    idleMs: 60_000,
    now: () => new Date(3_600_000),
  });
  const r = await emfOf(() => reap({}, lambdaContext('x')));
  assert.deepEqual(
    [r.lines[0]!.ReaperClustersSeen, r.lines[0]!.ReaperClustersSuspended, r.lines[0]!.ReaperClustersDeleted, r.lines[0]!.ReaperNodeGroupsScaledToZero],
    [3, 1, 1, 1],
  );
});

test('a sink takes the lines instead of stdout, synchronously, and gets no ColdStart; undone, stdout again', async () => {
  const got: string[] = [];
  const undo = useMetricsSink((l) => got.push(l));
  const m = new InvocationMetrics();
  m.add('WatcherJobsSeen', 3, {});
  m.add('Promotions', 1, { Pipeline: 'p' }, { pipeline: 'p', runId: 'r0000000000'.slice(0, 10), ...{ spec: { secret: 'no' } } } as never);
  const out = await emfOf(async () => m.publish());
  assert.equal(out.lines.length, 0, 'nothing on stdout');
  assert.equal(got.length, 2, 'one line per dimension set, there as soon as publish returns');
  assert.ok(!got.join('').includes('secret'), 'only pipeline and run id travel with a run');
  undo();
  const m2 = new InvocationMetrics();
  m2.add('WatcherJobsSeen', 1, {});
  assert.equal((await emfOf(async () => m2.publish())).lines.length, 1);
});

test('every handler in functions/ is built through the one factory (handlerFor); only it uses middy', () => {
  const dirFns = join(repoRoot, 'functions');
  const files = readdirSync(dirFns).filter((f) => f.endsWith('.ts') && f !== 'schemas.ts');
  assert.ok(files.length >= 10);
  for (const f of files) {
    const src = readFileSync(join(dirFns, f), 'utf8');
    // SQS consumers are built by sqsEventConsumer, which is handlerFor with Powertools' batch processor inside.
    assert.match(src, /(handlerFor|sqsEventConsumer)\('[a-z-]+'/, `${f} builds its handler with handlerFor`);
    assert.doesNotMatch(src, /@middy\/core|injectLambdaContext/, `${f} wires middy itself`);
  }
  for (const f of readdirSync(join(dirFns, 'aws'))) assert.doesNotMatch(readFileSync(join(dirFns, 'aws', f), 'utf8'), /@middy\/core/, `functions/aws/${f}`);
  const batch = readFileSync(join(dirFns, 'lib', 'batch.ts'), 'utf8');
  assert.match(batch, /return handlerFor\(name, SqsBatchEvent/, 'sqsEventConsumer goes through handlerFor');
  assert.doesNotMatch(batch, /@middy\/core/);
});

test('the vocabulary speaks Powertools: every unit is a Powertools unit', () => {
  const units = new Set<string>(Object.values(MetricUnit));
  for (const [name, m] of Object.entries(METRICS)) assert.ok(units.has(m.unit), `${name}: ${m.unit}`);
});
