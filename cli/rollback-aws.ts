// `sentinel rollback PIPELINE --backend aws`: the previous champion back behind the deployed route. Core's rollback()
// (core/promote.ts: the previous champion's Serve config applied, waited for until it serves, champion.json swapped by
// compare-and-swap on S3, `Model Rolled Back` on the default EventBridge bus) runs in this process with the user's
// credentials. It reaches serving the way the promote Lambda does: the KubeRay serving adapter (RayService) over the
// EKS API server, with an EKS bearer token minted from the same credentials (adapters/aws/eks-token.ts; the caller's
// IAM principal needs an EKS access entry that may patch the pipeline's RayService). The cluster and namespace come
// from the stack's outputs (clusterName, namespace) or SENTINEL_CLUSTER_NAME / SENTINEL_NAMESPACE, the variables the
// Lambdas get (functions/aws/deps.ts ENV). cli/rollback.ts hands --backend aws here.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { rollback } from '../core/promote.js';
import { championUri, joinUri } from '../core/artifacts.js';
import { loadDeployedSpec } from '../core/deployed-spec.js';
import { isSentinelError } from '../core/errors.js';
import { systemClock, type EventPublisher, type ObjectStore, type ServingPort } from '../core/ports.js';
import type { Champion, ChampionChange, ChampionRecord } from '../core/model.js';
import { awsClients, awsStackConfig, BACKEND_ENV, BackendError, DEFAULT_STACK_FILE } from './backend.js';
import { bold, dim, green } from './format.js';

/** The Lambdas' own variable names (functions/aws/deps.ts ENV.clusterName / ENV.namespace; test/aws checks they agree). */
export const CLUSTER_ENV = { clusterName: 'SENTINEL_CLUSTER_NAME', namespace: 'SENTINEL_NAMESPACE' } as const;
const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const EKS_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;

/** The EKS cluster and namespace the stack serves from: the stack's outputs, else the environment. */
export function awsClusterConfig(stackFile: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { clusterName: string; namespace: string } {
  let clusterName = env[CLUSTER_ENV.clusterName];
  let namespace = env[CLUSTER_ENV.namespace];
  const file = stackFile ?? env[BACKEND_ENV.stack] ?? (existsSync(resolve(cwd, DEFAULT_STACK_FILE)) ? DEFAULT_STACK_FILE : undefined);
  if (file && existsSync(resolve(cwd, file))) {
    try {
      const o = JSON.parse(readFileSync(resolve(cwd, file), 'utf8')) as Record<string, unknown>;
      if (typeof o.clusterName === 'string') clusterName = o.clusterName;
      if (typeof o.namespace === 'string') namespace = o.namespace;
    } catch {
      /* awsStackConfig says what is wrong with the file */
    }
  }
  if (!clusterName || !namespace) {
    throw new BackendError(
      `rollback --backend aws switches the pipeline's RayService, so it needs the EKS cluster and namespace: the stack's outputs "clusterName" and "namespace" (${DEFAULT_STACK_FILE} after \`sst deploy\`), or ${CLUSTER_ENV.clusterName} and ${CLUSTER_ENV.namespace}`,
      clusterName ? CLUSTER_ENV.namespace : CLUSTER_ENV.clusterName,
    );
  }
  if (!EKS_NAME.test(clusterName)) throw new BackendError(`"${clusterName}" is not an EKS cluster name`, 'clusterName');
  if (!K8S_NAME.test(namespace)) throw new BackendError(`"${namespace}" is not a Kubernetes namespace name`, 'namespace');
  return { clusterName, namespace };
}

export interface DeployedRollback {
  artifactRoot: string;
  store: ObjectStore;
  serving: ServingPort;
  publisher?: EventPublisher;
  /** Where it is, for messages. */
  where: string;
  /** How long the previous champion may take to serve (a RayService NewCluster upgrade starts a cluster). */
  timeoutMs: number;
}

export type DeployedRollbackResult =
  | { ok: true; change: ChampionChange; current: Champion }
  | { ok: false; error: 'NoChampion' | 'NoPrevious' | 'RollbackFailed'; message: string };

/** The rollback itself and its record (champion.json's history, rollbacks/<time>.json), over any store and serving. */
export async function rollbackDeployed(pipeline: string, reason: string, by: string, d: DeployedRollback): Promise<DeployedRollbackResult> {
  const uri = championUri(d.artifactRoot, pipeline);
  const before = await d.store.getJson<ChampionRecord>(uri);
  if (!before) return { ok: false, error: 'NoChampion', message: `${pipeline} has no champion in ${d.where} (nothing was promoted yet; \`sentinel runs --pipeline ${pipeline} --backend aws\`)` };
  if (!before.previous) return { ok: false, error: 'NoPrevious', message: `${pipeline} has no previous champion to roll back to (its champion ${before.current.runId} is the first)` };
  let current: Champion;
  try {
    current = await rollback({ artifactRoot: d.artifactRoot, pipeline, reason }, { serving: d.serving, store: d.store, clock: systemClock, now: () => new Date(), ...(d.publisher ? { publisher: d.publisher } : {}) }, d.timeoutMs);
  } catch (e) {
    if ((e as { $metadata?: unknown }).$metadata !== undefined) throw e; // an AWS failure: main's guard says what to check
    const what = isSentinelError(e, 'ValidationFailed') ? '' : ' (champion.json is unchanged; the current champion still serves)';
    return { ok: false, error: 'RollbackFailed', message: `rollback of ${pipeline} failed: ${(e as Error).message}${what}` };
  }
  const at = new Date().toISOString();
  const change: ChampionChange = { action: 'rollback', at, by, reason, from: before.current.runId, to: current.runId, where: 'deployed' };
  // The history entry by compare-and-swap too: a promotion landing meanwhile keeps its record, and the entry joins it.
  for (let attempt = 1; attempt <= 10; attempt++) {
    const read = await d.store.getJsonVersioned<ChampionRecord>(uri);
    if (!read) break;
    const history = [...(read.value.history ?? []), change];
    if ((await d.store.putJsonIf(uri, { ...read.value, history } satisfies ChampionRecord, { ifMatch: read.version })) === 'ok') break;
  }
  await d.store.putJson(joinUri(d.artifactRoot, pipeline, 'rollbacks', `${at.replace(/[:.]/g, '-')}.json`), { pipeline, ...change });
  return { ok: true, change, current };
}

export async function rollbackOnAws(pipeline: string, values: { stack?: string | undefined; json?: boolean | undefined; timeoutSeconds: number; reason: string; by: string }): Promise<number> {
  const cfg = awsStackConfig(values.stack);
  const cluster = awsClusterConfig(values.stack);
  const [{ S3ObjectStore }, { EventBridgePublisher }, { eksEndpoint }, { KubeClient }, { RayServiceServing }, { EKSClient }, { EventBridgeClient }] = await Promise.all([
    import('../adapters/aws/s3-store.js'),
    import('../adapters/aws/eventbridge.js'),
    import('../adapters/aws/eks-token.js'),
    import('../adapters/kuberay/client.js'),
    import('../adapters/kuberay/serving.js'),
    import('@aws-sdk/client-eks'),
    import('@aws-sdk/client-eventbridge'),
  ]);
  const { s3 } = await awsClients(cfg);
  const store = new S3ObjectStore(s3);
  const bucketUri = `s3://${cfg.bucket}`;
  let spec;
  try {
    spec = await loadDeployedSpec(store, bucketUri, pipeline);
  } catch (e) {
    if (!isSentinelError(e, 'ValidationFailed')) throw e;
    process.stderr.write(`sentinel: ${(e as Error).message}\n  deployed pipelines are ${bucketUri}/pipelines/<name>.yaml (sst deploy uploads them)\n`);
    return 1;
  }
  // Connected on first use (as functions/aws/deps.ts does): with nothing to roll back to, no EKS call is made.
  const eks = new EKSClient({ region: cfg.region });
  let connecting: Promise<InstanceType<typeof KubeClient>> | undefined;
  const connect = () => (connecting ??= eksEndpoint({ clusterName: cluster.clusterName, region: cfg.region, eks }).then((ep) => KubeClient.forEndpoint(ep)));
  const client = new Proxy({} as InstanceType<typeof KubeClient>, {
    get(_t, prop) {
      if (prop === 'then') return undefined; // not a thenable
      return async (...args: unknown[]) => {
        const c = await connect();
        return (Reflect.get(c, prop, c) as (...a: unknown[]) => unknown).apply(c, args);
      };
    },
  });
  const serving = new RayServiceServing({ client, namespace: cluster.namespace, image: spec.image, prometheus: true });
  const publisher = new EventBridgePublisher(new EventBridgeClient({ region: cfg.region }));
  const res = await rollbackDeployed(pipeline, values.reason, values.by, {
    artifactRoot: `${bucketUri}/artifacts`,
    store,
    serving,
    publisher,
    where: `the deployed stack (${cfg.stateMachineArn}, ${bucketUri}/artifacts)`,
    timeoutMs: values.timeoutSeconds * 1000,
  });
  return printRollback(pipeline, res, values.json, `RayService ${pipeline} in namespace ${cluster.namespace} of EKS cluster ${cluster.clusterName}`);
}

/** The command's output for a deployed rollback; its exit code. */
export function printRollback(pipeline: string, res: DeployedRollbackResult, json: boolean | undefined, servingWhere: string): number {
  if (!res.ok) {
    if (json) process.stdout.write(`${JSON.stringify({ pipeline, error: res.error, message: res.message }, null, 2)}\n`);
    process.stderr.write(`sentinel: ${res.message}\n`);
    return 1;
  }
  const { change, current } = res;
  if (json) process.stdout.write(`${JSON.stringify({ pipeline, ...change }, null, 2)}\n`);
  else {
    process.stdout.write(`${green('✔')} ${bold(`${pipeline} rolled back`)}: ${current.runId} (${current.metric} ${current.value.toFixed(4)}) is champion again in place of ${change.from}\n`);
    process.stdout.write(`  ${dim(`serving now: ${servingWhere}; Model Rolled Back published`)}\n`);
    process.stdout.write(`  ${dim(`reason: ${change.reason}`)}\n`);
  }
  return 0;
}
