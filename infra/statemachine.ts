// The pipeline state machine: workflows/pipeline.ts's definition (the one the local runtime interprets) with the
// deployed functions' ARNs. Execution logs without execution data (task tokens and run inputs stay out of the logs;
// the execution history keeps them), X-Ray tracing on.
import * as pulumi from '@pulumi/pulumi';
import { cloudwatch, iam, sfn } from '@pulumi/aws';
import { buildPipelineDefinition, STATE_MACHINE_FUNCTIONS, type StateMachineFunction } from '../workflows/pipeline.js';
import type { LambdaName, ResourceNames, SentinelConfig } from './config.js';
import { assumeRolePolicy, policyDocument, stateMachineGrants, type DeploymentArns } from './iam.js';
import type { DeployedFunction } from './functions.js';

/** The definition as deployed, from function ARNs (a plain function so render and tests build the same JSON). */
export const definitionJson = (functionArns: Record<StateMachineFunction, string>) => JSON.stringify(buildPipelineDefinition({ functionArns }));

export function createStateMachine(
  cfg: SentinelConfig,
  names: ResourceNames,
  arns: pulumi.Output<DeploymentArns>,
  fns: Partial<Record<LambdaName, DeployedFunction>>,
) {
  const logGroup = new cloudwatch.LogGroup('PipelineLogs', { name: names.stateMachineLogGroup, retentionInDays: cfg.logRetentionDays });
  const role = new iam.Role('PipelineRole', {
    name: names.role('pipeline'),
    assumeRolePolicy: arns.apply((a) => JSON.stringify(assumeRolePolicy('states.amazonaws.com', a.account))),
  });
  const policy = new iam.RolePolicy('PipelinePolicy', { role: role.id, name: 'least-privilege', policy: arns.apply((a) => JSON.stringify(policyDocument(stateMachineGrants(a)))) });
  const definition = pulumi.all(STATE_MACHINE_FUNCTIONS.map((f) => required(fns, f).fn.arn)).apply((list) =>
    definitionJson(Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f, i) => [f, list[i]!])) as Record<StateMachineFunction, string>),
  );
  const machine = new sfn.StateMachine(
    'Pipeline',
    {
      name: names.stateMachine,
      type: 'STANDARD',
      roleArn: role.arn,
      definition,
      loggingConfiguration: { level: 'ALL', includeExecutionData: false, logDestination: pulumi.interpolate`${logGroup.arn}:*` },
      tracingConfiguration: { enabled: true },
    },
    { dependsOn: [policy] },
  );
  return { machine, role, policy, logGroup };
}

function required(fns: Partial<Record<LambdaName, DeployedFunction>>, f: LambdaName): DeployedFunction {
  const d = fns[f];
  if (!d) throw new Error(`the state machine needs function ${f}, which was not deployed`);
  return d;
}
