// EventBridge rules and EventBridge Scheduler schedules, one per entry of events/routes.ts (routesFor/schedulesFor):
// the same table the local runtime routes by. Logical targets map to resources here, and only here.
import * as pulumi from '@pulumi/pulumi';
import { cloudwatch, iam, lambda, scheduler } from '@pulumi/aws';
import { routesFor, schedulesFor, type Route, type RouteTarget, type Schedule } from '../events/routes.js';
import { routeSettings, scheduleInput, type LambdaName, type ResourceNames, type SentinelConfig } from './config.js';
import { assumeRolePolicy, ONE_TIME_SCHEDULER_ROLE, oneTimeSchedulerGrants, policyDocument, schedulerGrants, SCHEDULE_TARGETS, type DeploymentArns } from './iam.js';
import type { DeployedFunction } from './functions.js';
import type { Queues } from './queues.js';

/** Stands in for the bucket's name where only the shape of the routes matters (names, targets), not their patterns. */
export const PLACEHOLDER_BUCKET = 'sentinel-bucket';

/** Logical route targets → what they are in AWS. Exhaustive: a new RouteTarget does not compile until mapped. */
export const ROUTE_TARGETS = {
  'completion-queue': { kind: 'queue', queue: 'completion' },
  'interruption-queue': { kind: 'queue', queue: 'interruption' },
  'start-run': { kind: 'function', function: 'start-run' },
  notify: { kind: 'function', function: 'notify' },
  'execution-ended': { kind: 'function', function: 'execution-ended' },
} as const satisfies Record<RouteTarget, { kind: 'queue'; queue: 'completion' | 'interruption' } | { kind: 'function'; function: LambdaName }>;

/** Undeliverable events: retried for an hour, then kept in the undelivered-events queue. */
const RETRY = { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 };

export interface RuleResources {
  route: Route;
  rule: cloudwatch.EventRule;
  target: cloudwatch.EventTarget;
  permission?: lambda.Permission;
}
export interface ScheduleResources {
  schedule: Schedule;
  resource: scheduler.Schedule;
}
/**
 * Where the watcher, the reaper and the staleness checks are armed at run time (core/arming.ts): a schedule group of
 * the stack's own (the Lambdas may arm only their <prefix>-… names in it) and the role those schedules run as.
 */
export interface OneTimeScheduling {
  group: scheduler.ScheduleGroup;
  role: iam.Role;
  policy: iam.RolePolicy;
}

export function createRules(args: {
  cfg: SentinelConfig;
  names: ResourceNames;
  arns: pulumi.Output<DeploymentArns>;
  queues: Queues;
  functions: Partial<Record<LambdaName, DeployedFunction>>;
}) {
  const { names, queues, functions } = args;
  const fn = (f: LambdaName) => {
    const d = functions[f];
    if (!d) throw new Error(`a route or schedule targets ${f}, which this configuration does not deploy`);
    return d.fn;
  };
  const queueArn = (q: 'completion' | 'interruption'): pulumi.Output<string> => {
    const pair = q === 'completion' ? queues.completion : queues.interruption;
    return pair.queue.arn;
  };

  // The routes' shape from the configuration, their patterns with the real bucket name.
  const shape = routeSettings(args.cfg, PLACEHOLDER_BUCKET);
  const patternOf = (name: string) =>
    args.arns.apply((a) => JSON.stringify(routesFor(routeSettings(args.cfg, a.bucketName, a.stateMachine)).find((r) => r.name === name)!.pattern));

  const rules: RuleResources[] = routesFor(shape).map((route) => {
    const id = `Rule-${route.name}`;
    const rule = new cloudwatch.EventRule(id, { name: names.rule(route.name), description: route.description, eventPattern: patternOf(route.name) });
    const t = ROUTE_TARGETS[route.target];
    const arn = t.kind === 'queue' ? queueArn(t.queue) : fn(t.function).arn;
    const target = new cloudwatch.EventTarget(`${id}-target`, {
      rule: rule.name,
      targetId: route.target,
      arn,
      retryPolicy: RETRY,
      deadLetterConfig: { arn: queues.undelivered.arn },
    });
    // A Lambda target needs the function's resource policy to admit this rule (queues admit it by queue policy).
    const permission =
      t.kind === 'function'
        ? new lambda.Permission(`${id}-invoke`, { action: 'lambda:InvokeFunction', function: fn(t.function).name, principal: 'events.amazonaws.com', sourceArn: rule.arn })
        : undefined;
    return { route, rule, target, ...(permission ? { permission } : {}) };
  });

  // One-time schedules: no resource per schedule here (the Lambdas arm them), only their group and their role.
  const oneTimeRole = new iam.Role('OneTimeSchedulerRole', {
    name: names.role(ONE_TIME_SCHEDULER_ROLE),
    assumeRolePolicy: args.arns.apply((a) => JSON.stringify(assumeRolePolicy('scheduler.amazonaws.com', a.account))),
  });
  const oneTime: OneTimeScheduling = {
    group: new scheduler.ScheduleGroup('ScheduleGroup', { name: names.scheduleGroup }),
    role: oneTimeRole,
    policy: new iam.RolePolicy('OneTimeSchedulerPolicy', { role: oneTimeRole.id, name: 'least-privilege', policy: args.arns.apply((a) => JSON.stringify(policyDocument(oneTimeSchedulerGrants(a)))) }),
  };

  // Recurring schedules (retrains): their own role, only when there are any.
  const schedules = schedulesFor(shape);
  if (!schedules.length) return { rules, schedules: [], oneTime };
  const role = new iam.Role('SchedulerRole', {
    name: names.role('scheduler'),
    assumeRolePolicy: args.arns.apply((a) => JSON.stringify(assumeRolePolicy('scheduler.amazonaws.com', a.account))),
  });
  const policy = new iam.RolePolicy('SchedulerPolicy', { role: role.id, name: 'least-privilege', policy: args.arns.apply((a) => JSON.stringify(policyDocument(schedulerGrants(a, schedules)))) });

  const scheduled: ScheduleResources[] = schedules.map((s) => ({
    schedule: s,
    resource: new scheduler.Schedule(
      `Schedule-${s.name}`,
      {
        name: names.schedule(s.name),
        description: s.description,
        scheduleExpression: s.expression,
        scheduleExpressionTimezone: 'UTC',
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: fn(SCHEDULE_TARGETS[s.target]).arn,
          roleArn: role.arn,
          input: JSON.stringify(scheduleInput(s)),
          retryPolicy: RETRY,
          deadLetterConfig: { arn: queues.undelivered.arn },
        },
      },
      { dependsOn: [policy] },
    ),
  }));
  return { rules, schedules: scheduled, schedulerRole: role, schedulerPolicy: policy, oneTime };
}
