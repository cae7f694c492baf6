// The real KubeRay operator on this machine, for the Kubernetes suites (issue 10, item 5):
// - the operator binary, built from ../shared/kuberay/operator by tools/kube/operator.sh, run against the real
//   kube-apiserver as admin and watching one namespace;
// - a small simulated kubelet: there are no nodes or containers here, so it binds nothing and runs nothing; it
//   marks each pod Running and Ready on an address of its own in 10.244.0.0/16 (what a kubelet reports once
//   containers start) and writes the EndpointSlices
//   a Service's endpoints controller would, so the operator's readiness checks pass;
// - a dashboard proxy: the operator reaches a Ray head's dashboard at
//   http://<cluster>-head-svc.<namespace>.svc.cluster.local:8265 and honours HTTP_PROXY, so every such call is
//   forwarded to one real local Ray head (with that head's token). A RayJob that Sentinel's code creates is then
//   submitted by the real operator to real Ray, and its status is what the operator writes — the tests write none.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createWriteStream, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, type KubeHarness } from './harness.js';
import type { RayDashboard } from '../../adapters/ray/http.js';
import { every } from '../support/every.js';

const run = promisify(execFile);

/** Builds the operator (a no-op when cached) and returns the binary's path. */
export async function buildOperator(): Promise<string> {
  const { stdout } = await run(join(repoRoot, 'tools/kube/operator.sh'), [], { maxBuffer: 16 << 20, timeout: 30 * 60_000 }).catch(
    (e: Error & { stderr?: string }) => {
      throw new Error(`tools/kube/operator.sh failed: ${e.message}\n${(e.stderr ?? '').slice(-2000)}`);
    },
  );
  return stdout.trim().split('\n').pop()!;
}

export interface DashboardProxy {
  url: string;
  /** Requests forwarded, by host the operator asked for (e.g. `x-head-svc.ns.svc.cluster.local:8265`). */
  seen: Array<{ host: string; method: string; path: string; status?: number }>;
  close(): Promise<void>;
}

const HEAD_SVC = /^[a-z0-9-]+-head-svc\.[a-z0-9-]+\.svc\.cluster\.local:8265$/;
const SERVE_SVC = /^[a-z0-9-]+-serve-svc\.[a-z0-9-]+\.svc\.cluster\.local:8000$/;
/** The simulated pod network: the kubelet gives each pod an address here (none of them is local). */
export const POD_CIDR_PREFIX = '10.244.';
const podAddr = (host: string, port: number) => host.startsWith(POD_CIDR_PREFIX) && host.endsWith(`:${port}`);

const readAll = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/**
 * An HTTP forward proxy that sends every head-service dashboard request to the one local Ray head. With `servePort`,
 * a Serve config PUT to the dashboard gets `http_options` 127.0.0.1:servePort: every "pod" here shares 127.0.0.1,
 * where a pod network would give each its own address, so Serve's in-cluster port 8000 becomes a free local port.
 */
export async function startDashboardProxy(dashboard: RayDashboard, opts: { servePort?: number } = {}): Promise<DashboardProxy> {
  const target = new URL(dashboard.url);
  const seen: DashboardProxy['seen'] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // A forward proxy receives the absolute URL: GET http://host:8265/api/jobs/ HTTP/1.1
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute URL expected');
      return;
    }
    const entry: DashboardProxy['seen'][number] = { host: url.host, method: req.method ?? 'GET', path: url.pathname };
    seen.push(entry);
    // Where the pod network would take it: a head's dashboard (its service or a pod's :8265), or Serve's HTTP
    // proxy (the serve service, or a pod's :8000, where the operator checks /-/healthz) — all on the one head.
    const toServe = opts.servePort !== undefined && (SERVE_SVC.test(url.host) || podAddr(url.host, 8000));
    if (!toServe && !HEAD_SVC.test(url.host) && !podAddr(url.host, 8265)) {
      entry.status = 502;
      res.writeHead(502).end(`not a Ray head or serve address: ${url.host}`);
      return;
    }
    const dest = toServe ? { hostname: '127.0.0.1', port: String(opts.servePort), host: `127.0.0.1:${opts.servePort}` } : { hostname: target.hostname, port: target.port, host: target.host };
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: dest.host, ...(dashboard.token && !toServe ? { authorization: `Bearer ${dashboard.token}` } : {}) };
    delete headers['proxy-connection'];
    const forward = (body?: Buffer) => {
      if (body) headers['content-length'] = String(body.length);
      const up = httpRequest({ host: dest.hostname, port: dest.port, method: req.method, path: `${url.pathname}${url.search}`, headers }, (r) => {
        entry.status = r.statusCode;
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', (e) => {
        entry.status = 502;
        if (!res.headersSent) res.writeHead(502);
        res.end(String(e));
      });
      if (body) up.end(body);
      else req.pipe(up);
    };
    if (opts.servePort !== undefined && req.method === 'PUT' && url.pathname.startsWith('/api/serve/applications')) {
      const port = opts.servePort;
      readAll(req)
        .then((raw) => {
          const config = JSON.parse(raw.toString('utf8') || '{}') as { http_options?: Record<string, unknown> };
          config.http_options = { ...(config.http_options ?? {}), host: '127.0.0.1', port };
          forward(Buffer.from(JSON.stringify(config)));
        })
        .catch((e: unknown) => res.writeHead(400).end(String(e)));
      return;
    }
    forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface PodObj {
  metadata: { name: string; namespace: string; uid?: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: Array<{ name: string; image?: string; env?: Array<{ name: string; value?: string }> }> };
  status?: { phase?: string };
}

/**
 * What really runs some pods' containers (test/k8s/ray-workers.ts: a Ray worker pod as a real `ray start`). The
 * kubelet reports such a pod Running and Ready, on the address the runtime gave it, only once start() has resolved,
 * and calls stop() when the pod is deleted. Every other pod stays simulated.
 */
export interface PodRuntime {
  /** The pod's address if this runtime runs it, else undefined. */
  claim(pod: PodObj): string | undefined;
  start(pod: PodObj, ip: string): Promise<void>;
  stop(podName: string): Promise<void>;
}
interface ServiceObj {
  metadata: { name: string; namespace: string };
  spec: { selector?: Record<string, string>; ports?: Array<{ name?: string; port: number; protocol?: string; targetPort?: number | string }> };
}

export interface SimulatedKubelet {
  /** Pods it marked Running and Ready, in order. */
  started: string[];
  stop(): Promise<void>;
}

const matches = (labels: Record<string, string> = {}, selector: Record<string, string> = {}) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/**
 * Polls the namespace: every pod not yet Running is reported Running and Ready on its own pod address (the container
 * "started"), and every Service with a selector gets an EndpointSlice of its ready pods.
 */
export function startSimulatedKubelet(kube: KubeHarness, namespace: string, intervalMs = 250, runtime?: PodRuntime): SimulatedKubelet {
  const admin = kube.client('admin');
  const started: string[] = [];
  // Pods the runtime runs, by name: 'starting' until start() resolves, then 'up' (reported Running), or the error.
  const run = new Map<string, { state: 'starting' | 'up' | 'failed'; uid?: string; error?: unknown }>();
  const slices = new Map<string, string>();
  const ips = new Map<string, string>();
  const ipOf = (pod: string) => {
    let ip = ips.get(pod);
    if (!ip) {
      const n = ips.size + 2;
      ip = `${POD_CIDR_PREFIX}${Math.floor(n / 250)}.${(n % 250) + 2}`;
      ips.set(pod, ip);
    }
    return ip;
  };
  const tick = async () => {
    const pods = (await admin.send<{ items: PodObj[] }>('GET', `/api/v1/namespaces/${namespace}/pods`)).items;
    const now = new Date().toISOString();
    if (runtime) {
      // Deleted (or being deleted) pods the runtime runs: stop their processes.
      for (const [name, r] of run) {
        const pod = pods.find((p) => p.metadata.name === name && p.metadata.uid === r.uid);
        if (pod && !pod.metadata.deletionTimestamp) continue;
        run.delete(name);
        await runtime.stop(name).catch(() => undefined);
      }
    }
    for (const p of pods) {
      // Only a pod not yet started: one that ran to completion (Succeeded, Failed) is not started again.
      if ((p.status?.phase ?? 'Pending') !== 'Pending' || p.metadata.deletionTimestamp) continue;
      // A pod that names its own scheduler runs once that scheduler has bound it to a node, as on a real kubelet
      // (test/k8s-events/support.ts startSimulatedScheduler); every other pod is started unbound.
      const placement = p.spec as { nodeName?: string; schedulerName?: string };
      if (!placement.nodeName && placement.schedulerName && placement.schedulerName !== 'default-scheduler') continue;
      const own = runtime?.claim(p);
      if (runtime && own !== undefined) {
        const r = run.get(p.metadata.name);
        if (!r) {
          ips.set(p.metadata.name, own);
          const entry: { state: 'starting' | 'up' | 'failed'; uid?: string; error?: unknown } = { state: 'starting', uid: p.metadata.uid };
          run.set(p.metadata.name, entry);
          runtime.start(p, own).then(
            () => (entry.state = 'up'),
            (error: unknown) => Object.assign(entry, { state: 'failed', error }),
          );
        }
        if (r?.state !== 'up') continue; // containers still starting (or failed: the pod stays Pending)
      }
      const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
      const status = {
        phase: 'Running',
        hostIP: '127.0.0.1',
        podIP: ipOf(p.metadata.name),
        podIPs: [{ ip: ipOf(p.metadata.name) }],
        startTime: now,
        conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map(cond),
        containerStatuses: p.spec.containers.map((c) => ({
          name: c.name,
          image: c.image ?? 'simulated',
          imageID: '',
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: now } },
        })),
      };
      try {
        await admin.send('PATCH', `/api/v1/namespaces/${namespace}/pods/${p.metadata.name}/status`, {
          body: { status },
          contentType: 'application/merge-patch+json',
        });
        started.push(p.metadata.name);
      } catch {
        // deleted meanwhile: the next tick sees the truth
      }
    }
    const services = (await admin.send<{ items: ServiceObj[] }>('GET', `/api/v1/namespaces/${namespace}/services`)).items;
    const running = pods.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
    for (const s of services) {
      if (!s.spec.selector) continue;
      const ready = running
        .filter((p) => matches(p.metadata.labels, s.spec.selector))
        .map((p) => ({ name: p.metadata.name, uid: p.metadata.uid ?? '' }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const key = JSON.stringify(ready);
      if (slices.get(s.metadata.name) === key) continue;
      const body = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${s.metadata.name}-sim`, namespace, labels: { 'kubernetes.io/service-name': s.metadata.name, 'endpointslice.kubernetes.io/managed-by': 'sentinel-simulated-kubelet' } },
        addressType: 'IPv4',
        // The operator counts a Service's ready pods by targetRef.uid (calculateNumServeEndpointsFromSlices): an
        // endpoint without the pod's UID is not counted, and the RayService would never be Ready.
        endpoints: ready.map(({ name, uid }) => ({ addresses: [ipOf(name)], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', name, namespace, uid } })),
        ports: (s.spec.ports ?? []).map((p) => ({ name: p.name ?? '', port: typeof p.targetPort === 'number' ? p.targetPort : p.port, protocol: p.protocol ?? 'TCP' })),
      };
      const path = `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`;
      try {
        await admin.send('PUT', `${path}/${body.metadata.name}`, { body });
      } catch {
        await admin.send('POST', path, { body }).catch(() => undefined);
      }
      slices.set(s.metadata.name, key);
    }
  };
  const loop = every(intervalMs, tick);
  return {
    started,
    async stop() {
      await loop.stop();
      if (runtime) await Promise.all([...run.keys()].map((name) => runtime.stop(name).catch(() => undefined)));
    },
  };
}

export interface Operator {
  proc: ChildProcess;
  logFile: string;
  /** The last lines of its log, for failure messages. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

/** Starts the operator watching `namespace`, its dashboard calls going through `httpProxy`. */
export async function startOperator(kube: KubeHarness, opts: { binary: string; namespace: string; httpProxy: string; logFile: string }): Promise<Operator> {
  const kubeconfig = kube.env.KUBE_ADMIN_KUBECONFIG;
  if (!kubeconfig) throw new Error("up.sh's env file has no KUBE_ADMIN_KUBECONFIG");
  const log = createWriteStream(opts.logFile);
  const proc = spawn(
    opts.binary,
    ['--metrics-addr=:0', '--health-probe-bind-address=:0', '--enable-leader-election=false', `--watch-namespace=${opts.namespace}`, '--log-stdout-encoder=console'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        KUBECONFIG: kubeconfig,
        HTTP_PROXY: opts.httpProxy,
        http_proxy: opts.httpProxy,
        NO_PROXY: '127.0.0.1,localhost',
        no_proxy: '127.0.0.1,localhost',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc.stdout!.pipe(log);
  proc.stderr!.pipe(log);
  const tail = (lines = 40) => {
    try {
      return readFileSync(opts.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  // Ready when its controllers have started (the log says so) — or fail if it exits first.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`kuberay-operator exited with ${proc.exitCode}:\n${tail()}`);
    if (/Starting workers.*RayJob|"controller":"rayjob".*Starting workers|Starting workers/i.test(tail(400))) break;
    if (Date.now() > deadline) throw new Error(`kuberay-operator did not start its controllers in 60 s:\n${tail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    proc,
    logFile: opts.logFile,
    tail,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      log.end();
    },
  };
}
