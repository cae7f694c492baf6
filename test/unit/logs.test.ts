// `sentinel logs` over a temporary home: driver logs as the jobs write them (<stage>/logs/attempt-N.log, appended
// while they run), read by the local store; which logs each form of the command shows; its exit codes and what its
// errors list; and --follow against a live session whose jobs' states change while the logs grow (the session's Ray
// is a fake ComputePort here; test/e2e/status.test.ts follows a real run on a real Ray head).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalRunHistory } from '../../local/run-history.js';
import { runRecordUri, stageLogUri } from '../../core/artifacts.js';
import { followDone, selectLogs, sortLogs, type StageLog } from '../../core/run-logs.js';
import type { RunRecord } from '../../core/model.js';
import type { ComputePort, ServingPort } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import type { StageView } from '../../core/run-history.js';
import { STAGES, type Stage } from '../../core/stages.js';
import { addSessionRun, removeSessionFile, writeSessionFile } from '../../local/session-file.js';
import { logsCommand } from '../../cli/logs.js';

const home = mkdtempSync(join(tmpdir(), 'sentinel-logs-'));
const root = join(home, 'bucket', 'artifacts');
after(() => rmSync(home, { recursive: true, force: true }));

const T0 = Date.parse('2026-12-01T12:00:00.000Z');
const record = (runId: string, status: RunRecord['status'], pipeline = 'breast-cancer'): RunRecord => ({
  pipeline,
  runId,
  status,
  trigger: { kind: 'manual', requestId: runId },
  datasetUri: '/data.csv',
  startedAt: new Date(T0).toISOString(),
  ...(status !== 'RUNNING' ? { endedAt: new Date(T0 + 60_000).toISOString() } : {}),
});
function writeRecord(r: RunRecord) {
  const uri = runRecordUri(root, r.pipeline, r.runId);
  mkdirSync(dirname(uri), { recursive: true });
  writeFileSync(uri, JSON.stringify(r));
}
function writeLog(r: RunRecord, stage: Stage, attempt: number, text: string, append = false) {
  const uri = stageLogUri(root, r.pipeline, r.runId, stage, attempt);
  mkdirSync(dirname(uri), { recursive: true });
  (append ? appendFileSync : writeFileSync)(uri, text);
  return uri;
}

/** Runs the command in this process: its stdout (deps.write), stderr and exit code. */
async function logs(args: string[], deps: Parameters<typeof logsCommand>[1] = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((c: string) => (err.push(String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await logsCommand([...args, '--home', home], { write: (s) => void out.push(s), ...deps });
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stderr.write = write;
  }
}

const DONE = record('r00000a001', 'SUCCEEDED');
writeRecord(DONE);
writeLog(DONE, 'ingest', 1, '[sentinel] ingest attempt 1\n[ingest] binary: 569 rows\n');
writeLog(DONE, 'train', 1, '[sentinel] train attempt 1\n(RayTrainWorker pid=1) [train] iteration 1\nSpotInterruption\n');
writeLog(DONE, 'train', 2, '[sentinel] train attempt 2\n(RayTrainWorker pid=2) [train] resumed from iteration 5\n');
writeLog(DONE, 'tune', 1, '[sentinel] tune attempt 1\n[tune] done: best trial — ünïcode ✓\n');
const OLD = record('r00000b002', 'FAILED');
writeRecord(OLD);

describe('reading logs from the local store', () => {
  test('stageLogs lists every attempt in stage then attempt order, with sizes; readLog reads on from an offset', async () => {
    const h = new LocalRunHistory({ home });
    const found = await h.stageLogs(DONE.pipeline, DONE.runId);
    assert.deepEqual(found.map((l) => `${l.stage}-${l.attempt}`), ['ingest-1', 'train-1', 'train-2', 'tune-1']);
    assert.equal(found[0]!.uri, stageLogUri(root, DONE.pipeline, DONE.runId, 'ingest', 1));
    const text = '[sentinel] ingest attempt 1\n[ingest] binary: 569 rows\n';
    assert.equal(found[0]!.size, Buffer.byteLength(text));
    assert.equal(Buffer.from((await h.readLog(found[0]!.uri, 0))!).toString(), text);
    assert.equal(Buffer.from((await h.readLog(found[0]!.uri, 11))!).toString(), text.slice(11));
    assert.equal((await h.readLog(found[0]!.uri, found[0]!.size))!.length, 0, 'nothing new');
    assert.equal(await h.readLog(join(root, 'breast-cancer', DONE.runId, 'evaluate', 'logs', 'attempt-1.log'), 0), undefined);
    assert.equal(await h.readLog('/etc/passwd', 0), undefined, 'only logs under this home');
    assert.deepEqual(await h.stageLogs(OLD.pipeline, OLD.runId), []);
  });

  test('selectLogs: latest attempt by default, one attempt on request, what there is when it is missing', () => {
    const l = (stage: Stage, attempt: number): StageLog => ({ stage, attempt, uri: `${stage}/${attempt}`, size: 1 });
    const all = [l('tune', 1), l('train', 2), l('ingest', 1), l('train', 1)];
    assert.deepEqual(sortLogs(all).map((x) => x.uri), ['ingest/1', 'train/1', 'train/2', 'tune/1']);
    const every = selectLogs(all, 'r1');
    assert.ok('logs' in every);
    assert.deepEqual(every.logs.map((x) => x.uri), ['ingest/1', 'train/2', 'tune/1']);
    assert.deepEqual(every.older.map((x) => x.uri), ['train/1']);
    const one = selectLogs(all, 'r1', 'train', 1);
    assert.ok('logs' in one && one.logs[0]!.uri === 'train/1');
    const following = selectLogs(all, 'r1', 'train', undefined, true);
    assert.ok('logs' in following);
    assert.deepEqual(following.logs.map((x) => x.uri), ['train/1', 'train/2']);
    const noStage = selectLogs(all, 'r1', 'evaluate');
    assert.ok('problem' in noStage && noStage.problem === 'no-stage-logs');
    assert.deepEqual(noStage.available, ['ingest', 'train', 'tune']);
    const noAttempt = selectLogs(all, 'r1', 'train', 3);
    assert.ok('problem' in noAttempt && noAttempt.problem === 'no-attempt');
    assert.deepEqual(noAttempt.available, ['1', '2']);
    const none = selectLogs([], 'r1');
    assert.ok('problem' in none && none.problem === 'no-logs');
  });

  test('followDone: the run ended; the stage ended; one attempt ended or a later one started; a failed attempt while running is not the end', () => {
    const view = (status: 'RUNNING' | 'SUCCEEDED', train: Partial<StageView>) => ({
      status,
      stages: STAGES.map((stage): StageView => ({ stage, state: 'PENDING', metrics: {}, artifacts: {}, ...(stage === 'train' ? train : {}) })),
    });
    assert.equal(followDone(view('SUCCEEDED', {}), undefined), true);
    assert.equal(followDone(view('RUNNING', { state: 'SUCCEEDED', attempt: 1 }), undefined), false, 'the run goes on');
    assert.equal(followDone(view('RUNNING', { state: 'RUNNING', attempt: 1 }), 'train'), false);
    assert.equal(followDone(view('RUNNING', { state: 'SUCCEEDED', attempt: 1 }), 'train'), true);
    assert.equal(followDone(view('RUNNING', { state: 'FAILED', attempt: 1 }), 'train'), false, 'a retry may follow');
    assert.equal(followDone(view('RUNNING', { state: 'FAILED', attempt: 1 }), 'train', 1), true, 'that attempt is over');
    assert.equal(followDone(view('RUNNING', { state: 'RUNNING', attempt: 2 }), 'train', 1), true, 'a later attempt started');
    assert.equal(followDone(view('RUNNING', { state: 'RUNNING', attempt: 2 }), 'train', 2), false);
    assert.equal(followDone(view('RUNNING', { state: 'NOT_RUN' }), 'train'), true);
  });
});

describe('sentinel logs', () => {
  test('every stage in order under headers, the latest attempt of each', async () => {
    const r = await logs([DONE.runId]);
    assert.equal(r.code, 0, r.err);
    const headers = [...r.out.matchAll(/==> (\w+) · attempt (\d+)/g)].map((m) => `${m[1]}-${m[2]}`);
    assert.deepEqual(headers, ['ingest-1', 'train-2', 'tune-1']);
    assert.ok(r.out.indexOf('[ingest] binary: 569 rows') < r.out.indexOf('resumed from iteration 5'));
    assert.ok(!r.out.includes('[train] iteration 1'), 'attempt 1 is not the latest');
    assert.match(r.out, /earlier: attempt 1/);
    assert.ok(r.out.includes('ünïcode ✓'));
  });

  test('one stage, by a prefix of the run id: its text alone; --attempt picks one', async () => {
    const r = await logs([DONE.runId.slice(0, 7), 'train']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '[sentinel] train attempt 2\n(RayTrainWorker pid=2) [train] resumed from iteration 5\n');
    assert.match(r.err, /also kept attempt 1/);
    const one = await logs([DONE.runId, 'TRAIN', '--attempt', '1']);
    assert.equal(one.code, 0, one.err);
    assert.ok(one.out.includes('SpotInterruption') && !one.out.includes('resumed'));
  });

  test('exit 1 with what there is: a stage without a log, a missing attempt, a run without logs, no such run', async () => {
    const stage = await logs([DONE.runId, 'evaluate']);
    assert.equal(stage.code, 1);
    assert.match(stage.err, /stages with logs: ingest, train, tune/);
    const attempt = await logs([DONE.runId, 'train', '--attempt', '3']);
    assert.equal(attempt.code, 1);
    assert.match(attempt.err, /attempts with a log: 1, 2/);
    const none = await logs([OLD.runId]);
    assert.equal(none.code, 1);
    assert.match(none.err, /has no driver logs/);
    const missing = await logs(['r00000a009']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nearest: r00000a001/);
    assert.equal(missing.out, '');
  });

  test('exit 2 for bad usage: no RUN, an unknown stage (the stages listed), a bad or stray --attempt, an unknown flag', async () => {
    for (const args of [[], [DONE.runId, 'trian'], [DONE.runId, 'train', '--attempt', 'two'], [DONE.runId, 'train', '--attempt', '0'], [DONE.runId, '--attempt', '1'], [DONE.runId, '--tail'], [DONE.runId, 'train', 'tune']]) {
      const r = await logs(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    }
    const r = await logs([DONE.runId, 'trian']);
    assert.match(r.err, /the stages are ingest, train, tune, evaluate/);
  });
});

describe('sentinel logs --follow', () => {
  const labels = (runId: string, stage: string, attempt: number) => ({ 'sentinel.dev/pipeline': 'breast-cancer', 'sentinel.dev/run': runId, 'sentinel.dev/stage': stage, 'sentinel.dev/attempt': String(attempt) });
  const serving: ServingPort = { apply: async () => undefined, status: async () => ({ state: 'NOT_STARTED' }), endpoint: () => '' };
  const compute = (jobs: JobStatus[]): ComputePort => ({
    backend: 'ray-jobs',
    submit: async () => ({ jobId: '', created: false }),
    get: async () => undefined,
    list: async (sel) => jobs.filter((j) => Object.entries(sel).every(([k, v]) => j.labels[k] === v)),
    logs: async () => '',
    stop: async () => undefined,
  });
  const live = (jobs: JobStatus[]) => async () => new LocalRunHistory({ home, probe: async () => true, connect: () => ({ compute: compute(jobs), serving }) });

  test('streams a stage while its job appends, through a retry, and stops when the stage has ended', async () => {
    const run = record('r00000c003', 'RUNNING');
    writeRecord(run);
    const session = writeSessionFile(home, { dashboardUrl: 'http://127.0.0.1:9', servePort: 9 });
    addSessionRun(home, session.id, run.runId); // the live session runs it
    try {
      const jobs: JobStatus[] = [
        { jobId: `breast-cancer-${run.runId}-ingest-1`, state: 'SUCCEEDED', startTime: T0, endTime: T0 + 1000, labels: labels(run.runId, 'ingest', 1) },
        { jobId: `breast-cancer-${run.runId}-train-1`, state: 'RUNNING', startTime: T0 + 2000, labels: labels(run.runId, 'train', 1) },
      ];
      writeLog(run, 'train', 1, 'line one\n');
      let polls = 0;
      const following = logs([run.runId, 'train', '--follow'], { open: live(jobs), pollMs: 20 });
      // The job goes on writing: a line, a partial line, its end; then it fails and attempt 2 runs and succeeds.
      const steps: Array<() => void> = [
        () => writeLog(run, 'train', 1, 'line two\n', true),
        () => writeLog(run, 'train', 1, 'half a line', true),
        () => writeLog(run, 'train', 1, ' and the rest\nSpotInterruption\n', true),
        () => Object.assign(jobs[1]!, { state: 'FAILED', endTime: T0 + 5000 }),
        () => {
          jobs.push({ jobId: `breast-cancer-${run.runId}-train-2`, state: 'RUNNING', startTime: T0 + 6000, labels: labels(run.runId, 'train', 2) });
          writeLog(run, 'train', 2, 'attempt two starts\n');
        },
        () => writeLog(run, 'train', 2, 'attempt two ends\n', true),
        () => Object.assign(jobs[2]!, { state: 'SUCCEEDED', endTime: T0 + 9000 }),
      ];
      for (const step of steps) {
        await sleep(120);
        step();
        polls++;
      }
      const r = await following;
      assert.equal(r.code, 0, r.err);
      assert.equal(polls, steps.length);
      const body = r.out.replace(/^==> .*<==\n/gm, '');
      assert.equal(body, 'line one\nline two\nhalf a line and the rest\nSpotInterruption\nattempt two starts\nattempt two ends\n');
      assert.deepEqual([...r.out.matchAll(/==> train · attempt (\d)/g)].map((m) => m[1]), ['1', '2'], 'a header at each attempt');
    } finally {
      removeSessionFile(home, session.id);
    }
  });

  test('without STAGE: every stage as it starts, until the run record says it ended', async () => {
    const run = record('r00000d004', 'RUNNING');
    writeRecord(run);
    const session = writeSessionFile(home, { dashboardUrl: 'http://127.0.0.1:9', servePort: 9 });
    addSessionRun(home, session.id, run.runId); // the live session runs it
    try {
      const jobs: JobStatus[] = [{ jobId: `breast-cancer-${run.runId}-ingest-1`, state: 'RUNNING', startTime: T0, labels: labels(run.runId, 'ingest', 1) }];
      const following = logs([run.runId, '--follow'], { open: live(jobs), pollMs: 20 });
      await sleep(100);
      writeLog(run, 'ingest', 1, '[ingest] rows\n');
      await sleep(100);
      Object.assign(jobs[0]!, { state: 'SUCCEEDED', endTime: T0 + 1000 });
      jobs.push({ jobId: `breast-cancer-${run.runId}-train-1`, state: 'RUNNING', startTime: T0 + 2000, labels: labels(run.runId, 'train', 1) });
      writeLog(run, 'train', 1, '[train] iteration 1\n');
      await sleep(100);
      writeLog(run, 'train', 1, '[train] wrote result.json\n', true);
      writeRecord({ ...run, status: 'FAILED', endedAt: new Date(T0 + 3000).toISOString(), outcome: { error: 'RayJobFailed', cause: 'tune failed', stage: 'Tune' } });
      const r = await following;
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /waiting for the first stage/);
      assert.deepEqual([...r.out.matchAll(/==> (\w+) · attempt/g)].map((m) => m[1]), ['ingest', 'train']);
      assert.ok(r.out.includes('[ingest] rows\n') && r.out.endsWith('[train] iteration 1\n[train] wrote result.json\n'), r.out);
    } finally {
      removeSessionFile(home, session.id);
    }
  });

  test('a run that has ended is printed once and the command returns; one whose stage never wrote a log says so', async () => {
    const r = await logs([DONE.runId, 'tune', '--follow'], { pollMs: 20 });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.replace(/^==> .*<==\n/gm, ''), '[sentinel] tune attempt 1\n[tune] done: best trial — ünïcode ✓\n');
    const none = await logs([DONE.runId, 'evaluate', '--follow'], { pollMs: 20 });
    assert.equal(none.code, 1);
    assert.match(none.err, /stages with logs: ingest, train, tune/);
  });
});
