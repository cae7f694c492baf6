// A Ray head on 127.0.0.1 for local runs, started from the project's Python environment and stopped afterwards.
// It runs in its own process group with its own temp dir, so stopping it kills exactly its processes and nothing
// else on the machine (unlike `ray stop`, which stops every Ray on the host).
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { requestJson, type RayDashboard } from '../adapters/ray/http.js';
import { SERVE_INGRESS_ENV } from '../core/serve-config.js';

export interface RayHead {
  dashboard: RayDashboard;
  /** Private temp dir: every process of this head has it on its command line. */
  tempDir: string;
  pid: number;
  gcsAddress: string;
  /** Environment for job drivers: the Python environment's bin dir on PATH. */
  jobEnv: Record<string, string>;
  stop(): Promise<void>;
}

export interface RayHeadOptions {
  /** Folder holding bin/ray and bin/python (the project's virtualenv). */
  pythonEnv: string;
  /** Logical CPUs Ray may schedule (can exceed cores: Ray CPUs are a scheduling unit). */
  numCpus: number;
  logFile: string;
  dashboardPort?: number;
  startTimeoutMs?: number;
}

/** n distinct free ports: every socket stays open until all are chosen, so the OS cannot hand one out twice. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export const freePort = async () => (await freePorts(1))[0]!;

async function waitFor(url: string, token: string, deadline: number, child: ChildProcess, logFile: string) {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ray start exited with code ${child.exitCode}; see ${logFile}`);
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`Ray dashboard did not answer at ${url} in time; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function probeJob(dashboard: RayDashboard, path: string, deadline: number) {
  const id = `sentinel-probe-${randomBytes(4).toString('hex')}`;
  let last = '';
  for (;;) {
    try {
      const res = await requestJson(dashboard, 'POST', '/api/jobs/', { submission_id: id, entrypoint: 'python -c pass', runtime_env: { env_vars: { PATH: path } } });
      if (res.status === 200) break;
      last = res.text.slice(0, 200);
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`Ray never accepted a job: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  for (;;) {
    const res = await requestJson<{ status?: string; message?: string }>(dashboard, 'GET', `/api/jobs/${id}`);
    if (res.body?.status === 'SUCCEEDED') return;
    if (res.body?.status === 'FAILED' || res.body?.status === 'STOPPED') throw new Error(`Ray probe job failed: ${res.body.message ?? ''}`);
    if (Date.now() > deadline) throw new Error('Ray probe job did not finish in time');
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Processes whose command line mentions our private temp dir: Ray's own, and nobody else's. */
export function processesUsing(dir: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', dir], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/**
 * Serve's HAProxy ingress (core/serve-config.ts; its HAProxy binary ships with ray[serve] on Linux only), with files
 * and ports private to this head: by default they are /tmp/haproxy-serve/* and ports 8404/9101 for every Ray on the
 * host. Short names: Ray adds a 56-character node id under these folders, and HAProxy takes socket paths of at most
 * 97 characters.
 */
function haproxyEnv(tempDir: string, statsPort: number, metricsPort: number): Record<string, string> {
  const dir = join(tempDir, 'h');
  return {
    ...SERVE_INGRESS_ENV,
    RAY_SERVE_HAPROXY_CONFIG_FILE_LOC: join(dir, 'haproxy.cfg'),
    RAY_SERVE_HAPROXY_SOCKET_PATH: join(dir, 'admin.sock'),
    RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH: join(dir, 'metrics.sock'),
    RAY_SERVE_HAPROXY_SERVER_STATE_BASE: dir,
    RAY_SERVE_HAPROXY_SERVER_STATE_FILE: join(dir, 'server-state'),
    RAY_SERVE_HAPROXY_STATS_PORT: String(statsPort),
    RAY_SERVE_HAPROXY_METRICS_PORT: String(metricsPort),
  };
}

export async function startRayHead(opts: RayHeadOptions): Promise<RayHead> {
  // Short path: Ray puts Unix sockets in its temp dir and socket paths are limited to ~107 bytes.
  const tempDir = mkdtempSync(join(tmpdir(), 'sentinel-ray-'));
  // Every port explicit and free: Ray's defaults (6379, 8265, agent 52365) clash with any other Ray on the host.
  const [gcsPort, freeDashboard, agentPort, agentGrpcPort, metricsPort, runtimeEnvPort, clientPort, haproxyStats, haproxyMetrics] = (await freePorts(9)) as [
    number, number, number, number, number, number, number, number, number,
  ];
  const dashboardPort = opts.dashboardPort ?? freeDashboard;
  const bin = join(opts.pythonEnv, 'bin');
  const token = randomBytes(32).toString('hex');
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    RAY_USAGE_STATS_ENABLED: '0',
    // Single-node mode: Ray binds and advertises 127.0.0.1 instead of the machine's outward address.
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER: '0',
    // Token authentication with a token private to this head (not ~/.ray/auth_token, shared by every cluster).
    RAY_AUTH_MODE: 'token',
    RAY_AUTH_TOKEN: token,
    // Ray starts its workers at niceness 15, Serve's HTTP proxy and replicas included. On a shared machine that hands
    // their CPU to any other process, the load generator a benchmark runs first of all (measured: Serve's throughput
    // fell as clients were added). Job drivers already run at 0; the serving path gets the same.
    RAY_worker_niceness: '0',
    ...(process.platform === 'linux' ? haproxyEnv(tempDir, haproxyStats, haproxyMetrics) : {}),
  };
  const out = openSync(opts.logFile, 'a');
  const args = [
    'start', '--head', '--block',
    '--node-ip-address=127.0.0.1', `--port=${gcsPort}`,
    '--dashboard-host=127.0.0.1', `--dashboard-port=${dashboardPort}`, '--include-dashboard=true',
    `--dashboard-agent-listen-port=${agentPort}`, `--dashboard-agent-grpc-port=${agentGrpcPort}`,
    `--metrics-export-port=${metricsPort}`, `--runtime-env-agent-port=${runtimeEnvPort}`, `--ray-client-server-port=${clientPort}`,
    // Workers' ports away from the usual service ports (Serve's 8000, 18xxx in tests): a high, private range.
    '--min-worker-port=20000', '--max-worker-port=29999',
    `--num-cpus=${opts.numCpus}`, '--num-gpus=0',
    `--temp-dir=${tempDir}`, '--disable-usage-stats',
  ];
  const child = spawn(join(bin, 'ray'), args, { env, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  const dashboardUrl = `http://127.0.0.1:${dashboardPort}`;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const signalAll = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig); // the whole process group
      } catch {
        /* already gone */
      }
      for (const pid of processesUsing(tempDir)) {
        try {
          process.kill(pid, sig);
        } catch {
          /* raced with its exit */
        }
      }
    };
    signalAll('SIGTERM');
    // Ray drains for up to 30 s on SIGTERM; our jobs are already stopped, so 5 s of grace is plenty.
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && (child.exitCode === null || processesUsing(tempDir).length)) await new Promise((r) => setTimeout(r, 250));
    signalAll('SIGKILL');
    rmSync(tempDir, { recursive: true, force: true });
  };

  try {
    await waitFor(`${dashboardUrl}/api/version`, token, Date.now() + (opts.startTimeoutMs ?? 120_000), child, opts.logFile);
    // The Jobs API answers before its agent can take jobs ("No available agent"): ready means a probe job ran.
    await probeJob({ url: dashboardUrl, token }, env.PATH, Date.now() + 90_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    dashboard: { url: dashboardUrl, token },
    tempDir,
    pid: child.pid ?? 0,
    gcsAddress: `127.0.0.1:${gcsPort}`,
    // Jobs inherit the head's environment (auth mode and token included); PATH puts the env's python first.
    jobEnv: { PATH: env.PATH },
    stop,
  };
}

/** Stops a head an earlier, crashed command left behind (recorded by tempDir), and nothing else. */
export async function stopStaleHead(tempDir: string): Promise<number> {
  if (!/^\/tmp\/sentinel-ray-[A-Za-z0-9]+$/.test(tempDir.replace(tmpdir(), '/tmp'))) return 0;
  const pids = processesUsing(tempDir);
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    for (const pid of processesUsing(tempDir)) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, sig === 'SIGTERM' ? 3000 : 500));
  }
  rmSync(tempDir, { recursive: true, force: true });
  return pids.length;
}
