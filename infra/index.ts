// A whole Sentinel deployment from one configuration: bucket, token table, queues, functions, state machine,
// rules and schedules, EKS access, alarms. sst.config.ts calls sentinel(); test/infra calls it under Pulumi mocks.
import * as pulumi from '@pulumi/pulumi';
import { getCallerIdentityOutput, getPartitionOutput, getRegionOutput } from '@pulumi/aws';
import { resourceNames, routeSettings, type SentinelConfig } from './config.js';
import { deploymentArns } from './iam.js';
import { createBucket, pipelineSpecFiles } from './bucket.js';
import { createTokensTable } from './tokens.js';
import { createQueues } from './queues.js';
import { createFunctions, esbuildCode, type CodeProvider } from './functions.js';
import { createStateMachine } from './statemachine.js';
import { createRules, PLACEHOLDER_BUCKET } from './rules.js';
import { createEksAccess } from './eks-access.js';
import { createAlarms } from './alarms.js';
import { createNotificationsTopic } from './notifications.js';
import { routesFor } from '../events/routes.js';

export interface SentinelOptions {
  config: SentinelConfig;
  /** The repository root (spec files and function entries are relative to it). */
  root: string;
  /** Lambda code; defaults to esbuild bundles of functions/aws/<fn>.ts. */
  code?: CodeProvider;
}

export function sentinel(opts: SentinelOptions) {
  const cfg = opts.config;
  const names = resourceNames(cfg);
  const account = getCallerIdentityOutput().accountId;
  const partition = getPartitionOutput().partition;
  // ARNs are derived from names and the configured region: deploying elsewhere would grant on the wrong ARNs.
  const region = getRegionOutput().name.apply((r) => {
    if (r !== cfg.region) throw new Error(`infra/config.ts says region ${cfg.region}, but the AWS provider deploys to ${r}`);
    return r;
  });
  const arns = pulumi.all([account, partition, region]).apply(([acc, part]) => deploymentArns(cfg, { account: acc, partition: part }));

  const specs = pipelineSpecFiles(cfg, opts.root);
  // Which routes exist does not depend on the bucket's name (only their patterns do): queue policies need them now.
  const routes = routesFor(routeSettings(cfg, PLACEHOLDER_BUCKET));

  const storage = createBucket(cfg, arns, specs);
  const tokens = createTokensTable(names);
  const queues = createQueues(cfg, names, arns, routes);
  const functions = createFunctions({ cfg, names, arns, specs, queues: { completion: queues.completion.queue, interruption: queues.interruption.queue }, code: opts.code ?? esbuildCode(opts.root) });
  const pipeline = createStateMachine(cfg, names, arns, functions);
  const events = createRules({ cfg, names, arns, queues, functions });
  const eksAccess = createEksAccess({ cfg, names, arns, functions });
  const alarms = createAlarms({ cfg, names, queues, functions, stateMachine: pipeline.machine });
  const notifications = createNotificationsTopic(names);

  return {
    names,
    arns,
    storage,
    tokens,
    queues,
    functions,
    pipeline,
    events,
    eksAccess,
    alarms,
    notifications,
    outputs: {
      bucket: storage.bucket.bucket,
      stateMachineArn: pipeline.machine.arn,
      alarmTopicArn: alarms.topic.arn,
      datasetsUri: pulumi.interpolate`s3://${storage.bucket.bucket}/datasets/`,
      // `sentinel rollback --backend aws` reaches the pipeline's RayService here (cli/rollback-aws.ts).
      clusterName: cfg.cluster.name,
      namespace: cfg.cluster.namespace,
    },
  };
}
export type SentinelStack = ReturnType<typeof sentinel>;
