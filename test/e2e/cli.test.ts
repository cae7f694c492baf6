// The `sentinel` command as a user runs it: bad input fails fast, and Ctrl-C leaves no Ray or MLflow process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/harness.js';
import { freePort } from '../../local/ray-head.js';

const bin = join(repoRoot, 'bin', 'sentinel');
const processesUsing = (dir: string) => {
  try {
    return execFileSync('pgrep', ['-f', dir], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};

function sentinel(args: string[], onOutput?: (text: string, kill: () => void) => void) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(bin, args, { env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const on = (b: Buffer) => {
      out += b.toString();
      onOutput?.(out, () => child.kill('SIGINT'));
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('a bad spec is rejected before anything starts, naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cli-'));
  const spec = join(dir, 'bad.yaml');
  writeFileSync(spec, 'name: Bad_Name\n');
  const r = await sentinel(['run', '--spec', spec, '--home', dir]);
  assert.equal(r.code, 2);
  assert.match(r.out, /spec rejected.*bad\.yaml\.name: must be 1-24 chars/);
  assert.match(r.out, /bad\.yaml\.dataset: is required/);
  assert.doesNotMatch(r.out, /starting Ray head/, 'nothing was started');
});

test('a dataset without the target column is rejected before anything starts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cli-'));
  const csv = join(dir, 'x.csv');
  writeFileSync(csv, 'a,b\n1,2\n');
  const r = await sentinel(['run', '--dataset', csv, '--home', dir]);
  assert.equal(r.code, 2);
  assert.match(r.out, /dataset rejected.*x\.csv: no "target" column/);
});

test('Ctrl-C during training stops the Ray jobs, the Ray head and the MLflow server, leaving no process behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-cli-'));
  let sent = false;
  const r = await sentinel(['run', '--home', dir, '--no-serve', '--port', String(await freePort())], (out, kill) => {
    if (!sent && /train\s+RUNNING\s+\S+\s+\S*-train-1/.test(out)) {
      sent = true;
      kill();
    }
  });
  assert.ok(sent, `never saw train running:\n${r.out.slice(-2000)}`);
  assert.equal(r.code, 130, r.out.slice(-2000));
  assert.match(r.out, /Interrupted: stopping the run's Ray jobs/);
  const tempDir = /processes under (\S+)/.exec(r.out)?.[1];
  assert.ok(tempDir, 'the CLI says where its Ray head lives');
  assert.equal(processesUsing(tempDir), 0, 'no process of the Ray head is left');
  // The MLflow server `sentinel run` started beside the head is gone too: its process and its uvicorn worker.
  const mlflow = /MLflow (http:\/\/127\.0\.0\.1:(\d+)) \(started here/.exec(r.out);
  assert.ok(mlflow, 'the CLI says where its MLflow server is');
  assert.equal(processesUsing(join(dir, 'mlflow', 'mlflow.db')), 0, 'no mlflow server process is left');
  assert.equal(processesUsing(`uvicorn.*--port ${mlflow[2]} `), 0, "no worker of the MLflow server is left");
  await assert.rejects(fetch(`${mlflow[1]}/health`, { signal: AbortSignal.timeout(3000) }), 'nothing answers on its port');
});

test('the sentinel command dispatches runs and status and names them in its usage; an unknown run exits 1', () => {
  const cli = (...args: string[]) => spawnSync(bin, args, { encoding: 'utf8', cwd: repoRoot, env: { ...process.env, CI: '1' } });
  const usage = cli('--help');
  assert.equal(usage.status, 0);
  assert.match(usage.stdout, /sentinel runs/);
  assert.match(usage.stdout, /sentinel status RUN/);
  const home = mkdtempSync(join(tmpdir(), 'sentinel-cli-status-'));
  assert.equal(cli('status', 'r000000ccx', '--home', home).status, 1);
  assert.equal(cli('runs', '--bogus', '--home', home).status, 2);
});
