// `sentinel status` and `sentinel runs` against a live `sentinel run --serve` on a real Ray head (small budgets, as in
// local-pipeline.test.ts): while it serves, status shows every stage succeeded, the gate's decision, the serving
// replicas and a dashboard URL that answers, and never the dashboard's token; after Ctrl-C the session file is gone
// and status shows the run from its records alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { referenceSpec, repoRoot } from '../support/harness.js';
import { freePort } from '../../local/ray-head.js';
import { sessionFilePath, type SessionFile } from '../../local/session-file.js';
import type { RunRow, RunStatusView } from '../../core/run-history.js';
import { statusCommand } from '../../cli/status.js';
import { runsCommand } from '../../cli/runs.js';
import { logsCommand } from '../../cli/logs.js';
import { resultUri, stageLogUri } from '../../core/artifacts.js';
import { STAGES } from '../../core/stages.js';
import { checkReport } from '../support/report-check.js';

const node = join(repoRoot, 'node_modules', '.bin', 'node');
const cli = (...args: string[]) => {
  const r = spawnSync(node, ['--import', 'tsx', join(repoRoot, 'cli', 'main.ts'), ...args], { encoding: 'utf8', cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** The same commands in this process (a CLI start costs seconds on a loaded machine; `cli` covers the binary once). */
async function inProcess(fn: (args: string[]) => Promise<number>, ...args: string[]) {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((c: string) => (chunks.push(String(c)), true)) as typeof process.stdout.write;
  try {
    const code = await fn(args);
    return { code, out: chunks.join(''), err: '' };
  } finally {
    process.stdout.write = write;
  }
}

/** Any HTTP answer at all (Ray's dashboard may refuse a request without its token, but it answers). */
const answers = (url: string) =>
  new Promise<number>((resolve, reject) => {
    const req = request(url, { timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });

test('status and runs of a live `sentinel run --serve`, then after Ctrl-C', { timeout: 420_000 }, async (t) => {
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${what} at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const home = mkdtempSync(join(tmpdir(), 'sentinel-status-e2e-'));
  const s = referenceSpec() as any;
  s.stages.train.iterations = 20;
  s.stages.train.checkpointEvery = 5;
  Object.assign(s.stages.tune, { numSamples: 3, maxConcurrent: 2, maxIterations: 12, gracePeriod: 3 });
  s.serve.replicas = { min: 1, max: 2 };
  const spec = join(home, 'small.yaml');
  writeFileSync(spec, stringify(s));

  const child = spawn(join(repoRoot, 'bin', 'sentinel'), ['run', '--spec', spec, '--home', home, '--serve', '--port', String(await freePort())], {
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let serving!: () => void;
  const served = new Promise<void>((resolve) => (serving = resolve));
  // `sentinel logs RUN --follow`, started as soon as the run has an id: it streams every stage while the jobs write.
  let follower: ReturnType<typeof spawn> | undefined;
  let followed = '';
  let followErr = '';
  let followExit: Promise<number | null> | undefined;
  const on = (b: Buffer) => {
    out += b.toString();
    const started = /Run (r[0-9a-f]{9})\s/.exec(out)?.[1];
    if (started && !follower) {
      follower = spawn(node, ['--import', 'tsx', join(repoRoot, 'cli', 'main.ts'), 'logs', started, '--follow', '--home', home], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      follower.stdout!.on('data', (c: Buffer) => (followed += c.toString()));
      follower.stderr!.on('data', (c: Buffer) => (followErr += c.toString()));
      const f = follower;
      followExit = new Promise((resolve) => f.on('exit', (code) => resolve(code)));
    }
    if (/Serving http:\S+ — press Ctrl-C/.test(out)) serving();
  };
  child.stdout.on('data', on);
  child.stderr.on('data', on);
  try {
    let isServing = false;
    await Promise.race([
      served.then(() => (isServing = true)),
      exited.then((code) => {
        if (!isServing) assert.fail(`sentinel run exited (${code}) before serving:\n${out.slice(-3000)}`);
      }),
    ]);
    mark('serving');
    const runId = /Run (r[0-9a-f]{9}) SUCCEEDED/.exec(out)?.[1];
    assert.ok(runId, out.slice(-2000));

    // The live session's file: private, with the dashboard and this process.
    const file = sessionFilePath(home);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const session = JSON.parse(readFileSync(file, 'utf8')) as SessionFile;
    assert.equal(session.pid, child.pid);
    assert.ok(session.runs.includes(runId));

    const st = cli('status', runId, '--json', '--home', home);
    assert.equal(st.code, 0, st.err);
    const v = JSON.parse(st.out) as RunStatusView;
    assert.equal(v.status, 'SUCCEEDED');
    assert.deepEqual(v.stages.map((x) => x.state), ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    assert.ok(v.stages.every((x) => x.attempt === 1 && x.seconds! > 0), JSON.stringify(v.stages));
    assert.equal(v.gate?.decision, 'PROMOTE', 'a first run in a fresh home clears the floor');
    assert.ok(v.gate?.reason);
    assert.equal(v.champion?.runId, runId);
    assert.ok(v.controlPlane && v.controlPlane.attempts >= 4, 'the control-plane metrics digest');
    assert.ok(v.tracking && 'url' in v.tracking, 'tracked in MLflow');
    assert.ok(v.live, 'the session is live');
    assert.equal(v.live.dashboardAnswers, true);
    assert.equal(v.live.dashboardUrl, session.dashboardUrl);
    const code = await answers(v.live.dashboardUrl);
    assert.ok(code > 0 && code < 500, `the dashboard answers (HTTP ${code})`);
    assert.ok(v.live.serving?.replicas && v.live.serving.replicas.running >= 1, JSON.stringify(v.live.serving));
    assert.equal(v.live.serving.status?.runId, runId);
    assert.ok(session.dashboardToken, 'the head uses token auth');
    assert.ok(!st.out.includes(session.dashboardToken!), 'status never prints the token');

    mark('status --json (the sentinel command)');
    const text = await inProcess(statusCommand, runId, '--home', home);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /replicas\s+\d+ running \(target \d+\) · autoscaling 1–2/);
    assert.ok(!text.out.includes(session.dashboardToken!));

    // Driver logs that outlive the cluster: each stage's attempt-1.log, written by its job beside its result.
    const root = join(home, 'bucket', 'artifacts');
    const logText: Record<string, string> = {};
    for (const stage of STAGES) {
      const file = stageLogUri(root, 'breast-cancer', runId, stage, 1);
      assert.ok(existsSync(file), `${stage}: ${file}`);
      const text = (logText[stage] = readFileSync(file, 'utf8'));
      const lines = text.trimEnd().split('\n');
      assert.ok(lines[0]!.startsWith(`[sentinel] ${stage} attempt 1 of run ${runId}`), `${stage}: ${lines[0]}`);
      assert.ok(lines.includes(`[${stage}] wrote ${resultUri(root, 'breast-cancer', runId, stage)}`), `${stage} log:\n${text.slice(-1500)}`);
      assert.match(lines.at(-1)!, /^\[sentinel\] log closed at /);
    }
    // Ray's own output: Ray Train's worker lines, forwarded to the driver, and Tune's search.
    assert.match(logText.train!, /\(RayTrainWorker pid=\d+[^)]*\) \[train\]/, logText.train!.slice(-2000));
    assert.match(logText.tune!, /^\[tune\] done: best trial /m);
    const trainLog = await inProcess(logsCommand, runId, 'train', '--home', home);
    assert.equal(trainLog.code, 0);
    assert.equal(trainLog.out, logText.train);
    // The follower saw every stage as it was written and stopped by itself when the run ended.
    assert.ok(followExit, 'the follower started');
    assert.equal(await Promise.race([followExit, sleep(60_000).then(() => 'still following')]), 0, followErr);
    assert.deepEqual([...followed.matchAll(/^==> (\w+) · attempt 1 /gm)].map((m) => m[1]), [...STAGES], followed.slice(0, 3000));
    for (const stage of STAGES) assert.ok(followed.includes(logText[stage]!), `the follower printed all of ${stage}'s log`);
    mark('logs');

    const runs = await inProcess(runsCommand, '--json', '--home', home);
    assert.equal(runs.code, 0, runs.err);
    const rows = JSON.parse(runs.out) as RunRow[];
    assert.equal(rows[0]?.runId, runId);
    assert.equal(rows[0]?.outcome.kind, 'promoted');

    // Ctrl-C: the session closes and takes its file with it; status falls back to the records.
    child.kill('SIGINT');
    assert.equal(await exited, 130, out.slice(-2000));
    mark('stopped');
    assert.equal(existsSync(file), false, 'the session file is removed');
    const after = await inProcess(statusCommand, runId, '--json', '--home', home);
    assert.equal(after.code, 0, after.err);
    const w = JSON.parse(after.out) as RunStatusView;
    assert.equal(w.live, undefined);
    assert.equal(w.status, 'SUCCEEDED');
    assert.equal(w.gate?.decision, 'PROMOTE');

    // The run report of this finished run, looked at in headless Chromium (test/support/report-check.ts).
    const report = await checkReport(home, s.name, runId);
    t.diagnostic(`report ${report.bytes} bytes, written in ${report.writeMs} ms, shown in Chromium in ${report.renderMs.toFixed(0)} ms; ${report.screenshot}`);
    mark('done');
  } finally {
    if (follower && follower.exitCode === null) follower.kill();
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await exited;
    }
  }
});
