// npm run demo:kuberay — the full pipeline through the real KubeRay operator on this machine, as
// test/k8s/pipeline-on-operator.test.ts runs it (docs/kuberay-local.md): a real kube-apiserver, the KubeRay v1.7
// operator built from ../shared/kuberay/operator, a simulated kubelet and one real local Ray head behind every
// RayCluster's head service. The deployable state machine runs on the local interpreter with Sentinel's handlers;
// they create the RayJobs and the RayService as the Lambdas' identity; the operator submits them to Ray and writes
// every status. It ends with a prediction from the RayService's serve service.
//
//   npm run demo:kuberay                 # run once, print each step, tear everything down
//   npm run demo:kuberay -- --keep       # then keep it all running (kubectl against it) until Ctrl-C
//   npm run demo:kuberay -- --full       # the pipeline's own budgets instead of the small ones (slower)
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { repoRoot } from '../test/k8s/harness.js';
import { predictThroughService, smallSpec, startOperatorStack, type OperatorStack } from '../test/k8s/operator-stack.js';
import { harness, referenceSpec } from '../test/support/harness.js';
import { writeReferenceDataset } from '../local/dataset.js';
import { startRun } from '../core/start-run.js';

const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false }, full: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
if (values.help) {
  console.log('usage: npm run demo:kuberay [-- --keep] [-- --full]\n  --keep  leave the API server, operator and Ray head running until Ctrl-C\n  --full  the pipeline spec\'s own budgets (default: small ones, a couple of minutes)');
  process.exit(0);
}

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s`;
const say = (line: string) => console.log(`[${elapsed()}] ${line}`);
const logDir = mkdtempSync(join(tmpdir(), 'sentinel-kuberay-demo-'));
const spec = values.full ? referenceSpec() : smallSpec(referenceSpec());
const pipeline = spec.name!;

let stack: OperatorStack | undefined;
let h: ReturnType<typeof harness> | undefined;
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('stopping: the operator, the simulated kubelet, the API server and the Ray head');
  await h?.cleanup().catch(() => undefined);
  await stack?.stop().catch(() => undefined);
  process.exit(code);
};
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));

try {
  stack = await startOperatorStack({ logDir, pipeline, say });
  say(`ready: kubectl --kubeconfig ${stack.kube.env.KUBE_ADMIN_KUBECONFIG} -n ${stack.namespace} get rayjobs,rayclusters,rayservices`);
  const dataset = join(logDir, `${pipeline}.csv`);
  await writeReferenceDataset(join(repoRoot, '.venv'), dataset, pipeline);
  h = harness(stack.compute, stack.serving, { watchIntervalMs: 500 });
  const res = await startRun(
    { spec, trigger: { kind: 'manual', requestId: `kuberay-demo-${Date.now()}` }, artifactRoot: h.artifactRoot, datasetUri: dataset },
    { executions: h.runtime.executionsPort, now: () => new Date() },
  );
  say(`run ${res.runId} started (execution ${res.executionName})`);
  const execution = h.runtime.execution(res.executionName)!;
  // Print each state as the state machine enters it, and each RayJob / RayService state as Sentinel reads it from
  // the status the operator writes.
  let printed = 0;
  const seen = new Map<string, string>();
  const ticker = setInterval(() => {
    for (; printed < execution.events.length; printed++) {
      const e = execution.events[printed] as { type: string; state?: { name: string } };
      if (e.type === 'StateEntered' && e.state) say(`state ${e.state.name}`);
    }
    void (async () => {
      for (const j of await stack!.compute.list({ 'sentinel.dev/run': res.runId }).catch(() => [])) {
        if (seen.get(j.jobId) !== j.state) say(`RayJob ${j.jobId}: ${j.state}`);
        seen.set(j.jobId, j.state);
      }
      const s = await stack!.serving.status(pipeline).catch(() => undefined);
      const line = s ? `${s.state}${s.runId ? ` run ${s.runId}` : ''}${s.message ? ` (${s.message})` : ''}` : '';
      if (s && s.state !== 'NOT_STARTED' && seen.get('rayservice') !== line) say(`RayService ${pipeline}: ${line}`);
      if (s) seen.set('rayservice', line);
    })();
  }, 1000);
  const outcome = await execution.result;
  clearInterval(ticker);
  say(`run ${res.runId}: ${outcome.status}${outcome.error ? ` ${outcome.error}: ${outcome.cause ?? ''}` : ''}`);
  if (outcome.status !== 'SUCCEEDED') {
    console.error(`operator log (${stack.operator.logFile}):\n${stack.operator.tail(15)}`);
    await shutdown(1);
  }
  const call = await predictThroughService(stack, pipeline, spec.serve!.route!);
  say(`POST ${call.url} → ${call.status} ${JSON.stringify(call.body).slice(0, 200)}`);
  const submitted = stack.proxy.seen.filter((s) => s.method === 'POST' && s.path === '/api/jobs/').length;
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${submitted} job submissions and ${stack.proxy.seen.filter((s) => s.method === 'PUT').length} Serve config PUTs by the operator; logs in ${logDir}`);
  if (call.status !== 200) await shutdown(1);
  if (values.keep) {
    say('--keep: everything stays up; Ctrl-C to stop');
    await new Promise(() => {});
  }
  await shutdown(0);
} catch (e) {
  console.error(`kuberay demo failed: ${(e as Error).stack ?? String(e)}`);
  if (stack) console.error(`operator log (${stack.operator.logFile}):\n${stack.operator.tail(15)}`);
  await shutdown(1);
}
