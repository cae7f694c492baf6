// `sentinel resume RUN --backend aws` against a real AWS-API server (moto in server mode, test/support/moto.ts):
// the command as a user runs it starts one new execution whose input carries core's resume plan; the deployed
// submit-stage handler (functions/submit-stage.ts with the Lambda entry's adapters: S3ObjectStore, DynamoTokenStore,
// SfnTaskCallbacks, all on moto) then answers a reused stage's task itself with the result it copied into the new run,
// and copies the cancelled run's checkpoints (CopyObject) before the continued stage's first attempt. moto does not
// run the states (test/aws/aws-backend.test.ts says what it simulates), so the handler is invoked with the new
// execution's own input, as the state machine would. The compute port is the in-memory one (no Kubernetes here).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { runSentinel, stdoutJson, type CliResult } from '../support/sentinel-cli.js';
import { startMoto, useMotoEnv, repoRoot, ACCOUNT, REGION, type Moto } from '../support/moto.js';
import { FakeCompute } from '../support/fakes.js';
import { definitionJson } from '../../infra/statemachine.js';
import { resourceNames, sentinelConfig } from '../../infra/config.js';
import { STATE_MACHINE_FUNCTIONS, type StateMachineFunction } from '../../workflows/pipeline.js';
import { AwsRunHistory } from '../../adapters/aws/run-history.js';
import { S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { SfnTaskCallbacks } from '../../adapters/aws/sfn.js';
import { DynamoTokenStore, TOKEN_KEY } from '../../adapters/aws/dynamo-tokens.js';
import { createSubmitStageHandler } from '../../functions/submit-stage.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { logger } from '../../functions/lib/logger.js';
import { prepareRun } from '../../core/prepare-run.js';
import { executionNameFor, runIdFor } from '../../core/run-id.js';
import { resumeRequestId } from '../../core/resume.js';
import { jobNameFor } from '../../core/names.js';
import { resultUri, stageUri } from '../../core/artifacts.js';
import type { RunState, StageSummary } from '../../core/model.js';
import type { CallbackResult, TaskCallbacks } from '../../core/ports.js';
import { BACKEND_ENV } from '../../cli/backend.js';

const PIPELINE = 'breast-cancer';
const names = resourceNames(sentinelConfig('test', { region: REGION }));
const BUCKET = names.bucket(ACCOUNT);
const TABLE = names.tokensTable;
const functionArns = Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f) => [f, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${names.function(f)}`])) as Record<StateMachineFunction, string>;

let moto: Moto;
let restoreEnv: () => void;
let sfn: SFNClient;
let s3: S3Client;
let ddb: DynamoDBClient;
let stateMachineArn: string;
const tmp = mkdtempSync(join(tmpdir(), 'sentinel-aws-resume-'));

function sentinel(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...moto.env, [BACKEND_ENV.bucket]: BUCKET, [BACKEND_ENV.stateMachineArn]: stateMachineArn, ...extraEnv };
  return runSentinel(args, tmp, env);
}
const json = stdoutJson;
const keysUnder = async (prefix: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();

/** The Lambda entry's callbacks on moto, remembering what each call handed Step Functions (moto keeps nothing of it). */
class SeenCallbacks implements TaskCallbacks {
  readonly seen: Array<{ kind: 'success' | 'failure'; output?: unknown; error?: string }> = [];
  constructor(private readonly real: SfnTaskCallbacks) {}
  async success(token: string, output: unknown): Promise<CallbackResult> {
    const r = await this.real.success(token, output);
    this.seen.push({ kind: 'success', output });
    return r;
  }
  async failure(token: string, error: string, cause: string): Promise<CallbackResult> {
    const r = await this.real.failure(token, error, cause);
    this.seen.push({ kind: 'failure', error });
    return r;
  }
  heartbeat(token: string) {
    return this.real.heartbeat(token);
  }
}

before(async () => {
  logger.setLogLevel('SILENT'); // the handler's Lambda log lines; the assertions say what happened
  moto = await startMoto();
  restoreEnv = useMotoEnv(moto);
  sfn = new SFNClient({ region: REGION });
  s3 = new S3Client({ region: REGION, forcePathStyle: true });
  ddb = new DynamoDBClient({ region: REGION });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `pipelines/${PIPELINE}.yaml`, Body: readFileSync(join(repoRoot, 'pipelines', `${PIPELINE}.yaml`)) }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `datasets/${PIPELINE}/${PIPELINE}.csv`, Body: 'mean_radius,target\n14.1,1\n20.6,0\n' }));
  await ddb.send(new CreateTableCommand({ TableName: TABLE, KeySchema: [{ AttributeName: TOKEN_KEY, KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: TOKEN_KEY, AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
  const sm = await sfn.send(
    new CreateStateMachineCommand({ name: names.stateMachine, definition: definitionJson(functionArns), roleArn: `arn:aws:iam::${ACCOUNT}:role/${names.role('pipeline')}`, type: 'STANDARD' }),
  );
  stateMachineArn = sm.stateMachineArn!;
});

after(async () => {
  sfn?.destroy();
  s3?.destroy();
  ddb?.destroy();
  restoreEnv?.();
  await moto?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('sentinel resume --backend aws on moto', () => {
  const source = runIdFor(PIPELINE, { kind: 'manual', requestId: 'resume-src' });
  const resumed = runIdFor(PIPELINE, { kind: 'manual', requestId: resumeRequestId(source, 1) });
  const root = () => `s3://${BUCKET}/artifacts`;
  const ckptKeys = ['checkpoint_000004/model.json', 'checkpoint_000004/rank 0/état.pkl', 'experiment_state.json'];

  test('a running run is refused (cancel it first); then the cancelled run resumes as one new execution with the plan in its input', async () => {
    const started = await sentinel(['start', PIPELINE, '--request-id', 'resume-src', '--backend', 'aws', '--json']);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(json<{ runId: string }>(started).runId, source);
    const store = new S3ObjectStore(s3);
    const h = new AwsRunHistory({ bucket: BUCKET, stateMachineArn, sfn, s3 });
    const input = JSON.parse((await sfn.send(new DescribeExecutionCommand({ executionArn: h.executionArn(PIPELINE, source) }))).input!) as RunState;
    await prepareRun(input.run, { store, now: () => new Date() });
    // What the cancelled run had done: ingest finished (its result.json), train wrote checkpoints and was stopped.
    await store.putJson(resultUri(root(), PIPELINE, source, 'ingest'), { stage: 'ingest', metrics: { rows: 2 }, artifacts: { train: `${root()}/${PIPELINE}/${source}/ingest/train.parquet` }, details: { sha256: 'ab'.repeat(32) } });
    for (const k of ckptKeys) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `artifacts/${PIPELINE}/${source}/train/checkpoints/${k}`, Body: `bytes of ${k}` }));

    const running = await sentinel(['resume', source, '--backend', 'aws', '--json']);
    assert.equal(running.code, 1);
    assert.equal(json<{ error: string }>(running).error, 'StillRunning');
    assert.match(running.stderr, new RegExp(`sentinel cancel ${source} --backend aws`), 'says how to stop it, on this backend');

    assert.equal((await h.cancel(PIPELINE, source, 'test: cancelled mid-train')).stopped, true);
    const t0 = Date.now();
    const first = await sentinel(['resume', source.slice(0, 7), '--backend', 'aws', '--json']);
    const wallMs = Date.now() - t0;
    assert.equal(first.code, 0, first.stderr);
    const r = json<{ runId: string; resumeOf: string; executionName: string; executionArn: string; alreadyStarted: boolean; reused: string[]; continueAt: string; checkpointsFrom: string }>(first);
    assert.equal(r.runId, resumed, 'the run id is derived from the source run and the attempt');
    assert.equal(r.resumeOf, source);
    assert.equal(r.executionName, executionNameFor(PIPELINE, resumed));
    assert.equal(r.alreadyStarted, false);
    assert.deepEqual(r.reused, ['ingest']);
    assert.equal(r.continueAt, 'train');
    assert.equal(r.checkpointsFrom, stageUri(root(), PIPELINE, source, 'train'));

    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: r.executionArn }));
    assert.equal(d.status, 'RUNNING');
    const run = (JSON.parse(d.input!) as RunState).run;
    assert.equal(run.runId, resumed);
    assert.deepEqual(run.trigger, { kind: 'manual', requestId: resumeRequestId(source, 1) });
    assert.equal(run.datasetUri, input.run.datasetUri, 'the same dataset as the run it continues');
    assert.deepEqual(run.spec, input.run.spec, 'the deployed spec');
    assert.deepEqual(run.resume, { from: source, attempt: 1, reuse: { ingest: resultUri(root(), PIPELINE, source, 'ingest') }, checkpoints: { train: stageUri(root(), PIPELINE, source, 'train') } });

    // The same command again finds the resume it started; nothing new starts.
    const [again, text, unknown, succeeded] = await Promise.all([
      sentinel(['resume', source, '--backend', 'aws', '--json']),
      sentinel(['resume', source, '--backend', 'aws']),
      sentinel(['resume', 'r999999999', '--backend', 'aws']),
      sentinel(['resume', source, '--backend', 'aws', '--stack', join(tmp, 'none.json')]),
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(json<{ runId: string; alreadyStarted: boolean; status: string }>(again), { runId: resumed, resumeOf: source, alreadyStarted: true, status: 'RUNNING' });
    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`already resumed as ${resumed}`));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no run "r999999999"/);
    assert.match(unknown.stderr, /sentinel runs --backend aws/);
    assert.equal(succeeded.code, 2, 'a stack file that is not there is bad usage');
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    assert.deepEqual(listed.executions?.map((x) => x.name).sort(), [executionNameFor(PIPELINE, source), executionNameFor(PIPELINE, resumed)].sort());
    process.stdout.write(`# resume --backend aws: ${wallMs} ms for the command (a Node start, ListExecutions, S3 reads, StartExecution)\n`);
  });

  test('the deployed submit-stage answers the reused stage itself and copies the checkpoints before the continued stage', async () => {
    const store = new S3ObjectStore(s3);
    const callbacks = new SeenCallbacks(new SfnTaskCallbacks(sfn));
    const compute = new FakeCompute({ train: [{ kind: 'hang' }] });
    const handler = createSubmitStageHandler({ compute, tokens: new DynamoTokenStore(ddb, { table: TABLE }), store, callbacks });
    const h = new AwsRunHistory({ bucket: BUCKET, stateMachineArn, sfn, s3 });
    // The stage tasks get the run context the execution was started with (PrepareRun passes it on unchanged).
    const run = (JSON.parse((await sfn.send(new DescribeExecutionCommand({ executionArn: h.executionArn(PIPELINE, resumed) }))).input!) as RunState).run;

    // ingest: no job; its result copied into the new run; the task completed with it.
    const ingest = await handler({ taskToken: 'token-ingest', stage: 'ingest', run, stages: {} }, lambdaContext('submit-stage'));
    assert.equal(ingest.reusedFrom, source);
    assert.equal(ingest.created, false);
    assert.deepEqual(compute.submits, []);
    const copied = await store.getJson<Record<string, unknown>>(resultUri(root(), PIPELINE, resumed, 'ingest'));
    assert.deepEqual(copied, await store.getJson(resultUri(root(), PIPELINE, source, 'ingest')), 'the result, as the source run wrote it');
    assert.equal(callbacks.seen.length, 1);
    assert.equal(callbacks.seen[0]!.kind, 'success');
    const summary = callbacks.seen[0]!.output as StageSummary;
    assert.equal(summary.resultUri, resultUri(root(), PIPELINE, resumed, 'ingest'));
    assert.equal(summary.details?.reusedFrom, source);
    assert.equal(summary.metrics.rows, 2);
    assert.equal(summary.artifacts.train, `${root()}/${PIPELINE}/${source}/ingest/train.parquet`, 'its artifacts stay where they were written');

    // train: the source run's checkpoints copied under this run's train folder, then the first attempt's job.
    const train = await handler({ taskToken: 'token-train', stage: 'train', run, stages: { ingest: summary } }, lambdaContext('submit-stage'));
    assert.equal(train.attempt, 1);
    assert.equal(train.created, true);
    assert.equal(train.checkpointsCopied, ckptKeys.length);
    assert.deepEqual(compute.submits, [jobNameFor(PIPELINE, resumed, 'train', 1)]);
    assert.deepEqual(await keysUnder(`artifacts/${PIPELINE}/${resumed}/train/checkpoints/`), [...ckptKeys].sort());
    const body = await store.getText(`s3://${BUCKET}/artifacts/${PIPELINE}/${resumed}/train/checkpoints/checkpoint_000004/rank 0/état.pkl`);
    assert.equal(body, 'bytes of checkpoint_000004/rank 0/état.pkl');
    const token = await ddb.send(new GetItemCommand({ TableName: TABLE, Key: { [TOKEN_KEY]: { S: jobNameFor(PIPELINE, resumed, 'train', 1) } } }));
    assert.equal(token.Item?.token?.S, 'token-train', 'the train task waits on its RayJob as usual');
    assert.equal(callbacks.seen.length, 1, 'a job that runs is completed by the watcher, not here');

    // A redelivered submit of the reused stage answers again with the same result; nothing else changes.
    await handler({ taskToken: 'token-ingest', stage: 'ingest', run, stages: {} }, lambdaContext('submit-stage'));
    assert.equal(callbacks.seen.length, 2);
    assert.deepEqual(callbacks.seen[1]!.output, summary);
    assert.deepEqual(compute.submits, [jobNameFor(PIPELINE, resumed, 'train', 1)]);
  });

  test("sentinel status --backend aws shows the champion's staleness against the deployed spec's staleAfter", async () => {
    const store = new S3ObjectStore(s3);
    const spec = `${readFileSync(join(repoRoot, 'pipelines', `${PIPELINE}.yaml`), 'utf8').trimEnd()}\nstaleAfter: 1d\n`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `pipelines/${PIPELINE}.yaml`, Body: spec }));
    const promotedAt = new Date(Date.now() - 3 * 86_400_000).toISOString();
    await store.putJson(`${root()}/${PIPELINE}/champion.json`, { pipeline: PIPELINE, current: { runId: source, modelUri: `${root()}/${PIPELINE}/${source}/train/model`, metric: 'roc_auc', value: 0.99, promotedAt, serveConfig: {} } });
    try {
      const [j, text] = await Promise.all([sentinel(['status', source, '--backend', 'aws', '--json']), sentinel(['status', source, '--backend', 'aws'])]);
      const view = json<{ champion: { runId: string; staleness: { stale: boolean; staleAfter: string; ageSeconds: number } } }>(j);
      assert.equal(view.champion.runId, source);
      assert.equal(view.champion.staleness.stale, true);
      assert.equal(view.champion.staleness.staleAfter, '1d');
      assert.ok(Math.abs(view.champion.staleness.ageSeconds - 3 * 86_400) < 600);
      assert.match(text.stdout, /freshness.*STALE.*3d old/);
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `pipelines/${PIPELINE}.yaml`, Body: readFileSync(join(repoRoot, 'pipelines', `${PIPELINE}.yaml`)) }));
    }
  });

  test('sentinel rollback --backend aws: nothing to roll back to is exit 1 before any EKS call; no cluster named is exit 2', async () => {
    // champion.json (the staleness test's) has a current champion and no previous one.
    const cluster = { SENTINEL_CLUSTER_NAME: 'ml-cluster', SENTINEL_NAMESPACE: 'sentinel' };
    const [first, noCluster] = await Promise.all([
      sentinel(['rollback', PIPELINE, '--backend', 'aws', '--reason', 'test', '--json'], cluster),
      sentinel(['rollback', PIPELINE, '--backend', 'aws']),
    ]);
    assert.equal(first.code, 1, first.stderr);
    assert.equal(json<{ error: string }>(first).error, 'NoPrevious');
    assert.match(first.stderr, new RegExp(`its champion ${source} is the first`));
    assert.equal(noCluster.code, 2);
    assert.match(noCluster.stderr, /SENTINEL_CLUSTER_NAME/);
  });

  test('S3ObjectStore.copyPrefix: every key under the prefix, nothing beside it; overlapping prefixes are refused', async () => {
    const store = new S3ObjectStore(s3, 2);
    for (const k of ['a/x.json', 'a/deep/er/y.bin', 'ab/not-under-a.json']) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `copy/${k}`, Body: k }));
    assert.equal(await store.copyPrefix(`s3://${BUCKET}/copy/a`, `s3://${BUCKET}/copied/a`), 2);
    assert.deepEqual(await keysUnder('copied/'), ['a/deep/er/y.bin', 'a/x.json']);
    assert.equal(await store.copyPrefix(`s3://${BUCKET}/copy/a`, `s3://${BUCKET}/copied/a`), 2, 'again: the same copies');
    assert.equal(await store.copyPrefix(`s3://${BUCKET}/copy/none`, `s3://${BUCKET}/copied/none`), 0);
    await assert.rejects(store.copyPrefix(`s3://${BUCKET}/copy/a`, `s3://${BUCKET}/copy/a/inside`), /overlap/);
  });
});
