// A real MLflow tracking server for local runs: `mlflow server` from the project's Python environment on 127.0.0.1
// and a free port, its runs and registry in SQLite under the session's home, its artifacts in the local bucket
// (served by the server itself, so jobs upload through it). Started beside the Ray head, stopped with it.
// It runs in its own process group, which is what stop() signals: the server, its uvicorn worker and nothing else.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { freePort } from './ray-head.js';

export interface MlflowServer {
  uri: string;
  pid: number;
  stop(): Promise<void>;
}

export interface MlflowServerOptions {
  /** Folder holding bin/mlflow (the project's virtualenv). */
  pythonEnv: string;
  /** The session's home: mlflow/mlflow.db (runs, registry) and the stale-server record live here. */
  home: string;
  /** Where artifacts go: <bucket>/mlflow. */
  artifactsDir: string;
  logFile: string;
  port?: number;
  startTimeoutMs?: number;
}

const RECORD = 'mlflow-server.json';

/** The pids of a process group whose command lines are MLflow's (a reused group id is someone else's: left alone). */
function groupMembers(pgid: number): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return out
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => !!m && Number(m[2]) === pgid && /mlflow/.test(m[3]!))
    .map((m) => Number(m[1]));
}

async function signalGroup(pgid: number, graceMs: number) {
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    if (!groupMembers(pgid).length) return;
    try {
      process.kill(-pgid, sig);
    } catch {
      /* gone */
    }
    // `mlflow server` forwards SIGTERM to uvicorn and waits for it; uvicorn shuts down within a second or two.
    const deadline = Date.now() + (sig === 'SIGTERM' ? graceMs : 2_000);
    while (Date.now() < deadline && groupMembers(pgid).length) await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops a server an earlier, crashed command left behind (recorded in the home), and nothing else. */
export async function stopStaleMlflow(home: string): Promise<number> {
  let pgid: number | undefined;
  try {
    pgid = (JSON.parse(readFileSync(join(home, RECORD), 'utf8')) as { pgid: number }).pgid;
  } catch {
    return 0;
  }
  const n = groupMembers(pgid).length;
  await signalGroup(pgid, 3_000);
  rmSync(join(home, RECORD), { force: true });
  return n;
}

async function healthy(uri: string) {
  try {
    const res = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function startMlflowServer(o: MlflowServerOptions): Promise<MlflowServer> {
  const dbDir = join(o.home, 'mlflow');
  mkdirSync(dbDir, { recursive: true });
  mkdirSync(o.artifactsDir, { recursive: true });
  mkdirSync(dirname(o.logFile), { recursive: true });
  const port = o.port ?? (await freePort());
  const uri = `http://127.0.0.1:${port}`;
  const out = openSync(o.logFile, 'a');
  const args = [
    'server',
    '--backend-store-uri', `sqlite:///${join(dbDir, 'mlflow.db')}`,
    '--artifacts-destination', o.artifactsDir,
    '--serve-artifacts',
    '--host', '127.0.0.1', '--port', String(port),
    '--workers', '1',
  ];
  const child = spawn(join(o.pythonEnv, 'bin', 'mlflow'), args, {
    // No job runner: it is for MLflow's GenAI jobs (seven more processes), nothing Sentinel uses.
    env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false', PATH: `${join(o.pythonEnv, 'bin')}:${process.env.PATH ?? ''}` },
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const pgid = child.pid ?? 0;
  writeFileSync(join(o.home, RECORD), JSON.stringify({ pgid, uri }));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (pgid) await signalGroup(pgid, 5_000);
    rmSync(join(o.home, RECORD), { force: true });
  };
  const deadline = Date.now() + (o.startTimeoutMs ?? 180_000);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mlflow server exited with code ${child.exitCode}; see ${o.logFile}`);
      if (await healthy(uri)) break;
      if (Date.now() > deadline) throw new Error(`the MLflow server did not answer at ${uri} in time; see ${o.logFile}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { uri, pid: pgid, stop };
}
