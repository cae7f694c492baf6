// The AWS backend of the operating commands against a real AWS-API server: moto in server mode (test/support/moto.ts)
// with the deployable state machine (infra/statemachine.ts definitionJson over workflows/), the deployed spec and a
// dataset in its S3 bucket. `sentinel start` goes through the deployed start-run handler's code; the records are
// written by core's own prepare-run through the real S3 adapter; runs/status/cancel read them back through
// adapters/aws/run-history.ts, in-process and as a user would (`./sentinel … --backend aws`, a subprocess).
//
// What moto simulates (moto 5.2.5, default mode): executions are created, listed, described and stopped for real
// (names unique per state machine, ExecutionAlreadyExists, ABORTED after StopExecution), but Task states are not run:
// every execution stays RUNNING and GetExecutionHistory answers a fixed sample history ("A State"). It also drops
// StopExecution's error and cause. The stage-attempt reading of a real history is covered by test/unit (the pure
// jobsFromHistory over a history in the API's shape).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { runSentinel, stdoutJson, type CliResult } from '../support/sentinel-cli.js';
import { startMoto, useMotoEnv, repoRoot, ACCOUNT, REGION, type Moto } from '../support/moto.js';
import { definitionJson } from '../../infra/statemachine.js';
import { resourceNames, sentinelConfig } from '../../infra/config.js';
import { STATE_MACHINE_FUNCTIONS, type StateMachineFunction } from '../../workflows/pipeline.js';
import { AwsRunHistory, jobsFromHistory, parseExecutionName } from '../../adapters/aws/run-history.js';
import { S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { prepareRun } from '../../core/prepare-run.js';
import { executionNameFor, runIdFor } from '../../core/run-id.js';
import { listRuns, runStatus, type RunRow } from '../../core/run-history.js';
import { resultUri, runRecordUri } from '../../core/artifacts.js';
import type { RunRecord, RunState } from '../../core/model.js';
import { BACKEND_ENV } from '../../cli/backend.js';
import { ENV } from '../../functions/aws/deps.js';

const PIPELINE = 'breast-cancer';
const names = resourceNames(sentinelConfig('test', { region: REGION }));
const BUCKET = names.bucket(ACCOUNT);
const functionArns = Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f) => [f, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${names.function(f)}`])) as Record<StateMachineFunction, string>;

let moto: Moto;
let restoreEnv: () => void;
let sfn: SFNClient;
let s3: S3Client;
let stateMachineArn: string;
let history: () => AwsRunHistory;
const tmp = mkdtempSync(join(tmpdir(), 'sentinel-aws-'));

/** `./sentinel ARGS` as a user runs it, with the stack named by the environment and the SDK pointed at moto. */
function sentinel(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...moto.env, [BACKEND_ENV.bucket]: BUCKET, [BACKEND_ENV.stateMachineArn]: stateMachineArn };
  for (const [k, v] of Object.entries(extraEnv)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return runSentinel(args, tmp, env);
}

const json = stdoutJson;

before(async () => {
  moto = await startMoto();
  restoreEnv = useMotoEnv(moto);
  sfn = new SFNClient({ region: REGION });
  s3 = new S3Client({ region: REGION, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  // What `sst deploy` puts in the bucket (infra/bucket.ts): the pipeline's spec; and a dataset where the spec says.
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `pipelines/${PIPELINE}.yaml`, Body: readFileSync(join(repoRoot, 'pipelines', `${PIPELINE}.yaml`)) }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `datasets/${PIPELINE}/${PIPELINE}.csv`, Body: 'mean_radius,target\n14.1,1\n20.6,0\n' }));
  const sm = await sfn.send(
    new CreateStateMachineCommand({ name: names.stateMachine, definition: definitionJson(functionArns), roleArn: `arn:aws:iam::${ACCOUNT}:role/${names.role('pipeline')}`, type: 'STANDARD' }),
  );
  stateMachineArn = sm.stateMachineArn!;
  history = () => new AwsRunHistory({ bucket: BUCKET, stateMachineArn, sfn, s3 });
});

after(async () => {
  sfn?.destroy();
  s3?.destroy();
  restoreEnv?.();
  await moto?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the AWS backend on moto', () => {
  const run1 = runIdFor(PIPELINE, { kind: 'manual', requestId: 'req-1' });
  const run2 = runIdFor(PIPELINE, { kind: 'manual', requestId: 'req-2' });

  test('moto answered, and the CLI names its stack variables as the Lambdas do', (t) => {
    t.diagnostic(`moto_server answered ${moto.startMs} ms after it was spawned`);
    assert.ok(moto.startMs > 0);
    assert.equal(BACKEND_ENV.bucket, ENV.bucket);
    assert.equal(BACKEND_ENV.stateMachineArn, ENV.stateMachineArn);
  });

  test('sentinel start: StartExecution named from the request id; the same id again starts nothing', async () => {
    const first = await sentinel(['start', PIPELINE, '--request-id', 'req-1', '--backend', 'aws', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const a = json<{ runId: string; executionName: string; executionArn: string; alreadyStarted: boolean }>(first);
    assert.equal(a.runId, run1);
    assert.equal(a.executionName, executionNameFor(PIPELINE, run1));
    assert.equal(a.alreadyStarted, false);

    const again = await sentinel(['start', PIPELINE, '--request-id', 'req-1', '--backend', 'aws', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const b = json<{ runId: string; executionArn: string; alreadyStarted: boolean; status: string }>(again);
    assert.equal(b.alreadyStarted, true);
    assert.equal(b.executionArn, a.executionArn);
    assert.equal(b.status, 'RUNNING');
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    assert.equal(listed.executions?.filter((x) => x.name === a.executionName).length, 1);

    // The input is what the deployed start-run builds: the deployed spec, its dataset in the bucket, the trigger.
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: a.executionArn }));
    const input = JSON.parse(d.input!) as RunState;
    assert.equal(input.run.runId, run1);
    assert.deepEqual(input.run.trigger, { kind: 'manual', requestId: 'req-1' });
    assert.equal(input.run.datasetUri, `s3://${BUCKET}/datasets/${PIPELINE}/${PIPELINE}.csv`);
    assert.equal(input.run.artifactRoot, `s3://${BUCKET}/artifacts`);
    assert.equal(input.run.spec.name, PIPELINE);

    // Plain text says it as plainly.
    const text = await sentinel(['start', PIPELINE, '--request-id', 'req-1', '--backend', 'aws']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /already started/);
    assert.match(text.stdout, new RegExp(run1));
  });

  test('sentinel start refuses what it cannot start, saying where', async () => {
    const noStackEnv = { [BACKEND_ENV.bucket]: undefined, [BACKEND_ENV.stateMachineArn]: undefined };
    const [unknown, badDataset, local, noStack, badBackend, onlyOne] = await Promise.all([
      sentinel(['start', 'no-such-pipeline', '--request-id', 'x', '--backend', 'aws']),
      sentinel(['start', PIPELINE, '--dataset', '/tmp/x.csv', '--backend', 'aws']),
      sentinel(['start', PIPELINE], noStackEnv),
      sentinel(['runs', '--backend', 'aws'], noStackEnv),
      sentinel(['runs', '--backend', 'gcp']),
      sentinel(['runs', '--backend', 'aws'], { [BACKEND_ENV.bucket]: undefined }),
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /ValidationFailed/);
    assert.match(unknown.stderr, /pipeline/);
    assert.match(unknown.stderr, /pipelines\/no-such-pipeline\.yaml/);
    assert.equal(badDataset.code, 2);
    assert.match(badDataset.stderr, /--dataset/);
    assert.equal(local.code, 2);
    assert.match(local.stderr, /sentinel run/);
    assert.equal(noStack.code, 2);
    assert.match(noStack.stderr, /--stack/);
    assert.equal(badBackend.code, 2);
    assert.match(badBackend.stderr, /--backend/);
    assert.equal(onlyOne.code, 2);
    assert.match(onlyOne.stderr, new RegExp(BACKEND_ENV.bucket));
    // Nothing was started by any of them.
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    assert.equal(listed.executions?.length, 1);
  });

  test('runs and status read the execution and the records prepare-run and the stage wrote to S3', async () => {
    const store = new S3ObjectStore(s3);
    const arn = history().executionArn(PIPELINE, run1);
    const input = JSON.parse((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).input!) as RunState;
    // What PrepareRun does in the deployed state machine, through the same core and the real S3 adapter.
    await prepareRun(input.run, { store, now: () => new Date() });
    const recorded = await store.getJson<RunRecord>(runRecordUri(input.run.artifactRoot, PIPELINE, run1));
    assert.equal(recorded?.status, 'RUNNING');
    // The ingest job's result.json (docs/stage-contract.md), where the job writes it.
    await store.putJson(resultUri(input.run.artifactRoot, PIPELINE, run1, 'ingest'), { stage: 'ingest', metrics: { rows: 2 }, artifacts: { train: `s3://${BUCKET}/artifacts/x/train.parquet` } });

    const h = history();
    const records = await h.listRuns();
    const r1 = records.find((r) => r.runId === run1);
    assert.ok(r1, `run ${run1} listed`);
    const rows = listRuns(records, {}, await h.live(), Date.now());
    assert.equal(rows.find((r) => r.runId === run1)?.status, 'RUNNING');
    const view = await runStatus(h, r1, Date.now());
    assert.equal(view.status, 'RUNNING');
    assert.equal(view.requestedBy, 'req-1');
    assert.equal(view.artifactsUri, `s3://${BUCKET}/artifacts/${PIPELINE}/${run1}`);
    const ingest = view.stages.find((s) => s.stage === 'ingest');
    assert.equal(ingest?.state, 'SUCCEEDED');
    assert.equal(ingest?.metrics.rows, 2);
    assert.equal(ingest?.resultUri, resultUri(`s3://${BUCKET}/artifacts`, PIPELINE, run1, 'ingest'));
    assert.ok(ingest?.endedAt, 'the result.json time (S3 LastModified)');
    assert.equal(view.stages.find((s) => s.stage === 'train')?.state, 'PENDING');
    assert.equal((await h.spec(PIPELINE))?.name, PIPELINE);
    assert.equal(await h.champion(PIPELINE), undefined);
  });

  test('a run whose execution has no record yet is still listed, from its execution input', async () => {
    const started = await sentinel(['start', PIPELINE, '--request-id', 'req-2', '--backend', 'aws', '--json']);
    assert.equal(started.code, 0, started.stderr);
    const r2 = (await history().listRuns()).find((r) => r.runId === run2);
    assert.equal(r2?.status, 'RUNNING');
    assert.deepEqual(r2?.trigger, { kind: 'manual', requestId: 'req-2' });
    assert.equal(r2?.datasetUri, `s3://${BUCKET}/datasets/${PIPELINE}/${PIPELINE}.csv`);

    // Its PrepareRun finds the pipeline's one slot (maxConcurrentRuns 1) held by run1: RunQueued, retried. The
    // listing shows it QUEUED from run-slots.json on S3, behind run1, and `runs --status queued` finds it.
    const store = new S3ObjectStore(s3);
    const input = JSON.parse((await sfn.send(new DescribeExecutionCommand({ executionArn: history().executionArn(PIPELINE, run2) }))).input!) as RunState;
    await assert.rejects(prepareRun(input.run, { store, now: () => new Date() }), { name: 'RunQueued' });
    const queued = await sentinel(['runs', '--backend', 'aws', '--status', 'queued', '--json']);
    assert.equal(queued.code, 0, queued.stderr);
    const rows = json<RunRow[]>(queued);
    assert.deepEqual(rows.map((r) => [r.runId, r.status, r.waiting?.position, r.waiting?.heldBy]), [[run2, 'QUEUED', 1, [run1]]]);
    assert.equal(rows[0]!.outcome.reason, `waiting for a run slot: position 1, next; 1/1 slot held by ${run1}`);
    const status = await sentinel(['status', run2, '--backend', 'aws']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /QUEUED/);
    assert.match(status.stdout, /queued +since .*priority 0; last asked for a slot/);
  });

  test('cancel is StopExecution; the stopped run reads as ended, not running, and a second cancel changes nothing', async () => {
    const h = history();
    const res = await h.cancel(PIPELINE, run2, 'test: cancelled by the suite');
    assert.equal(res.stopped, true);
    assert.equal((await sfn.send(new DescribeExecutionCommand({ executionArn: res.executionArn }))).status, 'ABORTED');
    const again = await history().cancel(PIPELINE, run2, 'again');
    assert.equal(again.stopped, false);
    assert.equal(again.status, 'ABORTED');
    const r2 = (await history().listRuns()).find((r) => r.runId === run2)!;
    assert.equal(r2.status, 'CANCELLED');
    assert.ok(r2.endedAt);
    assert.equal(r2.outcome && 'error' in r2.outcome ? r2.outcome.error : undefined, 'ExecutionAborted');
    const missing = await history().cancel(PIPELINE, 'r000000000', 'none');
    assert.equal(missing.stopped, false);
    assert.equal(missing.status, undefined);
  });

  test('sentinel runs / status --backend aws, as a user runs them', async () => {
    const stack = join(tmp, 'outputs.json');
    writeFileSync(stack, JSON.stringify({ bucket: BUCKET, stateMachineArn, alarmTopicArn: 'x', datasetsUri: `s3://${BUCKET}/datasets/` }));
    const noStackEnv = { [BACKEND_ENV.bucket]: undefined, [BACKEND_ENV.stateMachineArn]: undefined };
    // Independent commands, run side by side (each is a Node start).
    const [all, running, failed, other, future, table, s1, s2, none, viaFile, badFile] = await Promise.all([
      sentinel(['runs', '--backend', 'aws', '--json']),
      sentinel(['runs', '--backend', 'aws', '--status', 'running', '--json']),
      sentinel(['runs', '--backend', 'aws', '--status', 'cancelled', '--json']),
      sentinel(['runs', '--backend', 'aws', '--pipeline', 'iris', '--json']),
      sentinel(['runs', '--backend', 'aws', '--since', '2999-01-01', '--json']),
      sentinel(['runs'], { [BACKEND_ENV.backend]: 'aws' }),
      sentinel(['status', run1.slice(0, 6), '--backend', 'aws', '--json']),
      sentinel(['status', run2, '--backend', 'aws']),
      sentinel(['status', 'r999999999', '--backend', 'aws']),
      // The stack named by SST's outputs file instead of the environment.
      sentinel(['runs', '--backend', 'aws', '--stack', stack, '--json'], noStackEnv),
      sentinel(['runs', '--backend', 'aws', '--stack', join(tmp, 'nope.json')]),
    ]);
    assert.equal(all.code, 0, all.stderr);
    const rows = json<Array<{ runId: string; status: string; pipeline: string }>>(all);
    assert.deepEqual(rows.map((r) => r.runId).sort(), [run1, run2].sort());
    assert.deepEqual(json<Array<{ runId: string }>>(running).map((r) => r.runId), [run1]);
    assert.deepEqual(json<Array<{ runId: string }>>(failed).map((r) => r.runId), [run2]);
    assert.deepEqual(json<unknown[]>(other), []);
    assert.deepEqual(json<unknown[]>(future), []);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`${run1}\\s+${PIPELINE}\\s+RUNNING`));

    assert.equal(s1.code, 0, s1.stderr);
    const v1 = json<{ runId: string; stages: Array<{ stage: string; state: string }> }>(s1);
    assert.equal(v1.runId, run1);
    assert.equal(v1.stages.find((s) => s.stage === 'ingest')?.state, 'SUCCEEDED');
    assert.equal(s2.code, 0, 'as for a local run: status exits 1 only for FAILED and INTERRUPTED');
    assert.match(s2.stdout, /CANCELLED/);
    assert.match(s2.stdout, /StopExecution/);
    assert.match(s2.stdout, /console/);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no run "r999999999"/);

    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.equal(json<unknown[]>(viaFile).length, 2);
    assert.equal(badFile.code, 2);
    assert.match(badFile.stderr, /--stack/);
  });

  test('sentinel logs --backend aws: the attempt logs jobs write beside their results in S3', async () => {
    const store = new S3ObjectStore(s3);
    const logUri = `${history().artifactsUri(PIPELINE, run1)}/ingest/logs/attempt-1.log`;
    const text = 'ingest: read 2 rows\ningest: wrote train.parquet\n';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: logUri.slice(`s3://${BUCKET}/`.length), Body: text }));
    await store.putJson(`${history().artifactsUri(PIPELINE, run1)}/ingest/logs/not-a-log.json`, {}); // not listed
    const h = history();
    const logs = await h.stageLogs(PIPELINE, run1);
    assert.deepEqual(logs.map((l) => [l.stage, l.attempt, l.uri, l.size]), [['ingest', 1, logUri, Buffer.byteLength(text)]]);
    assert.equal(Buffer.from((await h.readLog(logUri, 0))!).toString(), text);
    assert.equal(Buffer.from((await h.readLog(logUri, 8))!).toString(), text.slice(8));
    assert.equal((await h.readLog(logUri, Buffer.byteLength(text)))?.length, 0, 'nothing new past the end');
    assert.equal(await h.readLog(`${h.artifactsUri(PIPELINE, run1)}/train/logs/attempt-1.log`, 0), undefined);
    assert.equal(await h.readLog(`s3://${BUCKET}/elsewhere/attempt-1.log`, 0), undefined, 'only the stack\'s artifacts');

    const [one, missing] = await Promise.all([sentinel(['logs', run1, 'ingest', '--backend', 'aws']), sentinel(['logs', run1, 'train', '--backend', 'aws'])]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /ingest: wrote train\.parquet/);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ingest/, 'says which stages have logs');
  });

  test('sentinel cancel --backend aws stops the execution; again, it says the run already ended', async () => {
    const run3 = runIdFor(PIPELINE, { kind: 'manual', requestId: 'req-3' });
    assert.equal((await sentinel(['start', PIPELINE, '--request-id', 'req-3', '--backend', 'aws'])).code, 0);
    const first = await sentinel(['cancel', run3, '--backend', 'aws', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const r = json<{ runId: string; cancelled: boolean; status: string; executionArn: string }>(first);
    assert.equal(r.runId, run3);
    assert.equal(r.cancelled, true);
    assert.equal((await sfn.send(new DescribeExecutionCommand({ executionArn: r.executionArn }))).status, 'ABORTED');
    const again = await sentinel(['cancel', run3, '--backend', 'aws']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already ended/);
    const none = await sentinel(['cancel', 'r999999999', '--backend', 'aws']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no run "r999999999"/);
  });

  test('an unreachable endpoint is an AWS failure that says what to check (exit 1)', async () => {
    const r = await sentinel(['runs', '--backend', 'aws'], { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /AWS_ENDPOINT_URL|reach/);
  });

  test('execution names that are not Sentinel runs are not listed', async () => {
    await sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'someone-elses-execution', input: '{}' }));
    const ids = (await history().listRuns()).map((r) => r.runId);
    assert.equal(ids.length, 3);
    assert.equal(parseExecutionName('someone-elses-execution'), undefined);
    assert.deepEqual(parseExecutionName(executionNameFor(PIPELINE, run1)), { pipeline: PIPELINE, runId: run1 });
  });

  test("moto's history carries no stage state: no attempts are made up from it", async () => {
    const h = history();
    const events = await h.history(h.executionArn(PIPELINE, run1));
    assert.ok(events.length > 0);
    assert.deepEqual(jobsFromHistory(PIPELINE, run1, events, 'RUNNING'), []);
    assert.deepEqual(await h.jobs(PIPELINE, run1), []);
  });
});
