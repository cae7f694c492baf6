// Steering runs on a real Ray head, as a user would from a second terminal, in one home:
//  1. a run is cancelled once train has written a checkpoint (`logs --follow` on it ends with it); it reads CANCELLED;
//     `resume` reuses ingest and continues train from that checkpoint to the end; its model becomes the first champion
//     (a deliberately weak one: stumps, a tiny learning rate), and rollback says there is nothing to go back to;
//  2. a CLI killed with SIGKILL: the next command marks its run ABANDONED and stops its Ray head; `resume` completes it
//     with the reference model, which beats the weak champion and is promoted; `logs RUN train --follow` on the resumed
//     run ends when train ends, while the run goes on; then `rollback` puts the first champion back behind the route
//     (champion.json, the serve config's model, `status --json`), publishes `Model Rolled Back` (recorded with the
//     rollback, and sent to the spec's webhook by the notify handler).
// After each, no Ray process or job of the runs is left.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { referenceSpec, repoRoot } from '../support/harness.js';
import { freePort } from '../../local/ray-head.js';
import type { ChampionRecord, RunRecord } from '../../core/model.js';
import { RUN_EVENT_TYPES } from '../../core/run-event-names.js';

// What bin/sentinel execs once scripts/bootstrap.sh has checked the install (done before the suites run): called
// directly, a command of this file never reinstalls node_modules under the others.
const node = join(repoRoot, 'node_modules', '.bin', 'node');
const sentinel = ['--import', join(repoRoot, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs'), join(repoRoot, 'cli', 'main.ts')];
const env = { ...process.env, CI: '1', NO_COLOR: '1' };
const PIPELINE = 'breast-cancer';
const ITERATIONS = 100;

/** The temp folder of every Ray head a command of this file started (its processes run under it). */
const rayHeads = new Set<string>();

/** A CLI command in a child process; asynchronous, so the other children's pipes keep draining meanwhile. */
function start(args: string[]) {
  const child = spawn(node, [...sentinel, ...args], { env, cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  let exitedAt: number | undefined;
  const exited = new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    // A command that could not start at all (its executable gone) ends here, as a failed command.
    child.on('error', (e) => {
      if (exitedAt !== undefined) return;
      exitedAt = Date.now();
      resolve({ code: null, out, err: `${err}${e.message}` });
    });
    child.on('exit', (code) => {
      exitedAt = Date.now();
      // 'exit' can come before the pipes' last data: wait for them to close.
      let open = 2;
      const done = () => {
        if (--open) return;
        for (const m of (out + err).matchAll(/processes under (\S+)/g)) rayHeads.add(m[1]!);
        resolve({ code, out, err });
      };
      if (child.stdout!.closed) done();
      else child.stdout!.on('close', done);
      if (child.stderr!.closed) done();
      else child.stderr!.on('close', done);
    });
  });
  return { child, exited, out: () => out, err: () => err, exitedAt: () => exitedAt };
}
const cli = async (...args: string[]) => {
  const r = await start(args).exited;
  return { code: r.code, out: r.out, err: r.err };
};

const processesUsing = (pattern: string) => {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

/** Polls `check` until it returns something, for at most `ms`. */
async function until<T>(what: string, ms: number, check: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(200);
  }
}

const readJson = <T>(file: string): T | undefined => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined; // absent, or being written
  }
};

const home = mkdtempSync(join(tmpdir(), 'sentinel-steer-'));
const root = join(home, 'bucket', 'artifacts', PIPELINE);
const record = (runId: string) => readJson<RunRecord>(join(root, runId, 'run.json'))!;
const champion = () => readJson<ChampionRecord>(join(root, 'champion.json'));

/**
 * The reference pipeline, small: 100 boosting rounds checkpointed every 5 (a checkpoint costs about 2 s here, so a
 * cancel that takes 20 s on a loaded machine still lands mid-train), two tune trials. `weak`: a split must gain more
 * than gamma = 10^6, so no tree splits and every prediction is the base rate (ROC AUC 0.5 exactly), in train and
 * tune; the reference model that comes second (about 0.99) beats it by far more than the gate's margin.
 */
function writeSpec(name: string, o: { weak: boolean; webhook?: string }) {
  const s = referenceSpec() as any;
  s.stages.train.iterations = ITERATIONS;
  s.stages.train.checkpointEvery = 5;
  Object.assign(s.stages.tune, { numSamples: 2, maxConcurrent: 2, maxIterations: 10, gracePeriod: 5 });
  if (o.weak) {
    s.model.params = { gamma: 1e6 };
    s.stages.tune.searchSpace = { gamma: { type: 'choice', values: [1e6] } };
  }
  s.gate.floor = 0.4; // the weak model (0.5) must become the first champion
  s.serve.replicas = { min: 1, max: 1 };
  if (o.webhook) s.notify = { webhookUrl: o.webhook, on: ['rolledBack'] };
  const spec = join(home, name);
  writeFileSync(spec, stringify(s));
  return spec;
}

/** `sentinel run` in the background, until train is running; its run id from the home. */
async function runUntilTrain(spec: string) {
  const before = new Set(existsSync(root) ? readdirSync(root) : []);
  const run = start(['run', '--spec', spec, '--home', home, '--no-serve', '--no-tracking', '--port', String(await freePort())]);
  const text = () => run.out() + run.err();
  await until('train to run', 600_000, () => {
    if (run.exitedAt() !== undefined) assert.fail(`sentinel run exited before train ran:\n${text().slice(-3000)}`);
    return /train\s+RUNNING\s+\S+\s+\S*-train-1/.test(text());
  });
  const fresh = readdirSync(root).filter((d) => /^r[0-9a-f]{9}$/.test(d) && !before.has(d) && existsSync(join(root, d, 'run.json')));
  assert.equal(fresh.length, 1, `one new run: ${fresh.join(', ')}`);
  const runId = fresh[0]!;
  assert.equal(record(runId).status, 'RUNNING');
  const tempDir = /processes under (\S+)/.exec(text())?.[1];
  assert.ok(tempDir, text());
  rayHeads.add(tempDir);
  return { ...run, runId, tempDir };
}

/** The latest checkpoint train has registered (Ray Train's snapshot of its checkpoint manager), if any. */
function latestCheckpoint(runId: string): number | undefined {
  const snapshot = readJson<{ checkpoint_results?: Array<{ metrics?: { iteration?: number } }> }>(join(root, runId, 'train', 'checkpoints', 'train', 'checkpoint_manager_snapshot.json'));
  const iterations = (snapshot?.checkpoint_results ?? []).map((c) => c.metrics?.iteration ?? 0);
  return iterations.length ? Math.max(...iterations) : undefined;
}

/** The run `resume SOURCE` started (its run.json says so). */
const resumedRunOf = (source: string) =>
  readdirSync(root).find((d) => /^r[0-9a-f]{9}$/.test(d) && readJson<RunRecord>(join(root, d, 'run.json'))?.resumeOf?.runId === source);

// A test that failed midway leaves nothing behind: a command still going gets Ctrl-C (which stops its run and Ray
// head), then SIGKILL; then a command on the home marks what a killed one left ABANDONED and stops its Ray head.
const children: ChildProcess[] = [];
after(async () => {
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  if (!alive.length) return;
  await Promise.all(
    alive.map(async (c) => {
      const gone = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGINT');
      if (!(await Promise.race([gone.then(() => true), sleep(30_000).then(() => false)]))) c.kill('SIGKILL');
    }),
  );
  await cli('runs', '--home', home);
});

let firstChampion: string | undefined;

test('cancel once train has a checkpoint → CANCELLED → resume continues train from it → first champion', { timeout: 900_000 }, async (t) => {
  const r = await runUntilTrain(writeSpec('weak.yaml', { weak: true }));
  children.push(r.child);
  // A second terminal follows train's log.
  const follow = start(['logs', r.runId, 'train', '--follow', '--home', home]);
  children.push(follow.child);
  const status = await cli('status', r.runId, '--json', '--home', home);
  assert.equal(JSON.parse(status.out).status, 'RUNNING', status.err);

  const checkpointed = await until('train to write its first checkpoint', 300_000, () => {
    if (r.exitedAt() !== undefined) assert.fail(`sentinel run exited before train checkpointed:\n${(r.out() + r.err()).slice(-3000)}`);
    return latestCheckpoint(r.runId);
  });
  const t0 = Date.now();
  const cancel = await cli('cancel', r.runId, '--json', '--home', home);
  const cancelSeconds = (Date.now() - t0) / 1000;
  assert.equal(cancel.code, 0, cancel.err + cancel.out);
  const c = JSON.parse(cancel.out);
  assert.equal(c.status, 'CANCELLED');
  assert.deepEqual(c.jobsLeft, [], 'Ray reports no job of the run running');
  assert.match(c.by, /sentinel cancel/);
  const { code } = await r.exited;
  assert.notEqual(code, 0, 'the cancelled `sentinel run` does not exit 0');
  assert.equal(processesUsing(r.tempDir), 0, 'no process of its Ray head is left');
  assert.equal(existsSync(join(root, r.runId, 'train', 'result.json')), false, 'train had not finished when the cancel landed');
  t.diagnostic(`cancel at checkpoint iteration ${checkpointed} → CANCELLED with no Ray job running in ${cancelSeconds.toFixed(1)} s`);

  // `logs --follow` ended with the stage; what it streamed is the attempt's driver log, as `logs RUN train` prints it.
  const followed = await Promise.race([follow.exited, sleep(60_000).then(() => undefined)]);
  assert.ok(followed, '`logs --follow` ends once the cancelled train has ended');
  assert.equal(followed.code, 0, followed.err);
  const logFile = join(root, r.runId, 'train', 'logs', 'attempt-1.log');
  const driverLog = readFileSync(logFile, 'utf8');
  assert.match(driverLog, new RegExp(`^\\[sentinel\\] train attempt 1 of run ${r.runId}`));
  assert.match(driverLog, new RegExp(`\\[train\\] sentinel_jobs\\.models\\.xgboost .*${ITERATIONS} iterations`));
  assert.match(followed.out, /==> train · attempt 1 .*attempt-1\.log/);
  assert.ok(followed.out.includes(driverLog.trimEnd()), '`logs --follow` streamed the whole attempt log');
  const logs = await cli('logs', r.runId, 'train', '--home', home);
  assert.equal(logs.code, 0, logs.err);
  assert.ok(logs.out.includes(driverLog.trimEnd()), `\`logs RUN train\` prints attempt-1.log:\n${logs.out.slice(0, 500)}`);

  const after = await cli('status', r.runId, '--json', '--home', home);
  assert.equal(JSON.parse(after.out).status, 'CANCELLED');
  assert.equal(record(r.runId).ended?.by, c.by);
  assert.equal((await cli('cancel', r.runId, '--home', home)).code, 1, 'cancelling it again: already ended');

  const t1 = Date.now();
  const resumed = await cli('resume', r.runId, '--json', '--no-tracking', '--port', String(await freePort()), '--home', home);
  t.diagnostic(`resume wall ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  assert.equal(resumed.code, 0, resumed.err.slice(-3000));
  const report = JSON.parse(resumed.out);
  assert.equal(report.outcome.status, 'SUCCEEDED');
  const ingest = report.stages.find((s: { stage: string }) => s.stage === 'ingest');
  assert.equal(ingest.details.reusedFrom, r.runId, 'ingest reused from the cancelled run');
  assert.match(resumed.err, new RegExp(`ingest reused from ${r.runId}`));
  assert.deepEqual(record(report.runId).resumeOf, { runId: r.runId, attempt: 1, reused: ['ingest'] });
  // Train continued from the cancelled run's checkpoint (the one seen before the cancel, or a later one written before
  // the job stopped) and ran to the end.
  const train = report.stages.find((s: { stage: string }) => s.stage === 'train');
  assert.equal(train.details.reusedFrom, undefined);
  assert.ok(train.details.resumedFromIteration >= checkpointed, `train resumed from the cancelled run's checkpoint (≥ ${checkpointed}): ${JSON.stringify(train.details)}`);
  assert.ok(train.details.resumedFromIteration < ITERATIONS, `a checkpoint before the end: ${train.details.resumedFromIteration}`);
  assert.equal(train.details.resumedFromIteration % 5, 0);
  const trainResult = readJson<{ stage: string; metrics: Record<string, number>; artifacts: Record<string, string> }>(join(root, report.runId, 'train', 'result.json'))!;
  assert.equal(trainResult.stage, 'train');
  assert.equal(trainResult.metrics.iterations, ITERATIONS, 'the resumed train reached every iteration');
  assert.ok(Number.isFinite(trainResult.metrics.validation_roc_auc));
  assert.ok(existsSync(trainResult.artifacts.model!), `its model folder is there: ${trainResult.artifacts.model}`);
  assert.match(readFileSync(join(root, report.runId, 'train', 'logs', 'attempt-1.log'), 'utf8'), new RegExp(`resuming from checkpoint at iteration ${train.details.resumedFromIteration}/${ITERATIONS}`));
  t.diagnostic(`reused ingest; train resumed from iteration ${train.details.resumedFromIteration} (checkpoint seen at ${checkpointed}) to ${ITERATIONS}`);

  const again = await cli('resume', r.runId, '--json', '--home', home);
  assert.equal(again.code, 0, again.err);
  assert.equal(JSON.parse(again.out).runId, report.runId, 'the same command finds the same resumed run');

  // The weak model is the first champion: nothing to roll back to, said so; nothing changed.
  const first = champion();
  assert.equal(first?.current.runId, report.runId);
  assert.equal(first!.previous, undefined);
  assert.equal(first!.current.value, 0.5, 'the base-rate model scores ROC AUC 0.5');
  firstChampion = report.runId;
  const text = readFileSync(join(root, 'champion.json'), 'utf8');
  const rb = await cli('rollback', PIPELINE, '--reason', 'e2e', '--home', home);
  assert.equal(rb.code, 1);
  assert.match(rb.err, /no previous champion/);
  assert.equal(readFileSync(join(root, 'champion.json'), 'utf8'), text);
  assert.ok(rayHeads.size >= 2, `the run's and the resume's Ray heads: ${[...rayHeads].join(', ')}`);
  for (const dir of rayHeads) assert.equal(processesUsing(dir), 0, `no process of the Ray head under ${dir} is left`);
});

test('a SIGKILLed CLI → ABANDONED → resume promotes a second champion → rollback to the first; no Ray process left', { timeout: 900_000 }, async (t) => {
  assert.ok(firstChampion, 'the first test promoted a champion in this home');
  // A Slack-compatible webhook on this machine: the spec says rollbacks notify it.
  const hooks: Array<{ text: string }> = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString()));
    req.on('end', () => {
      hooks.push(JSON.parse(body) as { text: string });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t.after(() => hook.close());
  const spec = writeSpec('reference.yaml', { weak: false, webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` });

  const r = await runUntilTrain(spec);
  r.child.kill('SIGKILL');
  await r.exited;
  assert.ok(processesUsing(r.tempDir) > 0, 'SIGKILL leaves the Ray head running');
  const runs = await cli('runs', '--json', '--home', home);
  assert.equal(runs.code, 0, runs.err);
  const row = (JSON.parse(runs.out) as Array<{ runId: string; status: string }>).find((x) => x.runId === r.runId);
  assert.equal(row?.status, 'ABANDONED');
  const rec = record(r.runId);
  assert.equal(rec.status, 'ABANDONED');
  assert.match(rec.ended!.reason, new RegExp(`CLI process ${r.child.pid} exited without finishing; found by \`sentinel runs\``));
  assert.equal(processesUsing(r.tempDir), 0, "the dead CLI's Ray head is stopped");

  const t1 = Date.now();
  const resume = start(['resume', r.runId, '--json', '--no-tracking', '--port', String(await freePort()), '--home', home]);
  children.push(resume.child);
  const second = await until('the resumed run to be recorded', 300_000, () => {
    if (resume.exitedAt() !== undefined) assert.fail(`resume exited early:\n${resume.err().slice(-3000)}`);
    return resumedRunOf(r.runId);
  });
  // Following the resumed run's train: it ends when train ends, while the run goes on (tune, evaluate, promote).
  const follow = await cli('logs', second, 'train', '--follow', '--home', home);
  assert.equal(follow.code, 0, follow.err);
  assert.ok(existsSync(join(root, second, 'train', 'result.json')), 'train had ended when `logs --follow` did');
  assert.equal(resume.exitedAt(), undefined, '`logs RUN train --follow` ended before the run did');
  assert.equal(record(second).status, 'RUNNING');
  assert.match(follow.out, /==> train · attempt 1 /);
  assert.match(follow.out, new RegExp(`\\[train\\] done: ${ITERATIONS} iterations`));

  const resumed = await resume.exited;
  t.diagnostic(`resume wall ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  assert.equal(resumed.code, 0, resumed.err.slice(-3000));
  const report = JSON.parse(resumed.out);
  assert.equal(report.outcome.status, 'SUCCEEDED');
  assert.equal(report.runId, second);
  // The reference model beat the weak champion and serves: the first call after the run reached it.
  const promoted = champion()!;
  assert.equal(promoted.current.runId, second, `promoted: ${JSON.stringify(record(second).outcome)}`);
  assert.equal(promoted.previous?.runId, firstChampion);
  assert.ok(promoted.current.value > promoted.previous!.value, `${promoted.current.value} > ${promoted.previous!.value}`);
  assert.ok(JSON.stringify(report.firstCall?.body ?? {}).includes(`"runId":"${second}"`), `the route served ${second}: ${JSON.stringify(report.firstCall)}`);

  // Roll back to the first champion.
  const rb = await cli('rollback', PIPELINE, '--reason', 'e2e', '--json', '--home', home);
  assert.equal(rb.code, 0, rb.err);
  assert.doesNotMatch(rb.err, /notification was not sent/, 'the notification was sent');
  const change = JSON.parse(rb.out);
  assert.deepEqual({ from: change.from, to: change.to, reason: change.reason, where: change.where }, { from: second, to: firstChampion, reason: 'e2e', where: 'recorded' });
  const now = champion()!;
  assert.equal(now.current.runId, firstChampion);
  assert.equal(now.previous?.runId, second);
  assert.deepEqual(now.current, promoted.previous, 'the first champion, as it was recorded');
  const serve = (now.current.serveConfig as { args: { run_id: string; model_uri: string } }).args;
  assert.equal(serve.run_id, firstChampion, "the route's serve config is the first champion's");
  assert.equal(serve.model_uri, promoted.previous!.modelUri);
  assert.ok(serve.model_uri.includes(`/${firstChampion}/`) && existsSync(serve.model_uri), serve.model_uri);
  assert.deepEqual(now.history?.map((h) => [h.action, h.from, h.to, h.reason]), [['rollback', second, firstChampion, 'e2e']]);
  // Model Rolled Back: published, recorded with the rollback, and notified as the spec asks.
  assert.equal(change.event?.['detail-type'], RUN_EVENT_TYPES.rolledBack);
  assert.deepEqual({ runId: change.event.detail.runId, from: change.event.detail.from, reason: change.event.detail.reason }, { runId: firstChampion, from: second, reason: 'e2e' });
  const records = readdirSync(join(root, 'rollbacks'));
  assert.equal(records.length, 1);
  const stored = readJson<{ event?: { id: string; 'detail-type': string } }>(join(root, 'rollbacks', records[0]!))!;
  assert.deepEqual(stored.event, change.event);
  assert.equal(hooks.length, 1, `one webhook message: ${JSON.stringify(hooks)}`);
  assert.ok(hooks[0]!.text.includes(`rolled back to ${firstChampion}`) && hooks[0]!.text.includes(`was ${second}`), hooks[0]!.text);
  // What `status` shows for the run that was champion.
  const status = await cli('status', second, '--json', '--home', home);
  assert.equal(status.code, 0, status.err);
  const view = JSON.parse(status.out);
  assert.equal(view.status, 'SUCCEEDED');
  assert.deepEqual({ runId: view.champion.runId, isThisRun: view.champion.isThisRun, previousRunId: view.champion.previousRunId, modelUri: view.champion.modelUri }, { runId: firstChampion, isThisRun: false, previousRunId: second, modelUri: serve.model_uri });
  t.diagnostic(`rollback ${second} → ${firstChampion} (roc_auc ${now.current.value.toFixed(4)} serving again in place of ${promoted.current.value.toFixed(4)})`);

  assert.ok(rayHeads.size >= 4, `every command's Ray head: ${[...rayHeads].join(', ')}`);
  for (const dir of rayHeads) assert.equal(processesUsing(dir), 0, `no process of the Ray head under ${dir} is left`);
  assert.equal(processesUsing(home), 0, 'no process of this home is left (no Ray job driver, no CLI)');
});
