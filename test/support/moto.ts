// A real AWS-API server for the AWS paths: moto in server mode (`moto[server]`, test/aws/requirements.txt, installed
// into .venv by scripts/bootstrap.sh), on a free port of 127.0.0.1, one per test file. start() waits until it
// answers; stop() ends it and waits for it to exit (nothing is left running). SDK clients made by client() point at
// it with fake credentials; env() is the same for a subprocess (`./sentinel … --backend aws`).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const MOTO_SERVER = join(repoRoot, '.venv', 'bin', 'moto_server');
export const REGION = 'us-east-1';
/** moto's default account: ARNs it mints carry it. */
export const ACCOUNT = '123456789012';

const freePort = () =>
  new Promise<number>((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });

export interface Moto {
  endpoint: string;
  port: number;
  /** Milliseconds from spawn to the first answer. */
  startMs: number;
  /** Environment for the AWS SDK (this process or a child): endpoint, region, fake credentials, no profile files. */
  env: Record<string, string>;
  /** moto's own configuration (POST /moto-api/config), e.g. { stepfunctions: { execute_state_machine: true } }. */
  configure(config: Record<string, unknown>): Promise<void>;
  /** Forget every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
  /** What moto printed (for a failing test's message). */
  output(): string;
}

export async function startMoto(opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Moto> {
  if (!existsSync(MOTO_SERVER)) throw new Error(`${MOTO_SERVER} is missing: run bash scripts/bootstrap.sh (it installs test/aws/requirements.txt into .venv)`);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let out = '';
  const t0 = Date.now();
  const child: ChildProcess = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...opts.env },
  });
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  let gone = false;
  // A test process that exits without stop() (process.exit, an uncaught error) takes its server with it.
  const reap = () => {
    if (!gone) child.kill('SIGKILL');
  };
  process.once('exit', reap);
  void exited.then(() => {
    gone = true;
    process.removeListener('exit', reap);
  });

  const deadline = t0 + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (gone) throw new Error(`moto_server exited before it answered:\n${out}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`moto_server did not answer on ${endpoint} within ${opts.timeoutMs ?? 30_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const startMs = Date.now() - t0;
  const post = async (path: string, body?: unknown) => {
    const res = await fetch(`${endpoint}${path}`, { method: 'POST', ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`moto ${path}: HTTP ${res.status}`);
  };
  return {
    endpoint,
    port,
    startMs,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_SESSION_TOKEN: 'testing',
      // Never read the developer's own profile or config.
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    configure: (config) => post('/moto-api/config', config),
    reset: () => post('/moto-api/reset'),
    output: () => out,
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sets the moto environment on this process (the SDK reads AWS_ENDPOINT_URL itself); returns the undo. */
export function useMotoEnv(moto: Moto): () => void {
  const saved = Object.fromEntries(Object.keys(moto.env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, moto.env);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
