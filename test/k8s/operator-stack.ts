// Everything the full pipeline needs to run through the real KubeRay operator on one machine, for the test
// (test/k8s/pipeline-on-operator.test.ts) and for the user command (npm run demo:kuberay, tools/kube/demo.ts):
// a real kube-apiserver (tools/kube), one real local Ray head, the dashboard/serve proxy, the simulated kubelet, the
// operator built from ../shared/kuberay/operator, and the pipeline's namespace with the Lambdas' RBAC and the
// pipeline's own ServiceAccounts. Sentinel's adapters act as the Lambdas' identity only.
import { join } from 'node:path';
import { startKube, waitForAccess, repoRoot, type KubeHarness } from './harness.js';
import { buildOperator, startDashboardProxy, startOperator, startSimulatedKubelet, type DashboardProxy, type Operator, type SimulatedKubelet } from './operator.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { RayServiceServing } from '../../adapters/kuberay/serving.js';
import { requestJson } from '../../adapters/ray/http.js';
import { freePort, startRayHead, type RayHead } from '../../local/ray-head.js';
import { lambdaRbac } from '../../core/kuberay/rbac.js';
import { serviceAccountsFor } from '../../core/kuberay/identity.js';
import type { PipelineSpecInput } from '../../core/spec.js';
import { httpJson } from '../../cli/predict.js';

/** The image the manifests name; nothing pulls it here (the simulated kubelet runs no containers). */
export const DEMO_IMAGE = 'ghcr.io/sentinel-dev/sentinel-jobs:0.1.0';

export interface OperatorStack {
  kube: KubeHarness;
  ray: RayHead;
  proxy: DashboardProxy;
  kubelet: SimulatedKubelet;
  operator: Operator;
  namespace: string;
  /** Serve's HTTP port on this machine (a pod's or the serve service's :8000 through the proxy). */
  servePort: number;
  compute: KubeRayCompute;
  serving: RayServiceServing;
  stop(): Promise<void>;
}

export async function startOperatorStack(o: { logDir: string; pipeline: string; namespacePrefix?: string; numCpus?: number; say?: (line: string) => void }): Promise<OperatorStack> {
  const say = o.say ?? (() => {});
  // The API server starts beside a Ray head and Serve here: on a loaded 2-core machine its readiness takes longer than
  // up.sh's default 60 s per step.
  process.env.SENTINEL_KUBE_TIMEOUT ??= '180';
  const pythonEnv = join(repoRoot, '.venv');
  say('starting the kube-apiserver, a Ray head and building the KubeRay operator (cached after the first time)');
  const [k, r, b] = await Promise.allSettled([
    startKube(),
    startRayHead({ pythonEnv, numCpus: o.numCpus ?? 4, logFile: join(o.logDir, 'ray.log') }),
    buildOperator(),
  ]);
  const kube = k.status === 'fulfilled' ? k.value : undefined;
  const ray = r.status === 'fulfilled' ? r.value : undefined;
  const parts: { proxy?: DashboardProxy; kubelet?: SimulatedKubelet; operator?: Operator } = {};
  const stop = async () => {
    await parts.operator?.stop();
    await parts.kubelet?.stop();
    await parts.proxy?.close();
    await Promise.all([kube?.stop(), ray?.stop()]);
  };
  try {
    for (const s of [k, r, b]) if (s.status === 'rejected') throw s.reason;
    const binary = (b as PromiseFulfilledResult<string>).value;
    const namespace = await kube!.namespace(o.namespacePrefix ?? 'pipeline-op');
    // The Lambdas' RBAC, and the pipeline's own identities (its job pods' and Serve pods' ServiceAccounts: the
    // operator binds its autoscaler Role to the Serve head's and fails the RayService while it does not exist).
    await kube!.createObjects([...lambdaRbac(namespace), ...serviceAccountsFor(namespace, o.pipeline)]);
    const lambda = kube!.client('lambda');
    await waitForAccess(() => lambda.list('rayjobs', namespace, { limit: 1 }));
    const servePort = await freePort();
    // Serve's controller and HTTP proxy take tens of seconds to start on a loaded machine, longer than the operator's
    // 2 s dashboard timeout: start them first (an empty config), as a serving cluster's head has them by then.
    say('starting Ray Serve on the head');
    await warmServe(ray!, servePort, 240_000);
    parts.proxy = await startDashboardProxy(ray!.dashboard, { servePort });
    parts.kubelet = startSimulatedKubelet(kube!, namespace);
    say(`starting the KubeRay operator on namespace ${namespace}`);
    parts.operator = await startOperator(kube!, { binary, namespace, httpProxy: parts.proxy.url, logFile: join(o.logDir, 'operator.log') });
    const compute = new KubeRayCompute({ client: lambda, namespace });
    // Its endpoint is the serve Service's in-cluster name (<name>-serve-svc.<ns>.svc.cluster.local:8000), which
    // clients reach through the pod network: here, the proxy (serveCall).
    const serving = new RayServiceServing({ client: lambda, namespace, image: DEMO_IMAGE });
    return { kube: kube!, ray: ray!, proxy: parts.proxy, kubelet: parts.kubelet, operator: parts.operator, namespace, servePort, compute, serving, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Starts Serve's controller and HTTP proxy on the head (an empty config) and waits for a healthy proxy. On a loaded
 * machine Serve's first start can fail (HTTP 500 while the controller comes up): it is asked again until the deadline.
 */
async function warmServe(ray: RayHead, port: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const put = await requestJson(ray.dashboard, 'PUT', '/api/serve/applications/', { http_options: { host: '127.0.0.1', port }, applications: [] }, 120_000);
      if (put.status === 200) {
        const details = await requestJson<{ proxies?: Record<string, { status?: string }> }>(ray.dashboard, 'GET', '/api/serve/applications/');
        if (Object.values(details.body?.proxies ?? {}).some((p) => p.status === 'HEALTHY')) return;
        last = `proxy not healthy yet: ${JSON.stringify(details.body?.proxies ?? {}).slice(0, 200)}`;
      } else last = `HTTP ${put.status} ${put.text.slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message.slice(0, 300);
    }
    if (Date.now() > deadline) throw new Error(`Ray Serve did not start in ${timeoutMs / 1000} s: ${last}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Small budgets (as test/e2e/mlflow.test.ts): a real run in a couple of minutes on 2 cores; the gate's floor still holds. */
export function smallSpec(spec: PipelineSpecInput): PipelineSpecInput {
  const s = structuredClone(spec) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  s.stages.train.iterations = 12;
  s.stages.train.checkpointEvery = 4;
  Object.assign(s.stages.tune, { numSamples: 3, maxConcurrent: 2, maxIterations: 8, gracePeriod: 2 });
  return s as PipelineSpecInput;
}

/**
 * One HTTP call to an in-cluster URL (the serve Service), the way a pod would make it: through the pod network, which
 * here is the proxy. JSON in and out.
 */
export const serveCall = (proxy: DashboardProxy, url: string, method: 'GET' | 'POST', body?: unknown) => httpJson(url, method, body, { proxy: proxy.url, timeoutMs: 60_000 });

/** The route's own example (GET), then a prediction with it (POST), through the serve Service. */
export async function predictThroughService(stack: OperatorStack, pipeline: string, route: string): Promise<{ url: string; request: unknown; status: number; body: unknown }> {
  const url = stack.serving.endpoint(pipeline, route);
  const info = await serveCall(stack.proxy, url, 'GET');
  const example = info.status === 200 && info.body && typeof info.body === 'object' ? (info.body as { example?: unknown }).example : undefined;
  if (example === undefined) throw new Error(`GET ${url} gave no example (${info.status}: ${JSON.stringify(info.body).slice(0, 300)})`);
  const res = await serveCall(stack.proxy, url, 'POST', example);
  return { url, request: example, ...res };
}
