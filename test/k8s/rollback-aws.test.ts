// `sentinel rollback PIPELINE --backend aws` (cli/rollback-aws.ts rollbackDeployed) on a real kube-apiserver for the
// RayService and a real AWS-API server (moto in server mode) for S3 (champion.json's compare-and-swap, the rollbacks/
// record, the deployed spec) and EventBridge (Model Rolled Back). In test/k8s, not test/aws: the API server comes
// from tools/kube (built once from the Go module proxy into ~/.cache/sentinel/kube, 7–12 min on a fresh machine),
// which only the Kubernetes suites start; the aws suite runs before them and must stay fast. No KubeRay operator runs
// here: a stand-in does what the operator does once a RayService's new cluster serves (a RayCluster whose head
// carries the run, the status naming it active and RUNNING). The EKS token path (DescribeCluster + presigned STS) is
// the adapter's own, tested in test/k8s/eks-token.test.ts; here the harness's static token reaches the API server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { startKube, repoRoot, type KubeHarness } from './harness.js';
import { startMoto, useMotoEnv, REGION, type Moto } from '../support/moto.js';
import { parseSpec } from '../../core/spec.js';
import { serveApplicationFor } from '../../core/serve-config.js';
import { championUri } from '../../core/artifacts.js';
import { ANNOTATIONS } from '../../core/kuberay/meta.js';
import type { BusEvent, EventPublisher } from '../../core/ports.js';
import type { ChampionRecord } from '../../core/model.js';
import { RUN_EVENT_SOURCE, RUN_EVENT_TYPES } from '../../core/run-event-names.js';
import { S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { EventBridgePublisher } from '../../adapters/aws/eventbridge.js';
import { RayServiceServing } from '../../adapters/kuberay/serving.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import { awsClusterConfig, rollbackDeployed } from '../../cli/rollback-aws.js';

const spec = parseSpec(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8'));
const BUCKET = 'sentinel-rollback-test';
const ROOT = `s3://${BUCKET}/artifacts`;
const R1 = 'r000000001';
const R2 = 'r000000002';

let kube: KubeHarness;
let moto: Moto;
let restoreEnv: () => void;
let admin: KubeClient;
let ns: string;
let s3: S3Client;
let eb: EventBridgeClient;
let stopOperator = () => {};

/** What the KubeRay operator does once a RayService's (new) cluster serves: the cluster of the spec's run, active and RUNNING. */
function operatorStandIn(client: KubeClient, namespace: string, name: string) {
  let stopped = false;
  const now = () => new Date().toISOString();
  const cond = (type: string, status: string, reason: string) => ({ type, status, reason, message: reason, lastTransitionTime: now() });
  const loop = (async () => {
    while (!stopped) {
      const rs = await client.get<{ spec: { rayClusterConfig: { headGroupSpec: { template: { metadata: { annotations: Record<string, string> } } } } }; status?: { activeServiceStatus?: { rayClusterName?: string } } }>('rayservices', namespace, name).catch(() => undefined);
      const runId = rs?.spec.rayClusterConfig.headGroupSpec.template.metadata.annotations[ANNOTATIONS.run];
      const cluster = runId ? `${name}-${runId}` : undefined;
      if (rs && cluster && rs.status?.activeServiceStatus?.rayClusterName !== cluster) {
        await client
          .create('rayclusters', namespace, {
            apiVersion: 'ray.io/v1',
            kind: 'RayCluster',
            metadata: { name: cluster, namespace },
            spec: { headGroupSpec: { rayStartParams: {}, template: { metadata: { annotations: { [ANNOTATIONS.run]: runId } }, spec: { containers: [{ name: 'ray-head', image: spec.image }] } } } },
          })
          .catch(() => undefined); // already there from an earlier round
        await client.patch('rayservices', namespace, name, [{ op: 'add', path: '/status', value: { conditions: [cond('Ready', 'True', 'NonZeroServeEndpoints'), cond('UpgradeInProgress', 'False', 'NoPendingCluster')], activeServiceStatus: { rayClusterName: cluster, applicationStatuses: { [name]: { status: 'RUNNING' } } } } }], 'status');
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/** The real EventBridge publisher on moto, remembering what it put (moto keeps no record of delivered events). */
class SeenPublisher implements EventPublisher {
  readonly seen: BusEvent[] = [];
  constructor(private readonly real: EventPublisher) {}
  async publish(events: BusEvent[]) {
    await this.real.publish(events);
    this.seen.push(...events);
  }
}

const champion = (runId: string, value: number, minutesAgo: number) => ({
  runId,
  modelUri: `${ROOT}/${spec.name}/${runId}/tune/model`,
  metric: 'roc_auc',
  value,
  promotedAt: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
  serveConfig: serveApplicationFor(spec, { modelUri: `${ROOT}/${spec.name}/${runId}/tune/model`, runId }),
});

before(async () => {
  [kube, moto] = await Promise.all([startKube(), startMoto()]);
  restoreEnv = useMotoEnv(moto);
  ns = await kube.namespace('rollback');
  admin = kube.client('admin');
  s3 = new S3Client({ region: REGION, forcePathStyle: true });
  eb = new EventBridgeClient({ region: REGION });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `pipelines/${spec.name}.yaml`, Body: readFileSync(join(repoRoot, 'pipelines', `${spec.name}.yaml`)) }));
});

after(async () => {
  await stopOperator();
  s3?.destroy();
  eb?.destroy();
  restoreEnv?.();
  await Promise.all([moto?.stop(), kube?.stop()]);
});

describe('rollback on a deployed stack: RayService on the API server, champion.json on S3', () => {
  test('the previous champion serves again, champion.json swaps and records why, Model Rolled Back is published', async () => {
    const store = new S3ObjectStore(s3);
    const serving = new RayServiceServing({ client: admin, namespace: ns, image: spec.image, prometheus: true });
    stopOperator = operatorStandIn(admin, ns, spec.name);
    // What two promotions left: R2 serving, R1 before it.
    await serving.apply(spec.name, { applications: [champion(R2, 0.995, 10).serveConfig] });
    for (let i = 0; i < 100 && (await serving.status(spec.name)).runId !== R2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await serving.status(spec.name), { state: 'RUNNING', runId: R2 });
    await store.putJson(championUri(ROOT, spec.name), { pipeline: spec.name, current: champion(R2, 0.995, 10), previous: champion(R1, 0.99, 60) } satisfies ChampionRecord);

    const publisher = new SeenPublisher(new EventBridgePublisher(eb));
    const t0 = Date.now();
    const res = await rollbackDeployed(spec.name, 'R2 answers slowly in production', 'the suite', { artifactRoot: ROOT, store, serving, publisher, where: 'moto', timeoutMs: 60_000 });
    const ms = Date.now() - t0;
    assert.ok(res.ok, JSON.stringify(res));
    assert.equal(res.current.runId, R1);
    assert.deepEqual(res.change, { ...res.change, action: 'rollback', from: R2, to: R1, where: 'deployed', reason: 'R2 answers slowly in production', by: 'the suite' });

    // The RayService's spec is R1's again, and it serves R1.
    const rs = await admin.get<{ spec: { serveConfigV2: string } }>('rayservices', ns, spec.name);
    assert.match(rs.spec.serveConfigV2, new RegExp(`run_id: ${R1}`));
    assert.deepEqual(await serving.status(spec.name), { state: 'RUNNING', runId: R1 });

    const after = (await store.getJson<ChampionRecord>(championUri(ROOT, spec.name)))!;
    assert.equal(after.current.runId, R1);
    assert.equal(after.previous?.runId, R2, 'so a second rollback undoes this one');
    assert.deepEqual(after.history?.map((h) => [h.action, h.from, h.to, h.where]), [['rollback', R2, R1, 'deployed']]);
    const records = (await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `artifacts/${spec.name}/rollbacks/` }))).Contents ?? [];
    assert.equal(records.length, 1);
    const rec = await store.getJson<{ from: string; to: string; reason: string }>(`s3://${BUCKET}/${records[0]!.Key}`);
    assert.deepEqual([rec?.from, rec?.to, rec?.reason], [R2, R1, 'R2 answers slowly in production']);

    const rolled = publisher.seen.filter((e) => e['detail-type'] === RUN_EVENT_TYPES.rolledBack);
    assert.equal(rolled.length, 1);
    assert.equal(rolled[0]!.source, RUN_EVENT_SOURCE);
    assert.equal((rolled[0]!.detail as { from: string }).from, R2);
    process.stdout.write(`# rollback on the API server + moto: ${ms} ms\n`);
  });

  test('nothing to roll back to: no champion, or a first champion; nothing changes', async () => {
    const store = new S3ObjectStore(s3);
    const serving = new RayServiceServing({ client: admin, namespace: ns, image: spec.image });
    const none = await rollbackDeployed('iris', 'x', 'the suite', { artifactRoot: ROOT, store, serving, where: 'moto', timeoutMs: 1000 });
    assert.deepEqual([none.ok, !none.ok && none.error], [false, 'NoChampion']);
    await store.putJson(championUri(ROOT, 'diabetes'), { pipeline: 'diabetes', current: champion(R1, 0.5, 5) } satisfies ChampionRecord);
    const first = await rollbackDeployed('diabetes', 'x', 'the suite', { artifactRoot: ROOT, store, serving, where: 'moto', timeoutMs: 1000 });
    assert.deepEqual([first.ok, !first.ok && first.error], [false, 'NoPrevious']);
    assert.equal((await store.getJson<ChampionRecord>(championUri(ROOT, 'diabetes')))?.history, undefined);
  });

  test("the cluster and namespace come from the stack's outputs or the Lambdas' variables; missing is bad usage naming them", () => {
    assert.deepEqual(awsClusterConfig(undefined, { SENTINEL_CLUSTER_NAME: 'ml', SENTINEL_NAMESPACE: 'sentinel' }, '/nonexistent'), { clusterName: 'ml', namespace: 'sentinel' });
    assert.throws(() => awsClusterConfig(undefined, { SENTINEL_CLUSTER_NAME: 'ml' }, '/nonexistent'), (e: Error & { field?: string }) => e.name === 'BackendError' && e.field === 'SENTINEL_NAMESPACE');
    assert.throws(() => awsClusterConfig(undefined, { SENTINEL_CLUSTER_NAME: 'ml', SENTINEL_NAMESPACE: 'Not_A_Name' }, '/nonexistent'), (e: Error & { field?: string }) => e.field === 'namespace');
  });
});
