// `sentinel status` of one run (core/run-history.ts runStatus) over a port in memory, at the edges mutation testing
// (npm run mutation) found no test for: stage states from a live session's jobs, results written after a failure,
// notes of a resumed search, the previous champion, tracking off, who asked for the run, a dashboard that fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStatus, type RunHistoryPort, type StoredStageResult } from '../../core/run-history.js';
import type { ChampionRecord, RunRecord } from '../../core/model.js';
import type { JobStatus } from '../../core/job-status.js';
import type { Stage } from '../../core/stages.js';

const RUN = 'r0a1b2c3d4';
const job = (stage: Stage, state: JobStatus['state'], message?: string) => ({ jobId: `p-${RUN}-${stage}-1`, state, labels: {}, ...(message ? { message } : {}) }) as unknown as JobStatus;
const result = (stage: Stage, details?: Record<string, unknown>): StoredStageResult => ({
  uri: `/h/p/${RUN}/${stage}/result.json`,
  result: { stage, metrics: { m: 1 }, artifacts: {}, ...(details ? { details } : {}) } as never,
  writtenAt: '2024-06-01T10:05:00.000Z',
});
const port = (o: { jobs?: () => Promise<JobStatus[]>; results?: Partial<Record<Stage, StoredStageResult>>; champion?: ChampionRecord; live?: boolean }): RunHistoryPort => ({
  where: 'memory',
  listRuns: async () => [],
  stageResults: async () => o.results ?? {},
  champion: async () => o.champion,
  spec: async () => undefined,
  controlPlane: async () => undefined,
  artifactsUri: () => `/h/p/${RUN}`,
  live: async () => (o.live === false ? undefined : { dashboardUrl: 'http://127.0.0.1:8265', dashboardAnswers: true }),
  ...(o.jobs ? { jobs: o.jobs } : {}),
});
const record = (extra: Partial<RunRecord> = {}): RunRecord => ({
  pipeline: 'p',
  runId: RUN,
  status: 'RUNNING',
  trigger: { kind: 'manual', requestId: 'req-1' },
  datasetUri: '/d.csv',
  startedAt: '2024-06-01T10:00:00.000Z',
  ...extra,
});
const states = (v: { stages: Array<{ stage: string; state: string }> }) => Object.fromEntries(v.stages.map((s) => [s.stage, s.state]));

test("live: a stage's state follows its job; a written result of a job still running is RUNNING, of a failed job FAILED", async () => {
  const jobs = async () => [job('ingest', 'PENDING'), job('train', 'RUNNING'), job('tune', 'FAILED', 'OOM killed\nTraceback'), job('evaluate', 'STOPPED')];
  const v = await runStatus(port({ jobs, results: { train: result('train', { resumed: true }), tune: result('tune') } }), record(), Date.now());
  assert.deepEqual(states(v), { ingest: 'PENDING', train: 'RUNNING', tune: 'FAILED', evaluate: 'FAILED' });
  assert.deepEqual(v.stages[1]!.notes, ['resumed the search']);
  assert.equal(v.stages[3]!.error, undefined, 'a stopped job without a message names no error');
  const running = await runStatus(port({ jobs: async () => [job('ingest', 'RUNNING'), job('train', 'PENDING')], results: { ingest: result('ingest'), train: result('train') } }), record(), Date.now());
  assert.deepEqual([states(running).ingest, states(running).train], ['RUNNING', 'RUNNING']);
  const failing = await runStatus(port({ jobs: async () => [job('ingest', 'FAILED', 'bad csv\nline 2')] }), record(), Date.now());
  assert.deepEqual([states(failing).ingest, failing.stages[0]!.error], ['FAILED', 'bad csv']);
});

test('a dashboard whose jobs call fails shows the run from its files alone', async () => {
  const v = await runStatus(port({ jobs: async () => Promise.reject(new Error('refused')), results: { ingest: result('ingest') } }), record(), Date.now());
  assert.equal(states(v).ingest, 'SUCCEEDED');
  assert.equal(v.stages[0]!.endedAt, '2024-06-01T10:05:00.000Z', 'ended when its result was written');
});

test('after a failed stage, a later result on disk does not count; the failure is where the run stopped', async () => {
  const failed = record({ status: 'FAILED', outcome: { error: 'RayJobFailed', cause: 'train job failed', stage: 'Train' } });
  const v = await runStatus(port({ live: false, results: { train: result('train'), tune: result('tune') } }), failed, Date.now());
  assert.deepEqual(states(v), { ingest: 'NOT_RUN', train: 'FAILED', tune: 'NOT_RUN', evaluate: 'NOT_RUN' });
});

test('status shows the previous champion, tracking off, and who or what asked for the run', async () => {
  const champion: ChampionRecord = {
    pipeline: 'p',
    current: { runId: RUN, modelUri: 'm', metric: 'roc_auc', value: 0.9, promotedAt: 't', serveConfig: {} },
    previous: { runId: 'r000000001', modelUri: 'm0', metric: 'roc_auc', value: 0.8, promotedAt: 't0', serveConfig: {} },
  };
  const v = await runStatus(port({ live: false, champion }), record({ tracking: { off: 'tracking off: none configured' }, trigger: { kind: 's3', bucket: 'bkt', key: 'datasets/p/new.csv' } as never }), Date.now());
  assert.equal(v.champion!.previousRunId, 'r000000001');
  assert.deepEqual(v.tracking, { off: 'tracking off: none configured' });
  assert.equal(v.requestedBy, 'datasets/p/new.csv');
  const scheduled = await runStatus(port({ live: false }), record({ trigger: { kind: 'schedule', schedule: 'nightly', time: 't' } }), Date.now());
  assert.equal(scheduled.requestedBy, 'nightly');
  assert.equal('champion' in scheduled, false);
});

test('a recorded stage ends when its result was written if no job says otherwise; a job that succeeded without files still succeeded', async () => {
  const summary = { stage: 'ingest', jobId: `p-${RUN}-ingest-1`, attempt: 1, metrics: {}, artifacts: {}, resultUri: 'u', jobSeconds: 3 };
  const v = await runStatus(port({ live: false, results: { ingest: result('ingest') } }), record({ stages: { ingest: summary } as never }), Date.now());
  assert.deepEqual([v.stages[0]!.state, v.stages[0]!.endedAt], ['SUCCEEDED', '2024-06-01T10:05:00.000Z']);
  const done = await runStatus(port({ jobs: async () => [job('ingest', 'SUCCEEDED')] }), record(), Date.now());
  assert.equal(states(done).ingest, 'SUCCEEDED');
});

test('before the stage that failed, a result its job wrote counts', async () => {
  const failed = record({ status: 'FAILED', outcome: { error: 'RayJobFailed', cause: 'tune job failed', stage: 'Tune' } });
  const v = await runStatus(port({ live: false, results: { train: result('train') } }), failed, Date.now());
  assert.deepEqual([states(v).train, states(v).tune], ['SUCCEEDED', 'FAILED']);
});
