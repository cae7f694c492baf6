// `sentinel rollback PIPELINE --backend aws` (cli/rollback-aws.ts) where no operator is needed: with nothing to roll
// back to (no champion, or a first champion) rollbackDeployed changes nothing, on a real kube-apiserver for the
// RayService (none is created) and a real AWS-API server (moto in server mode) for S3; and where the cluster and
// namespace come from. The rollback itself (the previous champion served again by a real blue/green upgrade of the
// KubeRay v1.7 operator, champion.json swapped with its history, the rollbacks/ record, Model Rolled Back on
// EventBridge) runs after the upgrade in test/k8s/pipeline-on-operator.test.ts, on the operator stack. In test/k8s, not
// test/aws: the API server comes from tools/kube (built once from the Go module proxy into ~/.cache/sentinel/kube,
// 7–12 min on a fresh machine), which only the Kubernetes suites start; the aws suite runs before them and must stay
// fast. The EKS token path (DescribeCluster + presigned STS) is the adapter's own, tested in test/k8s/eks-token.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startKube, repoRoot, type KubeHarness } from './harness.js';
import { startMoto, useMotoEnv, REGION, type Moto } from '../support/moto.js';
import { parseSpec } from '../../core/spec.js';
import { serveApplicationFor } from '../../core/serve-config.js';
import { championUri } from '../../core/artifacts.js';
import type { ChampionRecord } from '../../core/model.js';
import { S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { RayServiceServing } from '../../adapters/kuberay/serving.js';
import { isNotFound } from '../../adapters/kuberay/retry.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import { awsClusterConfig, rollbackDeployed } from '../../cli/rollback-aws.js';

const spec = parseSpec(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8'));
const BUCKET = 'sentinel-rollback-test';
const ROOT = `s3://${BUCKET}/artifacts`;
const R1 = 'r000000001';

let kube: KubeHarness;
let moto: Moto;
let restoreEnv: () => void;
let admin: KubeClient;
let ns: string;
let s3: S3Client;

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
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

after(async () => {
  s3?.destroy();
  restoreEnv?.();
  await Promise.all([moto?.stop(), kube?.stop()]);
});

describe('rollback on a deployed stack with nothing to roll back to; where the cluster comes from', () => {
  test('nothing to roll back to: no champion, or a first champion; nothing changes', async () => {
    const store = new S3ObjectStore(s3);
    const serving = new RayServiceServing({ client: admin, namespace: ns, image: spec.image });
    const none = await rollbackDeployed('iris', 'x', 'the suite', { artifactRoot: ROOT, store, serving, where: 'moto', timeoutMs: 1000 });
    assert.deepEqual([none.ok, !none.ok && none.error], [false, 'NoChampion']);
    await store.putJson(championUri(ROOT, 'diabetes'), { pipeline: 'diabetes', current: champion(R1, 0.5, 5) } satisfies ChampionRecord);
    const first = await rollbackDeployed('diabetes', 'x', 'the suite', { artifactRoot: ROOT, store, serving, where: 'moto', timeoutMs: 1000 });
    assert.deepEqual([first.ok, !first.ok && first.error], [false, 'NoPrevious']);
    assert.equal((await store.getJson<ChampionRecord>(championUri(ROOT, 'diabetes')))?.history, undefined);
    // Nothing was applied: no RayService on the API server, no rollbacks/ record on S3.
    for (const name of ['iris', 'diabetes']) {
      const rs = await admin.get('rayservices', ns, name).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
      assert.equal(rs, undefined, `no RayService ${name}`);
    }
    const records = (await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'artifacts/' }))).Contents ?? [];
    assert.deepEqual(records.map((o) => o.Key), ['artifacts/diabetes/champion.json']);
  });

  test("the cluster and namespace come from the stack's outputs or the Lambdas' variables; missing is bad usage naming them", () => {
    assert.deepEqual(awsClusterConfig(undefined, { SENTINEL_CLUSTER_NAME: 'ml', SENTINEL_NAMESPACE: 'sentinel' }, '/nonexistent'), { clusterName: 'ml', namespace: 'sentinel' });
    assert.throws(() => awsClusterConfig(undefined, { SENTINEL_CLUSTER_NAME: 'ml' }, '/nonexistent'), (e: Error & { field?: string }) => e.name === 'BackendError' && e.field === 'SENTINEL_NAMESPACE');
    assert.throws(() => awsClusterConfig(undefined, { SENTINEL_CLUSTER_NAME: 'ml', SENTINEL_NAMESPACE: 'Not_A_Name' }, '/nonexistent'), (e: Error & { field?: string }) => e.field === 'namespace');
  });
});
