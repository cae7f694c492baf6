// Steering runs on a real Ray head, as a user would from a second terminal: cancel a run mid-train, see it CANCELLED,
// resume it (ingest reused, train from its checkpoint if it wrote one), roll back; and a CLI killed with SIGKILL whose
// run the next command marks ABANDONED and `resume` completes. After each, no Ray process of the run is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { referenceSpec, repoRoot } from '../support/harness.js';
import { freePort } from '../../local/ray-head.js';
import type { RunRecord } from '../../core/model.js';

const bin = join(repoRoot, 'bin', 'sentinel');
const env = { ...process.env, CI: '1', NO_COLOR: '1' };
const cli = (...args: string[]) => {
  const r = spawnSync(bin, args, { encoding: 'utf8', cwd: repoRoot, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const processesUsing = (dir: string) => {
  try {
    return execFileSync('pgrep', ['-f', dir], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

function smallSpec(home: string) {
  const s = referenceSpec() as any;
  s.stages.train.iterations = 60;
  s.stages.train.checkpointEvery = 5;
  Object.assign(s.stages.tune, { numSamples: 2, maxConcurrent: 2, maxIterations: 10, gracePeriod: 5 });
  s.serve.replicas = { min: 1, max: 1 };
  const spec = join(home, 'small.yaml');
  writeFileSync(spec, stringify(s));
  return spec;
}

/** `sentinel run` in the background, until train is running; its run id from the home. */
async function runUntilTrain(home: string, spec: string) {
  const child = spawn(bin, ['run', '--spec', spec, '--home', home, '--no-serve', '--no-tracking', '--port', String(await freePort())], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  while (!/train\s+RUNNING\s+\S+\s+\S*-train-1/.test(out)) {
    if (done) assert.fail(`sentinel run exited before train ran:\n${out.slice(-3000)}`);
    await sleep(200);
  }
  const root = join(home, 'bucket', 'artifacts', 'breast-cancer');
  const runIds = readdirSync(root).filter((d) => /^r[0-9a-f]{9}$/.test(d) && existsSync(join(root, d, 'run.json')));
  const running = runIds.filter((id) => (JSON.parse(readFileSync(join(root, id, 'run.json'), 'utf8')) as RunRecord).status === 'RUNNING');
  assert.equal(running.length, 1, `one run is RUNNING: ${runIds.join(', ')}`);
  const tempDir = /processes under (\S+)/.exec(out)?.[1];
  assert.ok(tempDir, out);
  return { child, runId: running[0]!, tempDir, exited, out: () => out, root };
}

const record = (root: string, runId: string) => JSON.parse(readFileSync(join(root, runId, 'run.json'), 'utf8')) as RunRecord;

test('cancel mid-train → CANCELLED → resume (ingest reused) succeeds → rollback; no Ray process left', { timeout: 900_000 }, async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'sentinel-steer-'));
  const spec = smallSpec(home);
  const r = await runUntilTrain(home, spec);
  const status = cli('status', r.runId, '--json', '--home', home);
  assert.equal(JSON.parse(status.out).status, 'RUNNING', status.err);

  const t0 = Date.now();
  const cancel = cli('cancel', r.runId, '--json', '--home', home);
  const cancelSeconds = (Date.now() - t0) / 1000;
  assert.equal(cancel.code, 0, cancel.err + cancel.out);
  const c = JSON.parse(cancel.out);
  assert.equal(c.status, 'CANCELLED');
  assert.deepEqual(c.jobsLeft, [], 'Ray reports no job of the run running');
  assert.match(c.by, /sentinel cancel/);
  const code = await r.exited;
  assert.notEqual(code, 0, 'the cancelled `sentinel run` does not exit 0');
  assert.equal(processesUsing(r.tempDir), 0, 'no process of its Ray head is left');
  t.diagnostic(`cancel → CANCELLED with no Ray job running in ${cancelSeconds.toFixed(1)} s`);

  const after = cli('status', r.runId, '--json', '--home', home);
  assert.equal(JSON.parse(after.out).status, 'CANCELLED');
  assert.equal(record(r.root, r.runId).ended?.by, c.by);
  assert.equal(cli('cancel', r.runId, '--home', home).code, 1, 'cancelling it again: already ended');

  const t1 = Date.now();
  const resumed = cli('resume', r.runId, '--json', '--no-tracking', '--port', String(await freePort()), '--home', home);
  t.diagnostic(`resume wall ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  assert.equal(resumed.code, 0, resumed.err.slice(-3000));
  const report = JSON.parse(resumed.out);
  assert.equal(report.outcome.status, 'SUCCEEDED');
  const ingest = report.stages.find((s: { stage: string }) => s.stage === 'ingest');
  assert.equal(ingest.details.reusedFrom, r.runId, 'ingest reused from the cancelled run');
  assert.match(resumed.err, new RegExp(`ingest reused from ${r.runId}`));
  // What the cancelled run had finished (train may have ended before the cancel landed) is what was reused.
  const finished = ['ingest', 'train', 'tune', 'evaluate'].filter((s, i, all) => all.slice(0, i + 1).every((x) => existsSync(join(r.root, r.runId, x, 'result.json'))));
  const resumedRecord = record(r.root, report.runId);
  assert.deepEqual(resumedRecord.resumeOf, { runId: r.runId, attempt: 1, reused: finished });
  const train = report.stages.find((s: { stage: string }) => s.stage === 'train');
  if (finished.includes('train')) assert.equal(train.details.reusedFrom, r.runId);
  else if (existsSync(join(r.root, r.runId, 'train', 'checkpoints'))) assert.ok(train.details.resumedFromIteration > 0, `train resumed from the cancelled run's checkpoint: ${JSON.stringify(train.details)}`);
  t.diagnostic(`reused ${finished.join(', ')}; train ${train.details.reusedFrom ? 'reused' : `resumed from iteration ${train.details.resumedFromIteration ?? 0}`}`);

  const again = cli('resume', r.runId, '--json', '--home', home);
  assert.equal(again.code, 0, again.err);
  assert.equal(JSON.parse(again.out).runId, report.runId, 'the same command finds the same resumed run');

  // One champion so far: nothing to roll back to, said so; nothing changed.
  const champion = readFileSync(join(r.root, 'champion.json'), 'utf8');
  const rb = cli('rollback', 'breast-cancer', '--reason', 'e2e', '--home', home);
  assert.equal(rb.code, 1);
  assert.match(rb.err, /no previous champion/);
  assert.equal(readFileSync(join(r.root, 'champion.json'), 'utf8'), champion);
  assert.equal(processesUsing(join(tmpdir(), 'sentinel-ray-')), 0, 'no Ray process is left on the machine');
});

test('a SIGKILLed CLI: the next command marks its run ABANDONED and stops its Ray head; resume completes it', { timeout: 900_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'sentinel-steer-kill-'));
  const spec = smallSpec(home);
  const r = await runUntilTrain(home, spec);
  r.child.kill('SIGKILL');
  await r.exited;
  assert.ok(processesUsing(r.tempDir) > 0, 'SIGKILL leaves the Ray head running');
  const runs = cli('runs', '--json', '--home', home);
  assert.equal(runs.code, 0, runs.err);
  const row = (JSON.parse(runs.out) as Array<{ runId: string; status: string; outcome: { reason: string } }>).find((x) => x.runId === r.runId);
  assert.equal(row?.status, 'ABANDONED');
  const rec = record(r.root, r.runId);
  assert.equal(rec.status, 'ABANDONED');
  assert.match(rec.ended!.reason, new RegExp(`CLI process ${r.child.pid} exited without finishing; found by \`sentinel runs\``));
  assert.equal(processesUsing(r.tempDir), 0, 'the dead CLI\'s Ray head is stopped');
  const resumed = cli('resume', r.runId, '--json', '--no-tracking', '--port', String(await freePort()), '--home', home);
  assert.equal(resumed.code, 0, resumed.err.slice(-3000));
  assert.equal(JSON.parse(resumed.out).outcome.status, 'SUCCEEDED');
});
