// A real kube-apiserver for a test file: tools/kube/build.sh (cached), up.sh in a temp dir, a fresh namespace per
// file, down.sh afterwards. Anything that keeps the server from starting throws: the file's tests fail, never skip.
// SENTINEL_KUBE_STATE=<dir of a running up.sh> reuses that server (and leaves it running).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { KubeClient, type KubeEndpoint } from '../../adapters/kuberay/client.js';
import type { RetryPolicy } from '../../adapters/kuberay/retry.js';
import { isAlreadyExists } from '../../adapters/kuberay/retry.js';

const run = promisify(execFile);
export const repoRoot = join(import.meta.dirname, '..', '..');
const tools = join(repoRoot, 'tools', 'kube');

/** A @kubernetes/client-node KubeConfig for the same endpoint description the adapters use (typed APIs in tests). */
export function kubeConfigFor(ep: KubeEndpoint): KubeConfig {
  if (typeof ep.token !== 'string') throw new Error('tests use static tokens');
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    { name: 'sentinel', server: ep.server, skipTLSVerify: false, ...('pem' in ep.ca ? { caData: Buffer.from(ep.ca.pem).toString('base64') } : { caFile: ep.ca.file }) },
    { name: 'sentinel', token: ep.token },
  );
  return kc;
}

/** up.sh's env file: KEY=VALUE lines, values shell-quoted ('…' with '\'' for a quote). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if (v.startsWith("'")) v = v.replace(/'\\''/g, "'").replace(/^'|'$/g, '');
    else if (v.startsWith('"')) v = v.slice(1, -1);
    env[m[1]!] = v;
  }
  return env;
}

export interface KubeHarness {
  env: Record<string, string>;
  server: string;
  caFile: string;
  endpoint(token: 'admin' | 'lambda', server?: string): KubeEndpoint;
  client(token: 'admin' | 'lambda', retry?: RetryPolicy, server?: string): KubeClient;
  kubeConfig(token: 'admin' | 'lambda'): KubeConfig;
  core(token: 'admin' | 'lambda'): CoreV1Api;
  /** Creates arbitrary objects (RBAC, namespaces) as admin; AlreadyExists is fine for cluster-scoped ones. */
  createObjects(objects: object[], opts?: { dryRun?: boolean; ignoreExisting?: boolean }): Promise<void>;
  /** A namespace no other test file uses (namespaces never finish deleting here: no controllers). */
  namespace(prefix: string): Promise<string>;
  stop(): Promise<void>;
}

async function up(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const reuse = process.env.SENTINEL_KUBE_STATE;
  if (reuse) return { env: parseEnvFile(await readFile(join(reuse, 'env'), 'utf8')), stop: async () => {} };
  await run(join(tools, 'build.sh'), [], { maxBuffer: 64 << 20, timeout: 30 * 60_000 }).catch((e: Error & { stderr?: string }) => {
    throw new Error(`tools/kube/build.sh failed: ${e.message}\n${(e.stderr ?? '').slice(-2000)}`);
  });
  const state = await mkdtemp(join(tmpdir(), 'sentinel-k8s-test-'));
  const down = async () => {
    await run(join(tools, 'down.sh'), [state], { timeout: 60_000 }).catch(() => undefined);
    await rm(state, { recursive: true, force: true });
  };
  try {
    await run(join(tools, 'up.sh'), [state], { maxBuffer: 16 << 20, timeout: 5 * 60_000 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    const log = await readFile(join(state, 'kube-apiserver.log'), 'utf8').catch(() => '');
    await down();
    throw new Error(`tools/kube/up.sh failed: ${err.message}\n${(err.stderr ?? '').slice(-2000)}\n${log.slice(-2000)}`);
  }
  return { env: parseEnvFile(await readFile(join(state, 'env'), 'utf8')), stop: down };
}

export async function startKube(): Promise<KubeHarness> {
  const { env, stop } = await up();
  for (const k of ['KUBE_SERVER', 'KUBE_CA_FILE', 'KUBE_ADMIN_TOKEN', 'KUBE_LAMBDA_TOKEN']) {
    if (!env[k]) throw new Error(`up.sh's env file has no ${k}`);
  }
  const tokenOf = (who: 'admin' | 'lambda') => (who === 'admin' ? env.KUBE_ADMIN_TOKEN! : env.KUBE_LAMBDA_TOKEN!);
  const endpoint = (who: 'admin' | 'lambda', server = env.KUBE_SERVER!): KubeEndpoint => ({ server, ca: { file: env.KUBE_CA_FILE! }, token: tokenOf(who) });
  const kubeConfig = (who: 'admin' | 'lambda') => kubeConfigFor(endpoint(who));
  const adminObjects = KubernetesObjectApi.makeApiClient(kubeConfig('admin'));
  const h: KubeHarness = {
    env,
    server: env.KUBE_SERVER!,
    caFile: env.KUBE_CA_FILE!,
    endpoint,
    client: (who, retry, server) => KubeClient.forEndpoint(endpoint(who, server), retry),
    kubeConfig,
    core: (who) => kubeConfig(who).makeApiClient(CoreV1Api),
    async createObjects(objects, opts = {}) {
      for (const o of objects) {
        try {
          await adminObjects.create(o as KubernetesObject, undefined, opts.dryRun ? 'All' : undefined, 'sentinel-test');
        } catch (e) {
          if (!(opts.ignoreExisting && isAlreadyExists(e))) throw e;
        }
      }
    },
    async namespace(prefix) {
      const name = `${prefix}-${randomBytes(3).toString('hex')}`;
      await h.core('admin').createNamespace({ body: { metadata: { name } } });
      return name;
    },
    stop,
  };
  return h;
}

/** The RBAC authorizer reads through an informer: wait until a grant is visible to the lambda identity. */
export async function waitForAccess(check: () => Promise<unknown>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
