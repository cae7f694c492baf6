// Real Ray worker pods and KubeRay's in-tree autoscaler sidecar, on this machine (docs/autoscaling.md).
//
// - rayWorkerRuntime(): a PodRuntime for the simulated kubelet (test/k8s/operator.ts). A worker pod the operator
//   creates "runs" as a real `ray start` joining the one local Ray head: the `ray start` line is the one the operator
//   generated for the pod (its KUBERAY_GEN_RAY_START_CMD: --num-cpus, --memory, --num-gpus, --resources from the
//   group's container), with the head's GCS for the head service's address, a loopback address of its own
//   (127.0.0.N) as the node IP — which the kubelet also reports as the pod IP, as Ray's KubeRay node provider matches
//   Ray nodes to pods by IP — and private ports and temp dir, because every "pod" shares this host. The pod is Ready
//   once its Ray node is ALIVE in the head's GCS; deleting the pod stops the process group.
// - startAutoscalerSidecar(): the head pod's `autoscaler` container as the operator built it (its args and env,
//   fieldRefs resolved from the pod as a kubelet would), run as a process: Ray's own `ray kuberay-autoscaler`, with
//   the head pod's ServiceAccount token (a TokenRequest bound to the head pod) and the API server's CA where Ray reads
//   in-cluster credentials (test/k8s/kuberay_autoscaler_local.py), so the autoscaler Role the operator created is what
//   authorizes its every call.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import type { KubeHarness } from './harness.js';
import { repoRoot } from './harness.js';
import type { PodObj, PodRuntime } from './operator.js';
import { freePorts, processesUsing, type RayHead } from '../../local/ray-head.js';
import { requestJson } from '../../adapters/ray/http.js';

/** The env var KubeRay puts the generated `ray start` line in (utils.KUBERAY_GEN_RAY_START_CMD). */
const GEN_RAY_START_CMD = 'KUBERAY_GEN_RAY_START_CMD';
/** Flags of the generated line that describe the node's resources: kept as the operator wrote them. */
const RESOURCE_FLAGS = new Set(['num-cpus', 'num-gpus', 'memory', 'resources', 'labels']);

/** `ray start --a=1 --block --b=x` → { a: '1', block: 'true', b: 'x' } (convertParamMap's output, no quoting). */
export function parseRayStart(cmd: string): Record<string, string> {
  const words = cmd.trim().split(/\s+/);
  if (words[0] !== 'ray' || words[1] !== 'start') throw new Error(`not a ray start line: ${cmd}`);
  const params: Record<string, string> = {};
  for (const w of words.slice(2)) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(w);
    if (!m) throw new Error(`unexpected word ${JSON.stringify(w)} in ${cmd}`);
    params[m[1]!] = m[2] ?? 'true';
  }
  return params;
}

/**
 * The head service's GCS port (<cluster>-head-svc:6379 in the operator's `ray start --address=…`): a TCP forwarder on
 * a loopback address of its own, in front of the head's GCS on 127.0.0.1, as a Service's virtual IP forwards to the
 * head pod. Needed as well as faithful: Ray rewrites a bootstrap address of 127.0.0.1 or localhost to the host's
 * outward IP, where the local head does not listen.
 */
export interface GcsService {
  address: string;
  close(): Promise<void>;
}
export async function startGcsService(head: RayHead, ip = `127.0.0.${randomInt(200, 250)}`): Promise<GcsService> {
  const [host, port] = [head.gcsAddress.slice(0, head.gcsAddress.lastIndexOf(':')), Number(head.gcsAddress.slice(head.gcsAddress.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const [listenPort] = (await freePorts(1)) as [number];
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(listenPort, ip, () => res());
  });
  return {
    address: `${ip}:${listenPort}`,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

export interface WorkerNode {
  pod: string;
  group: string;
  ip: string;
  /** The resource flags the operator generated for the pod (what the Ray node was started with). */
  params: Record<string, string>;
  startedAt: number;
  /** Times its `ray start` was started again (the container's restart count). */
  restarts: number;
  /** When its Ray node was ALIVE in the GCS (the kubelet then reports the pod Ready). */
  readyAt?: number;
  stoppedAt?: number;
  logFile: string;
}

interface Running {
  node: WorkerNode;
  child: ChildProcess;
  tempDir: string;
}

interface RayNodeState {
  node_ip?: string;
  state?: string;
  node_id?: string;
  resources_total?: Record<string, number>;
}

/** The head's Ray nodes (the State API). */
export async function rayNodes(head: RayHead): Promise<RayNodeState[]> {
  const res = await requestJson<{ data?: { result?: { result?: RayNodeState[] } } }>(head.dashboard, 'GET', '/api/v0/nodes?limit=1000&detail=1');
  if (res.status !== 200) throw new Error(`GET /api/v0/nodes: ${res.status} ${res.text.slice(0, 200)}`);
  return res.body?.data?.result?.result ?? [];
}

export interface RayWorkerRuntime extends PodRuntime {
  /** Every worker pod it ran, in start order. */
  nodes: WorkerNode[];
}

export function rayWorkerRuntime(opts: { head: RayHead; gcs: GcsService; pythonEnv: string; logDir: string; startTimeoutMs?: number }): RayWorkerRuntime {
  const bin = join(opts.pythonEnv, 'bin');
  const running = new Map<string, Running>();
  const nodes: WorkerNode[] = [];
  // 127.0.0.<base + i>: a random base, so two files doing this at once rarely pick the same addresses.
  const base = randomInt(2, 200);
  let next = 0;
  const addresses = new Map<string, string>();
  const signal = (r: Running, sig: NodeJS.Signals) => {
    try {
      if (r.child.pid) process.kill(-r.child.pid, sig);
    } catch {
      /* gone */
    }
    for (const pid of processesUsing(r.tempDir)) {
      try {
        process.kill(pid, sig);
      } catch {
        /* raced with its exit */
      }
    }
  };
  return {
    nodes,
    claim(pod: PodObj) {
      if (pod.metadata.labels?.['ray.io/node-type'] !== 'worker') return undefined;
      let ip = addresses.get(pod.metadata.name);
      if (!ip) {
        ip = `127.0.0.${base + (next++ % 50)}`;
        addresses.set(pod.metadata.name, ip);
      }
      return ip;
    },
    async start(pod: PodObj, ip: string) {
      const container = pod.spec.containers[0];
      const generated = container?.env?.find((e) => e.name === GEN_RAY_START_CMD)?.value;
      if (!generated) throw new Error(`pod ${pod.metadata.name} has no ${GEN_RAY_START_CMD}`);
      const params = Object.fromEntries(Object.entries(parseRayStart(generated)).filter(([k]) => RESOURCE_FLAGS.has(k)));
      const logFile = join(opts.logDir, `${pod.metadata.name}.log`);
      const node: WorkerNode = { pod: pod.metadata.name, group: pod.metadata.labels?.['ray.io/group'] ?? '', ip, params, startedAt: Date.now(), restarts: 0, logFile };
      nodes.push(node);
      const slot = (nodes.length - 1) % 20;
      const launch = async (): Promise<Running> => {
        const [metrics, agent, agentGrpc, runtimeEnv, nodeManager, objectManager] = (await freePorts(6)) as [number, number, number, number, number, number];
        // Short: Ray puts Unix sockets under it (about 107 bytes at most).
        const tempDir = mkdtempSync('/tmp/sentinel-rw-');
        const args = [
          'start', '--block', `--address=${opts.gcs.address}`, `--node-ip-address=${ip}`,
          ...Object.entries(params).map(([k, v]) => `--${k}=${v}`),
          // Per-host, not per-pod: every "pod" shares this machine's ports, memory and /dev/shm.
          `--metrics-export-port=${metrics}`, `--dashboard-agent-listen-port=${agent}`, `--dashboard-agent-grpc-port=${agentGrpc}`,
          `--runtime-env-agent-port=${runtimeEnv}`, `--node-manager-port=${nodeManager}`, `--object-manager-port=${objectManager}`,
          `--min-worker-port=${30000 + slot * 1000}`, `--max-worker-port=${30999 + slot * 1000}`,
          '--object-store-memory=100000000', `--temp-dir=${tempDir}`, '--disable-usage-stats',
        ];
        const out = openSync(logFile, 'a');
        const env: Record<string, string> = {
          PATH: `${bin}:${process.env.PATH ?? ''}`,
          HOME: process.env.HOME ?? '/tmp',
          RAY_USAGE_STATS_ENABLED: '0',
          // The head's token auth (KubeRay sets RAY_AUTH_MODE/RAY_AUTH_TOKEN on every pod of a cluster with auth).
          ...(opts.head.dashboard.token ? { RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN: opts.head.dashboard.token } : {}),
          // The fieldRefs KubeRay gives every Ray container, resolved as a kubelet would.
          RAY_CLOUD_INSTANCE_ID: pod.metadata.name,
          RAY_NODE_TYPE_NAME: pod.metadata.labels?.['ray.io/group'] ?? '',
          RAY_worker_niceness: '0',
          // The raylet waits this long for its dashboard agent to start (default 30 s); on a loaded shared machine the
          // agent's imports alone can take longer.
          RAY_agent_register_timeout_ms: '120000',
        };
        const child = spawn(join(bin, 'ray'), args, { env, detached: true, stdio: ['ignore', out, out] });
        closeSync(out);
        return { node, child, tempDir };
      };
      // The container's restartPolicy (Always, KubeRay's default for workers): a `ray start` that exits before its
      // node is up is started again. Under heavy load `ray start` gives up after its fixed 30 s wait for the raylet.
      const MAX_STARTS = 3;
      for (let attempt = 1; ; attempt++) {
        const r = await launch();
        running.set(pod.metadata.name, r);
        const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
        let up = false;
        for (;;) {
          if (running.get(pod.metadata.name) !== r) throw new Error(`pod ${pod.metadata.name} was deleted while starting`);
          if (r.child.exitCode !== null || Date.now() > deadline) break;
          up = await rayNodes(opts.head).then((ns) => ns.some((n) => n.node_ip === ip && n.state === 'ALIVE')).catch(() => false);
          if (up) break;
          await new Promise((res) => setTimeout(res, 300));
        }
        if (up) break;
        const why = r.child.exitCode !== null ? `exited with ${r.child.exitCode}` : 'was not ALIVE in time';
        signal(r, 'SIGKILL');
        rmSync(r.tempDir, { recursive: true, force: true });
        running.delete(pod.metadata.name);
        if (attempt >= MAX_STARTS) throw new Error(`ray start for ${pod.metadata.name} (${ip}) ${why}, ${attempt} times: ${readFileSync(logFile, 'utf8').slice(-1500)}`);
        node.restarts++;
      }
      node.readyAt = Date.now();
    },
    async stop(podName: string) {
      const r = running.get(podName);
      if (!r) return;
      running.delete(podName);
      // What the kubelet does on delete: SIGTERM, a grace period, then SIGKILL.
      signal(r, 'SIGTERM');
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && (r.child.exitCode === null || processesUsing(r.tempDir).length)) await new Promise((res) => setTimeout(res, 200));
      signal(r, 'SIGKILL');
      r.node.stoppedAt = Date.now();
      rmSync(r.tempDir, { recursive: true, force: true });
    },
  };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
export interface HeadPod {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
  spec: { serviceAccountName?: string; containers: Array<{ name: string; command?: string[]; args?: string[]; env?: EnvVar[] }> };
}

/** A fieldRef's value from the pod, as the kubelet resolves it (the paths KubeRay uses). */
function fieldRef(pod: HeadPod, path: string): string {
  if (path === 'metadata.name') return pod.metadata.name;
  if (path === 'metadata.namespace') return pod.metadata.namespace;
  const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (label) return pod.metadata.labels?.[label[1]!] ?? '';
  throw new Error(`fieldRef ${path} is not resolved here`);
}

/** $(VAR) references in an arg, as Kubernetes expands them from the container's env. */
const expand = (s: string, env: Record<string, string>) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);

export interface AutoscalerSidecar {
  proc: ChildProcess;
  /** The command line the container runs, expanded (`ray kuberay-autoscaler --cluster-name … --cluster-namespace …`). */
  command: string[];
  logFile: string;
  /** The head pod's ServiceAccount token it uses (for the test's own checks of what that identity may do). */
  token: string;
  tail(lines?: number): string;
  stop(): Promise<void>;
}

/**
 * Runs the head pod's autoscaler container as the operator built it. The token is a TokenRequest for the head pod's
 * ServiceAccount, bound to the head pod (what the kubelet projects into it), so RBAC checks what KubeRay granted.
 */
export async function startAutoscalerSidecar(kube: KubeHarness, opts: { headPod: HeadPod; head: RayHead; gcs: GcsService; pythonEnv: string; logDir: string }): Promise<AutoscalerSidecar> {
  const pod = opts.headPod;
  const container = pod.spec.containers.find((c) => c.name === 'autoscaler');
  if (!container) throw new Error(`head pod ${pod.metadata.name} has no autoscaler container`);
  const sa = pod.spec.serviceAccountName;
  if (!sa) throw new Error(`head pod ${pod.metadata.name} names no ServiceAccount`);
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) env[e.name] = e.value ?? (e.valueFrom?.fieldRef ? fieldRef(pod, e.valueFrom.fieldRef.fieldPath) : '');
  // The container runs `/bin/bash -lc -- <args>`: one operator-generated line, no quoting in it.
  const line = (container.args ?? []).map((a) => expand(a, env)).join(' ');
  const command = line.trim().split(/\s+/);
  if (command[0] !== 'ray' || command[1] !== 'kuberay-autoscaler') throw new Error(`the autoscaler container runs ${JSON.stringify(line)}, not ray kuberay-autoscaler`);

  const tokenRequest = await kube.client('admin').send<{ status: { token: string } }>('POST', `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } } },
  });
  const secrets = mkdtempSync(join(opts.logDir, 'serviceaccount-'));
  const tokenFile = join(secrets, 'token');
  writeFileSync(tokenFile, tokenRequest.status.token, { mode: 0o600 });
  const server = new URL(kube.server);
  const bin = join(opts.pythonEnv, 'bin');
  const logFile = join(opts.logDir, 'autoscaler.log');
  const out = openSync(logFile, 'a');
  const proc = spawn(
    join(bin, 'python'),
    // The sidecar shares the head pod's network, where the GCS is <pod IP>:6379 (its default); here it is the head's.
    [join(repoRoot, 'test/k8s/kuberay_autoscaler_local.py'), ...command.slice(1), `--gcs-address=${opts.gcs.address}`],
    {
      env: {
        ...env,
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME ?? '/tmp',
        RAY_USAGE_STATS_ENABLED: '0',
        // What a pod sees: the API server's service address, and the credentials a kubelet mounts.
        KUBERNETES_SERVICE_HOST: server.hostname,
        KUBERNETES_SERVICE_PORT_HTTPS: server.port,
        SENTINEL_SA_TOKEN_FILE: tokenFile,
        SENTINEL_SA_CA_FILE: kube.caFile,
        ...(opts.head.dashboard.token ? { RAY_AUTH_MODE: 'token', RAY_AUTH_TOKEN: opts.head.dashboard.token } : {}),
      },
      detached: true,
      stdio: ['ignore', out, out],
    },
  );
  closeSync(out);
  const tail = (lines = 40) => {
    try {
      return readFileSync(logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    command,
    logFile,
    token: tokenRequest.status.token,
    tail,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          process.kill(-proc.pid!, 'SIGTERM');
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          try {
            process.kill(-proc.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(secrets, { recursive: true, force: true });
    },
  };
}
