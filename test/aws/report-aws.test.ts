// `sentinel report --backend aws` against moto in server mode: a finished run's records where the deployed stack keeps
// them (run.json, result.json, the ingest manifest, tune's trials.json, champion.json in S3; its execution in Step
// Functions), gathered through AwsRunHistory and its S3 store, rendered, written. Checks what the page shows: the
// stage states, the gate, the manifest's SHA-256 and the registry version read from S3, one polyline per trial.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { startMoto, useMotoEnv, repoRoot, ACCOUNT, REGION, type Moto } from '../support/moto.js';
import { definitionJson } from '../../infra/statemachine.js';
import { resourceNames, sentinelConfig } from '../../infra/config.js';
import { STATE_MACHINE_FUNCTIONS, type StateMachineFunction } from '../../workflows/pipeline.js';
import { AwsRunHistory } from '../../adapters/aws/run-history.js';
import { championUri, resultUri, runRecordUri, stageUri } from '../../core/artifacts.js';
import { executionNameFor, runIdFor } from '../../core/run-id.js';
import type { ChampionRecord, RunRecord, StageSummary } from '../../core/model.js';
import type { Stage } from '../../core/stages.js';
import { BACKEND_ENV } from '../../cli/backend.js';
import { reportCommand, reportData } from '../../cli/report.js';
import { renderReport } from '../../cli/report-html.js';

const PIPELINE = 'breast-cancer';
const names = resourceNames(sentinelConfig('test', { region: REGION }));
const BUCKET = names.bucket(ACCOUNT);
const ROOT = `s3://${BUCKET}/artifacts`;
const SHA = 'c0ffee'.padEnd(64, '0');
const functionArns = Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f) => [f, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${names.function(f)}`])) as Record<StateMachineFunction, string>;
const TRIALS = ['a_00000', 'a_00001', 'a_00002', 'a_00003'].map((trialId, i) => ({ trialId, best: i === 0, stoppedEarly: i > 1, history: [0.9, 0.93, 0.95, 0.96].slice(0, 4 - i), config: { eta: 0.1 * (i + 1) } }));

let moto: Moto;
let restoreEnv: () => void;
let sfn: SFNClient;
let s3: S3Client;
let stateMachineArn: string;
const tmp = mkdtempSync(join(tmpdir(), 'sentinel-report-aws-'));
const runId = runIdFor(PIPELINE, { kind: 'manual', requestId: 'report-1' });
let record: RunRecord;

before(async () => {
  moto = await startMoto();
  restoreEnv = useMotoEnv(moto);
  sfn = new SFNClient({ region: REGION });
  s3 = new S3Client({ region: REGION, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `pipelines/${PIPELINE}.yaml`, Body: readFileSync(join(repoRoot, 'pipelines', `${PIPELINE}.yaml`)) }));
  const sm = await sfn.send(new CreateStateMachineCommand({ name: names.stateMachine, definition: definitionJson(functionArns), roleArn: `arn:aws:iam::${ACCOUNT}:role/${names.role('pipeline')}`, type: 'STANDARD' }));
  stateMachineArn = sm.stateMachineArn!;

  // What the deployed run wrote: each stage's result.json and files, the run record, the champion.
  const h = new AwsRunHistory({ bucket: BUCKET, stateMachineArn, sfn, s3 });
  const put = (uri: string, v: unknown) => h.store.putJson(uri, v);
  const dir = (s: string) => stageUri(ROOT, PIPELINE, runId, s);
  const summary = async (stage: Stage, metrics: Record<string, number>, jobSeconds: number, artifacts: Record<string, string>, details?: Record<string, unknown>): Promise<StageSummary> => {
    const uri = resultUri(ROOT, PIPELINE, runId, stage);
    await put(uri, { stage, metrics, artifacts, ...(details ? { details } : {}) });
    return { stage, jobId: `${PIPELINE}-${runId}-${stage}-1`, attempt: 1, resultUri: uri, metrics, artifacts, ...(details ? { details } : {}), jobSeconds };
  };
  await put(`${dir('ingest')}/manifest.json`, { source: { uri: `s3://${BUCKET}/datasets/${PIPELINE}/${PIPELINE}.csv`, sha256: SHA, bytes: 121385 } });
  await put(`${dir('tune')}/trials.json`, { metric: 'validation_roc_auc', mode: 'max', bestTrialId: 'a_00000', maxIterations: 4, trials: TRIALS });
  const modelUri = `${dir('tune')}/model`;
  record = {
    pipeline: PIPELINE, runId, status: 'SUCCEEDED', trigger: { kind: 'manual', requestId: 'report-1' }, datasetUri: `s3://${BUCKET}/datasets/${PIPELINE}/${PIPELINE}.csv`,
    startedAt: new Date(Date.now() - 120_000).toISOString(), endedAt: new Date().toISOString(),
    outcome: { promoted: true, reason: 'no champion yet; candidate roc_auc 0.97 clears the floor 0.9' },
    stages: {
      ingest: await summary('ingest', { rows: 569 }, 40.5, { manifest: `${dir('ingest')}/manifest.json` }),
      train: await summary('train', { validation_roc_auc: 0.96 }, 95.2, { model: `${dir('train')}/model` }),
      tune: await summary('tune', { validation_roc_auc: 0.96, trials: 4 }, 130.1, { model: modelUri, trials: `${dir('tune')}/trials.json` }),
      evaluate: await summary('evaluate', { candidate_roc_auc: 0.97 }, 30, {}, { candidate: { modelUri, metrics: { roc_auc: 0.97 } } }),
    },
  };
  await put(runRecordUri(ROOT, PIPELINE, runId), record);
  const champion: ChampionRecord = { pipeline: PIPELINE, current: { runId, modelUri, metric: 'roc_auc', value: 0.97, promotedAt: record.endedAt!, serveConfig: {}, registry: { model: PIPELINE, version: '7' } } };
  await put(championUri(ROOT, PIPELINE), champion);
  await sfn.send(new StartExecutionCommand({ stateMachineArn, name: executionNameFor(PIPELINE, runId), input: JSON.stringify({ run: { pipeline: PIPELINE, runId, artifactRoot: ROOT, datasetUri: record.datasetUri, trigger: record.trigger } }) }));
});

after(async () => {
  sfn?.destroy();
  s3?.destroy();
  restoreEnv?.();
  await moto?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('the report of a deployed run: its records and files read from S3, its execution from Step Functions', async () => {
  const h = new AwsRunHistory({ bucket: BUCKET, stateMachineArn, sfn, s3 });
  const listed = (await h.listRuns()).find((r) => r.runId === runId);
  assert.ok(listed, 'the run is listed from its execution');
  const data = await reportData(h, h.store, listed, Date.now());
  assert.equal(data.datasetSha256, SHA, 'the SHA-256 from the manifest in S3');
  assert.deepEqual(data.registry, { model: PIPELINE, version: '7' });
  assert.equal(data.route, '/predict', 'the deployed spec from S3');
  assert.deepEqual(data.tuning?.trials.map((t) => t.trialId), TRIALS.map((t) => t.trialId));
  const html = renderReport(data);
  const states = [...html.matchAll(/data-stage="(\w+)" data-state="(\w+)"/g)].map((m) => `${m[1]}=${m[2]}`);
  assert.deepEqual(states, ['ingest', 'train', 'tune', 'evaluate', 'gate', 'promote'].map((s) => `${s}=SUCCEEDED`));
  assert.equal([...html.matchAll(/<polyline class="trial"/g)].length, TRIALS.length);
  assert.match(html, /data-decision="PROMOTE"/);
  assert.match(html, /<tr data-stage="tune"><th>tune<\/th><td class="num ray-seconds">2 min 10 s<\/td>/);
});

test('sentinel report RUN --backend aws (the stack named by the environment) writes the page; an unknown run is exit 1', async () => {
  const saved = { b: process.env[BACKEND_ENV.bucket], a: process.env[BACKEND_ENV.stateMachineArn] };
  process.env[BACKEND_ENV.bucket] = BUCKET;
  process.env[BACKEND_ENV.stateMachineArn] = stateMachineArn;
  const err = process.stderr.write;
  const said: string[] = [];
  process.stderr.write = ((c: string) => (said.push(String(c)), true)) as typeof process.stderr.write;
  try {
    const out: string[] = [];
    const file = join(tmp, 'report.html');
    assert.equal(await reportCommand([runId.slice(0, 7), '--backend', 'aws', '--out', file], Date.now(), (s) => void out.push(s)), 0, said.join(''));
    assert.ok(out.join('').includes(file));
    const html = readFileSync(file, 'utf8');
    assert.ok(html.includes(SHA));
    assert.ok(html.includes(`s3://${BUCKET}/artifacts/${PIPELINE}/${runId}`), 'the artifacts are the S3 prefix');
    assert.equal(await reportCommand(['r123456789', '--backend', 'aws', '--out', file], Date.now(), () => {}), 1);
    assert.match(said.join(''), /no run "r123456789" in the deployed stack/);
  } finally {
    process.stderr.write = err;
    for (const [k, v] of [[BACKEND_ENV.bucket, saved.b], [BACKEND_ENV.stateMachineArn, saved.a]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
