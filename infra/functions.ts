// Every Lambda: Node 22 on arm64, an ESM bundle built by infra/bundles.ts (the same options bench/bundles.ts measures),
// its own role with the policy generated from its declared use (iam.ts), its own log group with retention, X-Ray
// tracing, and — for the queue consumers — an SQS event source mapping that reports partial batch failures.
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { cloudwatch, iam, lambda, sqs } from '@pulumi/aws';
import { buildLambda, LAMBDA_ENTRY_DIR } from './bundles.js';
import { deployedLambdas, imagePrefixes, type LambdaName, type ResourceNames, type SentinelConfig } from './config.js';
import { assumeRolePolicy, functionPolicy, ONE_TIME_SCHEDULE_TARGETS, type DeploymentArns } from './iam.js';
import { durationSeconds } from '../core/staleness.js';
import type { PipelineSpecFile } from './bucket.js';
import { metricsNamespace, NAMESPACE_ENV, SERVICE } from '../core/metrics.js';

/** The event-flow entries, named by path like every other (test/infra checks each path exists and bundles). */
export const HANDLE_INTERRUPTION_ENTRY = `${LAMBDA_ENTRY_DIR}/handle-interruption.ts`;
export const REAP_IDLE_ENTRY = `${LAMBDA_ENTRY_DIR}/reap-idle.ts`;

export interface LambdaSettings {
  /** Repository-relative entry module (exports `handler`). */
  entry: string;
  timeoutSeconds: number;
  memoryMb: number;
  /**
   * Reserved concurrency where the number of copies matters: the watcher and the reaper must not overlap (two
   * watchers publish every completion twice), the consumers are capped so a burst does not flood the API server.
   */
  reservedConcurrency?: number;
  /** SQS consumer: which queue, and the event source mapping's own concurrency cap (≤ reserved concurrency). */
  consumes?: { queue: 'completion' | 'interruption'; batchSize: number; maximumConcurrency: number };
}

const entry = (fn: LambdaName) => `${LAMBDA_ENTRY_DIR}/${fn}.ts`;

export const LAMBDAS: Record<LambdaName, LambdaSettings> = {
  'prepare-run': { entry: entry('prepare-run'), timeoutSeconds: 30, memoryMb: 512 },
  'submit-stage': { entry: entry('submit-stage'), timeoutSeconds: 60, memoryMb: 512 },
  'evaluate-gate': { entry: entry('evaluate-gate'), timeoutSeconds: 30, memoryMb: 512 },
  // Promote and CheckPromotion: apply the RayService config or read its status once, and return; the state machine
  // waits between checks (core/promotion-wait.ts), so no call blocks on a rollout.
  promote: { entry: entry('promote'), timeoutSeconds: 60, memoryMb: 512 },
  'finish-run': { entry: entry('finish-run'), timeoutSeconds: 120, memoryMb: 512 },
  'complete-stage': {
    entry: entry('complete-stage'),
    timeoutSeconds: 60,
    memoryMb: 512,
    reservedConcurrency: 5,
    consumes: { queue: 'completion', batchSize: 10, maximumConcurrency: 5 },
  },
  // Armed while stages are in flight (every watchEverySeconds); must finish before its next tick.
  'watch-jobs': { entry: entry('watch-jobs'), timeoutSeconds: 50, memoryMb: 512, reservedConcurrency: 1 },
  'start-run': { entry: entry('start-run'), timeoutSeconds: 30, memoryMb: 512 },
  // Spot warnings give two minutes: act within one.
  'handle-interruption': {
    entry: HANDLE_INTERRUPTION_ENTRY,
    timeoutSeconds: 60,
    memoryMb: 512,
    reservedConcurrency: 5,
    consumes: { queue: 'interruption', batchSize: 10, maximumConcurrency: 5 },
  },
  'reap-idle': { entry: REAP_IDLE_ENTRY, timeoutSeconds: 120, memoryMb: 512, reservedConcurrency: 1 },
  // Run events → SNS and the webhook (5 s timeout each); staleness checks.
  notify: { entry: entry('notify'), timeoutSeconds: 30, memoryMb: 256 },
  // An execution that ended early: deletes its RayJobs, records the end.
  'execution-ended': { entry: entry('execution-ended'), timeoutSeconds: 60, memoryMb: 512 },
};


/** SQS visibility timeout for a consumer: six times its timeout (AWS's guidance for event source mappings). */
export const visibilityTimeoutFor = (fn: LambdaName) => 6 * LAMBDAS[fn].timeoutSeconds;

/** Environment of every function: names and settings only, never a secret. Read by functions/aws/deps.ts. */
export function lambdaEnvironment(cfg: SentinelConfig, names: ResourceNames, a: DeploymentArns, specs: PipelineSpecFile[]): Record<string, string> {
  return {
    SENTINEL_BUCKET: a.bucketName,
    SENTINEL_TOKENS_TABLE: names.tokensTable,
    SENTINEL_STATE_MACHINE_ARN: a.stateMachine,
    SENTINEL_CLUSTER_NAME: cfg.cluster.name,
    SENTINEL_NAMESPACE: cfg.cluster.namespace,
    // The serving image per pipeline (each spec's image: the jobs package holds the Serve application).
    SENTINEL_SERVE_IMAGES: JSON.stringify(Object.fromEntries(specs.map((s) => [s.name, s.image]))),
    SENTINEL_IDLE_TIMEOUT_MINUTES: String(cfg.idleTimeoutMinutes),
    SENTINEL_SCALE_TO_ZERO_NODEGROUPS: cfg.cluster.scaleToZeroNodeGroups.join(','),
    SENTINEL_NODE_HANDLING: String(cfg.handleSpotInterruptions),
    // start-run / prepare-run refuse images from any other registry (core/deployed-spec.ts).
    SENTINEL_ALLOWED_IMAGE_PREFIXES: imagePrefixes(cfg, a.account).join(','),
    // One-time schedules (core/arming.ts, core/staleness.ts): where they go, what they invoke, as whom.
    SENTINEL_SCHEDULE_GROUP: names.scheduleGroup,
    SENTINEL_SCHEDULE_PREFIX: a.schedulePrefix,
    SENTINEL_SCHEDULER_ROLE_ARN: a.oneTimeSchedulerRole,
    SENTINEL_SCHEDULE_TARGETS: JSON.stringify(Object.fromEntries(Object.entries(ONE_TIME_SCHEDULE_TARGETS).map(([k, fn]) => [k, a.functions[fn]]))),
    SENTINEL_UNDELIVERED_QUEUE_ARN: a.undeliveredQueue,
    SENTINEL_WATCH_EVERY_SECONDS: String(cfg.watchEverySeconds),
    SENTINEL_JOB_RETENTION_SECONDS: String(durationSeconds(cfg.jobRetention, 'jobRetention')),
    // Run notifications (functions/aws/notify.ts): the deployment's shared topic.
    SENTINEL_NOTIFICATIONS_TOPIC_ARN: a.notificationsTopic,
    // The MLflow server (runs, registry); unset: tracking off (functions/aws/deps.ts OPTIONAL_ENV).
    ...(cfg.trackingUri ? { SENTINEL_TRACKING_URI: cfg.trackingUri } : {}),
    POWERTOOLS_SERVICE_NAME: SERVICE,
    POWERTOOLS_LOG_LEVEL: 'INFO',
    // The handlers' metrics (EMF, core/metrics.ts) go to the deployment's own namespace.
    [NAMESPACE_ENV]: metricsNamespace(cfg.stage),
  };
}

/** Where a function's code comes from; tests pass a stub, deploys build with esbuild. */
export type CodeProvider = (fn: LambdaName, settings: LambdaSettings) => pulumi.Input<pulumi.asset.Archive>;

export const esbuildCode =
  (root: string): CodeProvider =>
  async (fn, s) => {
    const built = await buildLambda({ name: fn, entry: join(root, s.entry) }, join(root, 'dist', 'lambda'));
    return new pulumi.asset.AssetArchive({ 'index.mjs': new pulumi.asset.FileAsset(built.outfile) });
  };

export interface DeployedFunction {
  name: LambdaName;
  fn: lambda.Function;
  role: iam.Role;
  policy: iam.RolePolicy;
  logGroup: cloudwatch.LogGroup;
  eventSource?: lambda.EventSourceMapping;
}

export function createFunctions(args: {
  cfg: SentinelConfig;
  names: ResourceNames;
  arns: pulumi.Output<DeploymentArns>;
  specs: PipelineSpecFile[];
  queues: { completion: sqs.Queue; interruption: sqs.Queue };
  code: CodeProvider;
}): Partial<Record<LambdaName, DeployedFunction>> {
  const { cfg, names, arns } = args;
  const env = arns.apply((a) => lambdaEnvironment(cfg, names, a, args.specs));
  const out: Partial<Record<LambdaName, DeployedFunction>> = {};
  for (const name of deployedLambdas(cfg)) {
    const s = LAMBDAS[name];
    const id = pascal(name);
    const logGroup = new cloudwatch.LogGroup(`${id}Logs`, { name: names.functionLogGroup(name), retentionInDays: cfg.logRetentionDays });
    const role = new iam.Role(`${id}Role`, { name: names.role(name), assumeRolePolicy: JSON.stringify(assumeRolePolicy('lambda.amazonaws.com')) });
    const policy = new iam.RolePolicy(`${id}Policy`, { role: role.id, name: 'least-privilege', policy: arns.apply((a) => JSON.stringify(functionPolicy(name, a))) });
    const fn = new lambda.Function(
      id,
      {
        name: names.function(name),
        role: role.arn,
        runtime: lambda.Runtime.NodeJS22dX,
        architectures: ['arm64'],
        handler: 'index.handler',
        code: args.code(name, s),
        timeout: s.timeoutSeconds,
        memorySize: s.memoryMb,
        environment: { variables: env },
        tracingConfig: { mode: 'Active' },
        loggingConfig: { logFormat: 'JSON', logGroup: logGroup.name, applicationLogLevel: 'INFO', systemLogLevel: 'WARN' },
        ...(cfg.reserveConcurrency && s.reservedConcurrency ? { reservedConcurrentExecutions: s.reservedConcurrency } : {}),
      },
      // The policy first: the event source mapping checks the role can read the queue when it is created.
      { dependsOn: [logGroup, policy] },
    );
    const deployed: DeployedFunction = { name, fn, role, policy, logGroup };
    if (s.consumes) {
      const queue = s.consumes.queue === 'completion' ? args.queues.completion : args.queues.interruption;
      deployed.eventSource = new lambda.EventSourceMapping(`${id}Source`, {
        eventSourceArn: queue.arn,
        functionName: fn.arn,
        batchSize: s.consumes.batchSize,
        functionResponseTypes: ['ReportBatchItemFailures'],
        scalingConfig: { maximumConcurrency: s.consumes.maximumConcurrency },
      });
    }
    out[name] = deployed;
  }
  return out;
}

/** prepare-run → PrepareRun: logical resource names. */
export const pascal = (s: string) => s.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase());
