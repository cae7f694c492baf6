// Spot warning → node cordoned and its Ray pods evicted, against a real kube-apiserver (tools/kube): the SQS handler
// with KubeCluster as the Lambdas' identity (project RBAC only), on a node with 20 Ray pods. Timed from handing the
// event to the handler until the handler returns, then checked on the server: cordoned, every Ray pod evicted.
// Five repetitions, each on freshly created pods and a fresh client (new TLS connections, like a cold container).
// No kubelet runs here, so an evicted pod is "marked for deletion"; a kubelet's own shutdown is not part of it.
//
// Run: node_modules/.bin/node --import tsx bench/spot.ts   (target: median ≤ 5 s)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot, startKube } from '../test/k8s/harness.js';
import { applyRbac, createNode, createRayJob, createRunningPod, isGone, lambdaContext, podState, rayPodLabels, RecordingPublisher, sqsDelivery } from '../test/k8s-events/support.js';
import { KubeCluster } from '../adapters/kuberay/cluster.js';
import { mergePatch, paths } from '../adapters/kuberay/kube-rest.js';
import { median } from './bundles.js';

const PODS = 20;
const REPS = 5;
const TARGET_MS = 5_000;
const INSTANCE = 'i-0123456789abcdef0';
const NODE = 'ip-10-0-1-10.ec2.internal';

/** AWS's sample spot warning (test/fixtures/aws-events), for our instance. */
function spotWarning(instanceId: string) {
  const e = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'aws-events', 'ec2-spot-instance-interruption-warning.json'), 'utf8'));
  e.detail['instance-id'] = instanceId;
  e.resources = [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`];
  return e;
}

async function main() {
  // The handler's logger reads its level when its module loads: quiet it first (one JSON line per event otherwise).
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  const { createHandleInterruptionHandler } = await import('../functions/handle-interruption.js');
  const t0 = performance.now();
  const kube = await startKube();
  const admin = kube.client('admin');
  try {
    const ns = await kube.namespace('bench-spot');
    await applyRbac(kube, ns);
    await createNode(admin, NODE, { providerID: `aws:///us-east-1a/${INSTANCE}` });
    console.log(`kube-apiserver up, RBAC applied: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const times: number[] = [];
    const calls: number[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      // Fresh state: node schedulable, 20 new Running Ray pods of a new cluster, a running RayJob on it.
      await mergePatch(admin, paths.nodes(NODE), { spec: { unschedulable: false } });
      const cluster = `rc-bench-${rep}`;
      const pods = Array.from({ length: PODS }, (_, i) => `${cluster}-worker-${i}`);
      await Promise.all(pods.map((p) => createRunningPod(admin, ns, p, NODE, rayPodLabels(cluster))));
      // No operator here: the job selects the cluster (spec.clusterSelector), which is how the handler finds it before KubeRay writes a status.
      await createRayJob(admin, ns, { clusterSelector: cluster });

      const lambda = kube.client('lambda');
      const publisher = new RecordingPublisher();
      const handler = createHandleInterruptionHandler({ cluster: new KubeCluster({ client: lambda, namespace: ns }), publisher, nodeHandling: true });
      const event = sqsDelivery(spotWarning(INSTANCE));
      const start = performance.now();
      const res = await handler(event, lambdaContext('handle-interruption'));
      const ms = performance.now() - start;
      lambda.close();

      const cordoned = (await admin.send<{ spec?: { unschedulable?: boolean } }>('GET', paths.nodes(NODE))).spec?.unschedulable === true;
      const evicted = (await Promise.all(pods.map((p) => podState(admin, ns, p)))).filter(isGone).length;
      if (res.batchItemFailures.length || !cordoned || evicted !== PODS) {
        throw new Error(`repetition ${rep}: failures=${res.batchItemFailures.length} cordoned=${cordoned} evicted=${evicted}/${PODS}`);
      }
      times.push(ms);
      calls.push(lambda.calls);
      console.log(`rep ${rep}: ${ms.toFixed(0)} ms, ${lambda.calls} API calls, cordoned, ${evicted}/${PODS} Ray pods evicted`);
      // Remove the evicted pods for good (nobody else will: no kubelet).
      await Promise.all(pods.map((p) => admin.send('DELETE', `${paths.pods(ns)}/${p}`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 } })));
    }
    const med = median(times);
    console.log('');
    console.log(`spot warning → cordoned + ${PODS} Ray pods evicted: median ${(med / 1000).toFixed(3)} s over ${REPS} runs (min ${(Math.min(...times) / 1000).toFixed(3)} s, max ${(Math.max(...times) / 1000).toFixed(3)} s)`);
    console.log(`API calls per run: ${[...new Set(calls)].join(', ')} (1 nodes list, 1 pods list, 1 RayJobs list, 1 RayJob patch, 1 node patch, ${PODS} evictions)`);
    console.log(`target ≤ ${TARGET_MS / 1000} s: ${med <= TARGET_MS ? 'met' : 'NOT met'}`);
    if (med > TARGET_MS) process.exitCode = 1;
  } finally {
    admin.close();
    await kube.stop();
  }
}

await main();
