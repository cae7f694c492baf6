// What the Lambda entries hand to the handler factories, built from environment variables (set by
// infra/functions.ts) and cached in module scope: one set per container, reused by every warm invocation.
// Nothing here does I/O at module init: adapters are created on first use, and the Kubernetes client describes
// the cluster (endpoint + CA) on its first call, then mints and caches EKS tokens (adapters/aws/eks-token.ts).
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EKSClient } from '@aws-sdk/client-eks';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { ComputePort, EventPublisher, ExecutionsPort, ObjectStore, OneTimeSchedulesPort, ServingPort, TaskCallbacks, TokenStore } from '../../core/ports.js';
import { EventBridgeSchedules } from '../../adapters/aws/scheduler.js';
import { isSlotName, reapScheduleStem, watchScheduleStem, type ReaperArming, type WatcherArming } from '../../core/arming.js';
import type { ServeConfig } from '../../core/serve-config.js';
import { quoted, validationFailed } from '../../core/errors.js';
import { S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { SfnExecutions, SfnTaskCallbacks } from '../../adapters/aws/sfn.js';
import { DynamoTokenStore } from '../../adapters/aws/dynamo-tokens.js';
import { EventBridgePublisher } from '../../adapters/aws/eventbridge.js';
import { eksEndpoint } from '../../adapters/aws/eks-token.js';
import { KubeClient } from '../../adapters/kuberay/client.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { RayServiceServing } from '../../adapters/kuberay/serving.js';
import { MlflowRest } from '../../adapters/mlflow/rest.js';
import type { TrackingPort } from '../../core/ports.js';
import { kubeRequestTracer, traced } from '../lib/tracing.js';

/** The variables infra/functions.ts sets (test/infra checks the two agree). */
export const ENV = {
  bucket: 'SENTINEL_BUCKET',
  tokensTable: 'SENTINEL_TOKENS_TABLE',
  stateMachineArn: 'SENTINEL_STATE_MACHINE_ARN',
  clusterName: 'SENTINEL_CLUSTER_NAME',
  namespace: 'SENTINEL_NAMESPACE',
  serveImages: 'SENTINEL_SERVE_IMAGES',
  idleTimeoutMinutes: 'SENTINEL_IDLE_TIMEOUT_MINUTES',
  scaleToZeroNodeGroups: 'SENTINEL_SCALE_TO_ZERO_NODEGROUPS',
  allowedImagePrefixes: 'SENTINEL_ALLOWED_IMAGE_PREFIXES',
  /** One-time schedules (core/arming.ts, core/staleness.ts): the stack's group, the names' prefix, who runs them. */
  scheduleGroup: 'SENTINEL_SCHEDULE_GROUP',
  schedulePrefix: 'SENTINEL_SCHEDULE_PREFIX',
  schedulerRoleArn: 'SENTINEL_SCHEDULER_ROLE_ARN',
  /** JSON {watch, reap, stale}: the function ARN each kind of schedule invokes. */
  scheduleTargets: 'SENTINEL_SCHEDULE_TARGETS',
  undeliveredQueueArn: 'SENTINEL_UNDELIVERED_QUEUE_ARN',
  watchEverySeconds: 'SENTINEL_WATCH_EVERY_SECONDS',
  jobRetentionSeconds: 'SENTINEL_JOB_RETENTION_SECONDS',
} as const;

export function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`environment variable ${name} is not set (infra/functions.ts sets it on every function)`);
  return v;
}

const cache = new Map<string, unknown>();
function once<T>(key: string, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}
/** For tests: forget every client and adapter built so far. */
export const resetDeps = () => cache.clear();

/** An object that builds the real one on first property access (so creating a handler costs nothing). */
export function lazy<T extends object>(make: () => T): T {
  let real: T | undefined;
  return new Proxy({} as T, {
    get(_t, prop) {
      real ??= make();
      const v = Reflect.get(real, prop, real) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(real) : v;
    },
  });
}

// SDK clients take the region and credentials from the Lambda environment; each call is a trace subsegment.
const s3 = () => once('client:s3', () => traced(new S3Client({})));
const sfn = () => once('client:sfn', () => traced(new SFNClient({})));
const dynamo = () => once('client:dynamodb', () => traced(new DynamoDBClient({})));
const events = () => once('client:eventbridge', () => traced(new EventBridgeClient({})));
export const eks = () => once('client:eks', () => traced(new EKSClient({})));
const scheduler = () => once('client:scheduler', () => traced(new SchedulerClient({})));

export const bucketUri = () => `s3://${env(ENV.bucket)}`;
/** The registry prefixes a run's image must start with (infra/config.ts allowedImagePrefixes, comma-separated). */
export const allowedImagePrefixes = (): string[] => env(ENV.allowedImagePrefixes).split(',').filter(Boolean);
/** Run artifacts: s3://<bucket>/artifacts/<pipeline>/<runId>/… */
export const artifactRoot = () => `${bucketUri()}/artifacts`;

export const store = (): ObjectStore => once('store', () => lazy(() => new S3ObjectStore(s3())));
export const tokens = (): TokenStore => once('tokens', () => lazy(() => new DynamoTokenStore(dynamo(), { table: env(ENV.tokensTable) })));
export const callbacks = (): TaskCallbacks => once('callbacks', () => lazy(() => new SfnTaskCallbacks(sfn())));
export const executions = (): ExecutionsPort => once('executions', () => lazy(() => new SfnExecutions(sfn(), env(ENV.stateMachineArn))));
export const publisher = (): EventPublisher => once('publisher', () => lazy(() => new EventBridgePublisher(events())));

/**
 * The Kubernetes client, connected on its first call: DescribeCluster once per container, then a bearer token the
 * token provider refreshes; each API request is a trace subsegment (method, path, status). Only its async request
 * methods are used by the adapters, and only those are forwarded.
 */
export const kubeClient = (): KubeClient =>
  once('kube', () => {
    let connecting: Promise<KubeClient> | undefined;
    const connect = () =>
      (connecting ??= eksEndpoint({ clusterName: env(ENV.clusterName), region: env('AWS_REGION'), eks: eks() }).then((ep) => KubeClient.forEndpoint(ep, undefined, kubeRequestTracer))).catch((e) => {
        connecting = undefined; // a failed DescribeCluster is retried on the next call
        throw e;
      });
    return new Proxy({} as KubeClient, {
      get(_t, prop) {
        if (prop === 'then') return undefined; // not a thenable
        return async (...args: unknown[]) => {
          const client = await connect();
          const method = Reflect.get(client, prop, client) as unknown;
          if (typeof method !== 'function') throw new Error(`KubeClient.${String(prop)} is not a request method`);
          return (method as (...a: unknown[]) => unknown).apply(client, args);
        };
      },
    });
  });

// Ray pods carry Prometheus' scrape annotations for Ray's own metrics (core/kuberay/pods.ts, docs/deploying.md).
export const compute = (): ComputePort => once('compute', () => new KubeRayCompute({ client: kubeClient(), namespace: env(ENV.namespace), prometheus: true }));

/**
 * Serving per pipeline: each RayService runs its spec's image, which infra passes as {pipeline: image}; the port's
 * calls name the pipeline, so the right one is picked per call.
 */
export class PerPipelineServing implements ServingPort {
  private readonly byPipeline = new Map<string, ServingPort>();
  constructor(
    private readonly images: Record<string, string>,
    private readonly make: (image: string) => ServingPort,
  ) {}
  private for(pipeline: string): ServingPort {
    const image = this.images[pipeline];
    if (!image) throw validationFailed(`pipeline ${quoted(pipeline)} is not deployed (no serving image in ${ENV.serveImages})`, 'pipeline');
    let s = this.byPipeline.get(pipeline);
    if (!s) this.byPipeline.set(pipeline, (s = this.make(image)));
    return s;
  }
  apply(pipeline: string, config: ServeConfig) {
    return this.for(pipeline).apply(pipeline, config);
  }
  status(pipeline: string) {
    return this.for(pipeline).status(pipeline);
  }
  endpoint(pipeline: string, route: string) {
    return this.for(pipeline).endpoint(pipeline, route);
  }
}

export const serving = (): ServingPort =>
  once('serving', () =>
    lazy(() => {
      const images = JSON.parse(env(ENV.serveImages)) as Record<string, string>;
      const namespace = env(ENV.namespace);
      return new PerPipelineServing(images, (image) => new RayServiceServing({ client: kubeClient(), namespace, image, prometheus: true }));
    }),
  );

/** A positive whole number of seconds from a variable infra sets. */
export function seconds(name: string): number {
  const raw = env(name);
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a whole number of seconds > 0 (got "${raw}")`);
  return n;
}

/** The schedule names' prefix (sentinel-<stage>): the watcher's are <prefix>-watch-<t>, the reaper's <prefix>-reap-<t>. */
export const schedulePrefix = () => env(ENV.schedulePrefix);

/** The target of a schedule, by its name: IAM lets the Lambdas arm only <prefix>-*, and Scheduler invoke only these. */
export function scheduleTargetFor(name: string, prefix: string, targets: ScheduleTargets): string {
  if (isSlotName(watchScheduleStem(prefix), name)) return targets.watch;
  if (isSlotName(reapScheduleStem(prefix), name)) return targets.reap;
  if (name.startsWith(`${prefix}-stale-`)) return targets.stale;
  throw validationFailed(`schedule ${quoted(name)} is none of ${prefix}-watch-<time>, ${prefix}-reap-<time>, ${prefix}-stale-<runId>-<pipeline>`, 'name');
}
export interface ScheduleTargets {
  watch: string;
  reap: string;
  stale: string;
}

export const schedules = (): OneTimeSchedulesPort =>
  once('schedules', () =>
    lazy(() => {
      const prefix = schedulePrefix();
      const targets = JSON.parse(env(ENV.scheduleTargets)) as ScheduleTargets;
      const roleArn = env(ENV.schedulerRoleArn);
      const deadLetterArn = env(ENV.undeliveredQueueArn);
      return new EventBridgeSchedules(scheduler(), { group: env(ENV.scheduleGroup), targetFor: (name) => ({ arn: scheduleTargetFor(name, prefix, targets), roleArn, deadLetterArn }) });
    }),
  );

/** submit-stage and the watcher: arm the watcher's next tick (a getter object: nothing read before first use). */
export const watcherArming = (): WatcherArming => ({
  schedules: schedules(),
  get prefix() {
    return schedulePrefix();
  },
  get everyMs() {
    return seconds(ENV.watchEverySeconds) * 1000;
  },
});

/** finish-run, execution-ended and the reaper: arm the reaper (idle time from SENTINEL_IDLE_TIMEOUT_MINUTES). */
export const reaperArming = (): ReaperArming => ({
  schedules: schedules(),
  get prefix() {
    return schedulePrefix();
  },
  get idleMs() {
    const minutes = Number(env(ENV.idleTimeoutMinutes));
    if (!(minutes > 0) || !Number.isFinite(minutes)) throw new Error(`${ENV.idleTimeoutMinutes} must be a number of minutes > 0`);
    return minutes * 60_000;
  },
});

/** Variables infra sets only when configured. */
export const OPTIONAL_ENV = {
  /** infra/config.ts trackingUri: the MLflow server; unset, runs are not tracked (their record says so). */
  trackingUri: 'SENTINEL_TRACKING_URI',
} as const;

/** Experiment tracking and the model registry, when the deployment names an MLflow server. */
export const tracking = (): TrackingPort | undefined => {
  const uri = process.env[OPTIONAL_ENV.trackingUri];
  return uri ? once('tracking', () => new MlflowRest({ uri })) : undefined;
};
