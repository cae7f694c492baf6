// The whole deployment under Pulumi's runtime mocks: which rule targets what, which role may do what, which queue
// redrives where, and how the bucket, the state machine, EKS access and alarms are set up.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { ACCOUNT, installMocks, settled, type Recorded } from './pulumi-mocks.js';
import { resourceNames, routeSettings, sentinelConfig, type LambdaName } from '../../infra/config.js';
import { deploymentArns, functionGrants, SCHEDULE_TARGETS, WILDCARD_RESOURCE_ACTIONS, type PolicyDocument, type Statement } from '../../infra/iam.js';
import { LAMBDAS } from '../../infra/functions.js';
import { MAX_RECEIVE_COUNT } from '../../infra/queues.js';
import { ROUTE_TARGETS } from '../../infra/rules.js';
import { routesFor, schedulesFor } from '../../events/routes.js';
import { buildPipelineDefinition, STATE_MACHINE_FUNCTIONS, type StateMachineFunction } from '../../workflows/pipeline.js';
import type { SentinelStack } from '../../infra/index.js';
import { functionGroup, KUBE_FUNCTIONS, type KubeFunction } from '../../core/kuberay/rbac.js';
import { jobServiceAccountFor, serveServiceAccountFor } from '../../core/kuberay/identity.js';
import { STAGES } from '../../core/stages.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const REGION = 'eu-west-1';
const cfg = sentinelConfig('test', {
  region: REGION,
  cluster: { name: 'ml-cluster', namespace: 'sentinel', kubernetesGroup: 'sentinel:lambda', scaleToZeroNodeGroups: ['gpu-spot', 'cpu-spot'], rayServiceAccount: 'default' },
  alarmEmail: 'ops@example.com',
  handleSpotInterruptions: true,
});
const names = resourceNames(cfg);
const arns = deploymentArns(cfg, { account: ACCOUNT });
const settings = routeSettings(cfg, arns.bucketName, arns.stateMachine);

let recorded: Recorded[] = [];
let stack: SentinelStack;

before(async () => {
  recorded = installMocks(REGION);
  const { sentinel } = await import('../../infra/index.js');
  stack = sentinel({ config: cfg, root, code: () => new pulumi.asset.AssetArchive({}) });
  await settled(stack);
});

const ofType = (type: string) => recorded.filter((r) => r.type === type);
const one = (type: string, pred: (r: Recorded) => boolean, what: string) => {
  const found = ofType(type).filter(pred);
  assert.equal(found.length, 1, `exactly one ${what} (found ${found.length})`);
  return found[0]!;
};
const json = <T>(s: string) => JSON.parse(s) as T;
const fnArn = (f: LambdaName) => one('aws:lambda/function:Function', (r) => r.inputs.name === names.function(f), `function ${f}`).state.arn as string;
const queueArn = (name: string) => one('aws:sqs/queue:Queue', (r) => r.inputs.name === name, `queue ${name}`).state.arn as string;
const rolePolicy = (roleName: string): PolicyDocument => {
  const role = one('aws:iam/role:Role', (r) => r.inputs.name === roleName, `role ${roleName}`);
  const policies = ofType('aws:iam/rolePolicy:RolePolicy').filter((p) => p.inputs.role === role.inputs.name);
  assert.equal(policies.length, 1, `one inline policy on ${roleName}`);
  return json(policies[0]!.inputs.policy);
};
const actionsOf = (doc: PolicyDocument) => doc.Statement.flatMap((s) => s.Action).sort();
const statementFor = (doc: PolicyDocument, action: string): Statement => {
  const s = doc.Statement.filter((x) => x.Action.includes(action));
  assert.equal(s.length, 1, `one statement grants ${action}`);
  return s[0]!;
};
const deployed = Object.keys(LAMBDAS) as LambdaName[];

test('every route has exactly one rule with its pattern and the target its logical name maps to', () => {
  const routes = routesFor(settings);
  assert.deepEqual(routes.map((r) => r.name).sort(), ['dataset-uploaded', 'execution-ended', 'instance-state-change', 'job-completed', 'run-events-notify', 'spot-interruption', 'stage-failure-written', 'stage-result-written']);
  assert.equal(ofType('aws:cloudwatch/eventRule:EventRule').length, routes.length, 'no rule without a route');
  for (const route of routes) {
    const rule = one('aws:cloudwatch/eventRule:EventRule', (r) => r.inputs.name === names.rule(route.name), `rule ${route.name}`);
    assert.deepEqual(json(rule.inputs.eventPattern), route.pattern);
    const targets = ofType('aws:cloudwatch/eventTarget:EventTarget').filter((t) => t.inputs.rule === rule.inputs.name);
    assert.equal(targets.length, 1, `one target on ${route.name}`);
    const t = ROUTE_TARGETS[route.target];
    const expected = t.kind === 'queue' ? queueArn(t.queue === 'completion' ? names.completionQueue : names.interruptionQueue) : fnArn(t.function);
    assert.equal(targets[0]!.inputs.arn, expected, `${route.name} → ${route.target}`);
    assert.equal(targets[0]!.inputs.deadLetterConfig.arn, queueArn(names.undeliveredQueue));
  }
  // The dataset rule matches the deployed bucket, and start-run admits exactly that rule.
  const upload = one('aws:cloudwatch/eventRule:EventRule', (r) => r.inputs.name === names.rule('dataset-uploaded'), 'upload rule');
  assert.deepEqual(json<{ detail: { bucket: { name: string[] } } }>(upload.inputs.eventPattern).detail.bucket.name, [`sentinel-test-${ACCOUNT}-${REGION}`]);
  // So does the pushed-completion rule (a stage's result.json), whose target is the completion queue.
  const pushed = one('aws:cloudwatch/eventRule:EventRule', (r) => r.inputs.name === names.rule('stage-result-written'), 'stage-result-written rule');
  assert.deepEqual(json<{ detail: { bucket: { name: string[] } } }>(pushed.inputs.eventPattern).detail.bucket.name, [`sentinel-test-${ACCOUNT}-${REGION}`]);
  // And the pushed failure's (a failing stage's failure.json), to the same queue.
  const failed = one('aws:cloudwatch/eventRule:EventRule', (r) => r.inputs.name === names.rule('stage-failure-written'), 'stage-failure-written rule');
  assert.deepEqual(json<{ detail: { bucket: { name: string[] } } }>(failed.inputs.eventPattern).detail.bucket.name, [`sentinel-test-${ACCOUNT}-${REGION}`]);
  const failedTarget = ofType('aws:cloudwatch/eventTarget:EventTarget').find((t) => t.inputs.rule === failed.inputs.name)!;
  assert.equal(failedTarget.inputs.arn, queueArn(names.completionQueue));
  // One invoke permission per function-targeted rule, each admitting exactly its rule.
  const perms = ofType('aws:lambda/permission:Permission');
  assert.deepEqual(perms.map((p) => p.inputs.function).sort(), [names.function('execution-ended'), names.function('notify'), names.function('start-run')].sort());
  const startRun = perms.find((p) => p.inputs.function === names.function('start-run'))!;
  assert.equal(startRun.inputs.principal, 'events.amazonaws.com');
  assert.equal(startRun.inputs.sourceArn, upload.state.arn);
  const notifyRule = one('aws:cloudwatch/eventRule:EventRule', (r) => r.inputs.name === names.rule('run-events-notify'), 'notify rule');
  assert.equal(perms.find((p) => p.inputs.function === names.function('notify'))!.inputs.sourceArn, notifyRule.state.arn);
});

test('every schedule has exactly one EventBridge Scheduler schedule invoking its function', () => {
  const schedules = schedulesFor(settings);
  // No forever-rate watcher or reaper: they are one-time schedules armed at run time (core/arming.ts).
  assert.deepEqual(schedules.map((s) => s.name).sort(), ['retrain-breast-cancer']);
  assert.deepEqual(ofType('aws:scheduler/schedule:Schedule').filter((r) => /^rate\(/.test(r.inputs.scheduleExpression)).map((r) => r.inputs.name), [], 'no rate() schedule at all');
  for (const t of ['watch-jobs', 'reap-idle'] as const) {
    assert.deepEqual(ofType('aws:scheduler/schedule:Schedule').filter((r) => r.inputs.target.arn === fnArn(t)), [], `no deployed schedule invokes ${t}`);
  }
  assert.equal(ofType('aws:scheduler/schedule:Schedule').length, schedules.length);
  const schedulerRole = one('aws:iam/role:Role', (r) => r.inputs.name === names.role('scheduler'), 'scheduler role');
  for (const s of schedules) {
    const r = one('aws:scheduler/schedule:Schedule', (x) => x.inputs.name === names.schedule(s.name), `schedule ${s.name}`);
    assert.equal(r.inputs.scheduleExpression, s.expression);
    assert.equal(r.inputs.target.arn, fnArn(SCHEDULE_TARGETS[s.target]));
    assert.equal(r.inputs.target.roleArn, schedulerRole.state.arn);
    assert.equal(r.inputs.target.deadLetterConfig.arn, queueArn(names.undeliveredQueue));
  }
  const retrain = one('aws:scheduler/schedule:Schedule', (x) => x.inputs.name === names.schedule('retrain-breast-cancer'), 'retrain');
  // The tick's own time, so a retried delivery derives the same run id.
  assert.deepEqual(json(retrain.inputs.target.input), { kind: 'schedule', pipeline: 'breast-cancer', time: '<aws.scheduler.scheduled-time>' });
  const policy = rolePolicy(names.role('scheduler'));
  assert.deepEqual(statementFor(policy, 'lambda:InvokeFunction').Resource, [fnArn('start-run')]);
  assert.deepEqual(statementFor(policy, 'sqs:SendMessage').Resource, [queueArn(names.undeliveredQueue)]);
});

test('one-time schedules: the stack\'s group, a role that may invoke exactly the watcher, the reaper and notify', () => {
  const group = one('aws:scheduler/scheduleGroup:ScheduleGroup', () => true, 'schedule group');
  assert.equal(group.inputs.name, names.scheduleGroup);
  const role = one('aws:iam/role:Role', (r) => r.inputs.name === names.role('one-time-scheduler'), 'one-time scheduler role');
  assert.equal(role.state.arn, arns.oneTimeSchedulerRole, 'the ARN the Lambdas pass is the role created');
  const trust = json<PolicyDocument>(role.inputs.assumeRolePolicy);
  assert.deepEqual(trust.Statement.map((s) => [s.Principal, s.Action, s.Condition]), [[{ Service: 'scheduler.amazonaws.com' }, ['sts:AssumeRole'], { StringEquals: { 'aws:SourceAccount': ACCOUNT } }]]);
  const policy = rolePolicy(names.role('one-time-scheduler'));
  assert.deepEqual(actionsOf(policy), ['lambda:InvokeFunction', 'sqs:SendMessage']);
  assert.deepEqual(statementFor(policy, 'lambda:InvokeFunction').Resource!.sort(), [fnArn('notify'), fnArn('reap-idle'), fnArn('watch-jobs')].sort());
  assert.deepEqual(statementFor(policy, 'sqs:SendMessage').Resource, [queueArn(names.undeliveredQueue)]);
  // The Lambdas that arm: Create/UpdateSchedule on their own schedule names only, and PassRole on that role only,
  // to Scheduler only. Nothing may DeleteSchedule (fired at() schedules delete themselves).
  const sched = (n: string) => `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${names.scheduleGroup}/${names.prefix}-${n}`;
  // Watcher and reaper schedules are named by their fire time (<prefix>-watch-<epoch s>, core/arming.ts): the stem's names only.
  const arming: Record<string, string[]> = { 'submit-stage': [sched('watch-*')], 'watch-jobs': [sched('watch-*')], 'finish-run': [sched('reap-*')], 'execution-ended': [sched('reap-*')], 'reap-idle': [sched('reap-*')], promote: [sched('stale-*')] };
  for (const f of deployed) {
    const doc = rolePolicy(names.role(f));
    const create = doc.Statement.find((s) => s.Action.includes('scheduler:CreateSchedule'));
    const pass = doc.Statement.find((s) => s.Action.includes('iam:PassRole'));
    assert.ok(!actionsOf(doc).includes('scheduler:DeleteSchedule'), f);
    if (!arming[f]) {
      assert.deepEqual([create, pass], [undefined, undefined], `${f} arms nothing`);
      continue;
    }
    assert.deepEqual([create!.Action, create!.Resource], [['scheduler:CreateSchedule', 'scheduler:UpdateSchedule'], arming[f]], f);
    assert.deepEqual([pass!.Action, pass!.Resource, pass!.Condition], [['iam:PassRole'], [role.state.arn], { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } }], f);
  }
});

test("each function's policy holds exactly its declared actions; no wildcard action; '*' only where AWS has no narrower resource", () => {
  for (const f of deployed) {
    const doc = rolePolicy(names.role(f));
    assert.equal(doc.Version, '2012-10-17');
    const declared = functionGrants(f, arns).flatMap((g) => g.actions).sort();
    assert.deepEqual(actionsOf(doc), declared, `${f}: actions`);
    for (const s of doc.Statement) {
      assert.equal(s.Effect, 'Allow');
      for (const a of s.Action) assert.ok(!a.includes('*'), `${f}: wildcard action ${a}`);
      if (s.Resource!.includes('*')) for (const a of s.Action) assert.ok(WILDCARD_RESOURCE_ACTIONS[a], `${f}: ${a} on "*"`);
    }
  }
});

test('the brief’s examples: submit-stage, complete-stage, watch-jobs, start-run', () => {
  const submit = rolePolicy(names.role('submit-stage'));
  const table = one('aws:dynamodb/table:Table', () => true, 'tokens table');
  assert.deepEqual(statementFor(submit, 'dynamodb:PutItem').Resource, [table.state.arn]);
  assert.deepEqual(statementFor(submit, 's3:GetObject').Resource, [`arn:aws:s3:::${arns.bucketName}/artifacts/*`]);
  assert.deepEqual(statementFor(submit, 'eks:DescribeCluster').Resource, [`arn:aws:eks:${REGION}:${ACCOUNT}:cluster/ml-cluster`]);
  // A resumed run's copies only (the reused stage's result.json, the checkpoints): never run.json or champion.json.
  assert.deepEqual(statementFor(submit, 's3:PutObject').Resource, [`arn:aws:s3:::${arns.bucketName}/artifacts/*/result.json*`, `arn:aws:s3:::${arns.bucketName}/artifacts/*/checkpoints/*`]);
  assert.deepEqual(statementFor(submit, 'states:SendTaskSuccess').Resource, ['*']);

  const complete = rolePolicy(names.role('complete-stage'));
  assert.deepEqual(statementFor(complete, 'states:SendTaskSuccess').Resource, ['*']);
  assert.deepEqual(statementFor(complete, 'states:SendTaskSuccess').Action.sort(), ['states:SendTaskFailure', 'states:SendTaskSuccess']);
  assert.deepEqual(statementFor(complete, 'sqs:ReceiveMessage').Resource, [queueArn(names.completionQueue)]);
  assert.deepEqual(statementFor(complete, 'sqs:ReceiveMessage').Action.sort(), ['sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage']);

  const watch = rolePolicy(names.role('watch-jobs'));
  assert.deepEqual(statementFor(watch, 'states:SendTaskHeartbeat').Resource, ['*']);
  assert.deepEqual(statementFor(watch, 'events:PutEvents').Resource, [`arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`]);

  const start = rolePolicy(names.role('start-run'));
  const machine = one('aws:sfn/stateMachine:StateMachine', () => true, 'state machine');
  assert.deepEqual(statementFor(start, 'states:StartExecution').Resource, [machine.state.arn]);

  const reap = rolePolicy(names.role('reap-idle'));
  assert.deepEqual(statementFor(reap, 'eks:UpdateNodegroupConfig').Resource, [
    `arn:aws:eks:${REGION}:${ACCOUNT}:nodegroup/ml-cluster/gpu-spot/*`,
    `arn:aws:eks:${REGION}:${ACCOUNT}:nodegroup/ml-cluster/cpu-spot/*`,
  ]);
  // Each function writes only its own log group.
  for (const f of deployed) {
    const lg = one('aws:cloudwatch/logGroup:LogGroup', (r) => r.inputs.name === names.functionLogGroup(f), `log group ${f}`);
    assert.deepEqual(statementFor(rolePolicy(names.role(f)), 'logs:PutLogEvents').Resource, [`${lg.state.arn}:*`]);
  }
});

test('ARNs the policies derive from names are the ARNs of the created resources', () => {
  assert.equal(arns.tokensTable, one('aws:dynamodb/table:Table', () => true, 'table').state.arn);
  assert.equal(arns.stateMachine, one('aws:sfn/stateMachine:StateMachine', () => true, 'machine').state.arn);
  assert.equal(arns.completionQueue, queueArn(names.completionQueue));
  assert.equal(arns.interruptionQueue, queueArn(names.interruptionQueue));
  assert.equal(arns.completionDlq, queueArn(names.dlq(names.completionQueue)));
  assert.equal(arns.undeliveredQueue, queueArn(names.undeliveredQueue));
  assert.equal(arns.bucket, one('aws:s3/bucketV2:BucketV2', () => true, 'bucket').state.arn);
  for (const f of deployed) assert.equal(arns.functions[f], fnArn(f));
  for (const r of routesFor(settings)) assert.equal(arns.rule(r.name), one('aws:cloudwatch/eventRule:EventRule', (x) => x.inputs.name === names.rule(r.name), r.name).state.arn);
});

test('queues redrive to their DLQ after 3 receives, are encrypted, and admit only their EventBridge rules', () => {
  const routes = routesFor(settings);
  for (const [queue, target] of [
    [names.completionQueue, 'completion-queue'],
    [names.interruptionQueue, 'interruption-queue'],
  ] as const) {
    const q = one('aws:sqs/queue:Queue', (r) => r.inputs.name === queue, queue);
    const dlq = one('aws:sqs/queue:Queue', (r) => r.inputs.name === names.dlq(queue), `${queue} dlq`);
    assert.deepEqual(json(q.inputs.redrivePolicy), { deadLetterTargetArn: dlq.state.arn, maxReceiveCount: MAX_RECEIVE_COUNT });
    assert.equal(MAX_RECEIVE_COUNT, 3);
    assert.deepEqual(json(dlq.inputs.redriveAllowPolicy), { redrivePermission: 'byQueue', sourceQueueArns: [q.state.arn] });
    assert.equal(q.inputs.sqsManagedSseEnabled, true);
    assert.equal(dlq.inputs.sqsManagedSseEnabled, true);
    const policy = one('aws:sqs/queuePolicy:QueuePolicy', (p) => p.inputs.queueUrl.endsWith(`/${queue}`), `${queue} policy`);
    const doc = json<PolicyDocument>(policy.inputs.policy);
    const allow = doc.Statement.filter((s) => s.Effect === 'Allow');
    assert.equal(allow.length, 1);
    assert.deepEqual(allow[0]!.Principal, { Service: 'events.amazonaws.com' });
    assert.deepEqual(allow[0]!.Action, ['sqs:SendMessage']);
    const senders = routes.filter((r) => r.target === target).map((r) => one('aws:cloudwatch/eventRule:EventRule', (x) => x.inputs.name === names.rule(r.name), r.name).state.arn);
    assert.deepEqual(allow[0]!.Condition, { ArnEquals: { 'aws:SourceArn': senders } });
    // The consumer's visibility timeout outlasts its function.
    const consumer = target === 'completion-queue' ? 'complete-stage' : 'handle-interruption';
    assert.ok(q.inputs.visibilityTimeoutSeconds >= LAMBDAS[consumer].timeoutSeconds * 6);
  }
});

test('the bucket: EventBridge notifications on, public access blocked, SSE, plain HTTP refused, specs uploaded', () => {
  const bucket = one('aws:s3/bucketV2:BucketV2', () => true, 'bucket');
  assert.equal(bucket.inputs.bucket, `sentinel-test-${ACCOUNT}-${REGION}`);
  assert.equal(one('aws:s3/bucketNotification:BucketNotification', () => true, 'notification').inputs.eventbridge, true);
  const pab = one('aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', () => true, 'public access block').inputs;
  assert.deepEqual([pab.blockPublicAcls, pab.blockPublicPolicy, pab.ignorePublicAcls, pab.restrictPublicBuckets], [true, true, true, true]);
  const sse = one('aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2', () => true, 'sse').inputs;
  assert.equal(sse.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, 'AES256');
  const policy = json<PolicyDocument>(one('aws:s3/bucketPolicy:BucketPolicy', () => true, 'bucket policy').inputs.policy);
  const deny = policy.Statement.find((s) => s.Effect === 'Deny')!;
  assert.deepEqual(deny.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
  assert.deepEqual(deny.Resource, [bucket.state.arn, `${bucket.state.arn}/*`]);
  assert.deepEqual(deny.Principal, { AWS: '*' });
  const spec = one('aws:s3/bucketObjectv2:BucketObjectv2', () => true, 'spec object');
  assert.equal(spec.inputs.key, 'pipelines/breast-cancer.yaml');
  assert.equal(spec.inputs.bucket, bucket.inputs.bucket); // the bucket's id is its name
});

test('Lambdas: nodejs22.x on arm64, traced, own log group; consumers report partial batch failures', () => {
  const fns = ofType('aws:lambda/function:Function');
  assert.deepEqual(fns.map((f) => f.inputs.name).sort(), deployed.map((f) => names.function(f)).sort());
  for (const f of fns) {
    assert.equal(f.inputs.runtime, 'nodejs22.x');
    assert.deepEqual(f.inputs.architectures, ['arm64']);
    assert.equal(f.inputs.handler, 'index.handler');
    assert.equal(f.inputs.tracingConfig.mode, 'Active');
    assert.equal(f.inputs.environment.variables.SENTINEL_BUCKET, arns.bucketName);
  }
  const byName = (f: LambdaName) => fns.find((x) => x.inputs.name === names.function(f))!;
  assert.equal(byName('complete-stage').inputs.reservedConcurrentExecutions, 5);
  assert.equal(byName('watch-jobs').inputs.reservedConcurrentExecutions, 1);
  assert.equal(byName('reap-idle').inputs.reservedConcurrentExecutions, 1);
  assert.equal(byName('promote').inputs.timeout, 60);
  const esms = ofType('aws:lambda/eventSourceMapping:EventSourceMapping');
  assert.equal(esms.length, 2);
  for (const [fn, queue] of [
    ['complete-stage', names.completionQueue],
    ['handle-interruption', names.interruptionQueue],
  ] as const) {
    const esm = one('aws:lambda/eventSourceMapping:EventSourceMapping', (e) => e.inputs.functionName === fnArn(fn), `${fn} event source`);
    assert.equal(esm.inputs.eventSourceArn, queueArn(queue));
    assert.deepEqual(esm.inputs.functionResponseTypes, ['ReportBatchItemFailures']);
    assert.ok(esm.inputs.scalingConfig.maximumConcurrency <= byName(fn).inputs.reservedConcurrentExecutions);
  }
  // New functions (written later) are deployed by entry path.
  assert.equal(LAMBDAS['handle-interruption'].entry, 'functions/aws/handle-interruption.ts');
  assert.equal(LAMBDAS['reap-idle'].entry, 'functions/aws/reap-idle.ts');
});

test('the state machine is buildPipelineDefinition(...) with the deployed function ARNs; logs without data; traced', () => {
  const machine = one('aws:sfn/stateMachine:StateMachine', () => true, 'state machine');
  const functionArns = Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f) => [f, fnArn(f)])) as Record<StateMachineFunction, string>;
  assert.deepEqual(json(machine.inputs.definition), buildPipelineDefinition({ functionArns }));
  assert.equal(machine.inputs.type, 'STANDARD');
  assert.equal(machine.inputs.loggingConfiguration.includeExecutionData, false, 'task tokens stay out of the logs');
  assert.equal(machine.inputs.tracingConfiguration.enabled, true);
  const policy = rolePolicy(names.role('pipeline'));
  const invoke = statementFor(policy, 'lambda:InvokeFunction');
  assert.deepEqual(invoke.Resource!.sort(), Object.values(functionArns).sort());
  for (const s of policy.Statement) if (s.Resource!.includes('*')) for (const a of s.Action) assert.ok(WILDCARD_RESOURCE_ACTIONS[a], a);
});

test('EKS access entries: one per Kubernetes-calling function role, each to its own group, STANDARD, no policy association', () => {
  const entries = ofType('aws:eks/accessEntry:AccessEntry');
  const expected: LambdaName[] = ['complete-stage', 'execution-ended', 'finish-run', 'handle-interruption', 'promote', 'reap-idle', 'submit-stage', 'watch-jobs'];
  assert.equal(entries.length, expected.length);
  const groups = new Set<string>();
  for (const f of expected) {
    const role = one('aws:iam/role:Role', (r) => r.inputs.name === names.role(f), `${f} role`);
    const e = one('aws:eks/accessEntry:AccessEntry', (x) => x.inputs.principalArn === role.state.arn, `${f} access entry`);
    // The group the rendered RBAC binds this function's Role to, and no other.
    assert.deepEqual(e.inputs.kubernetesGroups, [functionGroup(f as KubeFunction, 'sentinel:lambda')]);
    assert.equal(e.inputs.kubernetesGroups[0], `sentinel:lambda:${f}`);
    groups.add(e.inputs.kubernetesGroups[0]);
    assert.equal(e.inputs.type, 'STANDARD');
    assert.equal(e.inputs.clusterName, 'ml-cluster');
  }
  assert.equal(groups.size, expected.length, 'no two functions share a group');
  assert.deepEqual([...KUBE_FUNCTIONS].sort(), [...expected].sort(), 'core/kuberay/rbac.ts has a Role for exactly these functions');
  assert.equal(ofType('aws:eks/accessPolicyAssociation:AccessPolicyAssociation').length, 0, 'no cluster-admin (or any) access policy');
});

test('Pod Identity: per pipeline, its jobs write only its runs\' stage folders and read its datasets; its Serve pods only read', () => {
  const associations = ofType('aws:eks/podIdentityAssociation:PodIdentityAssociation');
  assert.equal(associations.length, 2 * cfg.pipelines.length);
  const roleOf = (sa: string) => {
    const a = one('aws:eks/podIdentityAssociation:PodIdentityAssociation', (x) => x.inputs.serviceAccount === sa, `association of ${sa}`);
    assert.equal(a.inputs.namespace, 'sentinel');
    assert.equal(a.inputs.clusterName, 'ml-cluster');
    const role = one('aws:iam/role:Role', (r) => r.state.arn === a.inputs.roleArn, `role of ${sa}`);
    assert.deepEqual(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Principal, { Service: 'pods.eks.amazonaws.com' });
    return rolePolicy(role.inputs.name);
  };
  const roles = new Set<string>();
  for (const p of cfg.pipelines) {
    const job = roleOf(jobServiceAccountFor(p.name));
    const writes = job.Statement.filter((s) => s.Action.some((x) => /Put|Delete|Abort/.test(x)));
    assert.deepEqual(writes.flatMap((s) => s.Resource), STAGES.map((st) => `${arns.bucket}/artifacts/${p.name}/r*/${st}/*`), 'stage folders only: not champion.json, the lease or run.json');
    assert.deepEqual(statementFor(job, 's3:GetObject').Resource, [`${arns.bucket}/datasets/${p.name}/*`, `${arns.bucket}/artifacts/${p.name}/*`]);
    const serve = roleOf(serveServiceAccountFor(p.name));
    assert.deepEqual(serve.Statement.flatMap((s) => s.Action).sort(), ['s3:GetObject', 's3:ListBucket'], 'Serve pods write nothing');
    assert.deepEqual(statementFor(serve, 's3:GetObject').Resource, [`${arns.bucket}/artifacts/${p.name}/*`]);
    for (const doc of [job, serve]) for (const s of doc.Statement) for (const r of s.Resource ?? []) {
      if (r !== arns.bucket) assert.ok(r.includes(`/${p.name}/`), `${r} is the pipeline's own prefix`);
    }
    roles.add(JSON.stringify(job)).add(JSON.stringify(serve));
  }
  assert.equal(roles.size, 2 * cfg.pipelines.length);
});

test('alarms: one per dead-letter queue, failed and timed-out executions, each handler’s errors; topic, email, dashboard', () => {
  const alarms = ofType('aws:cloudwatch/metricAlarm:MetricAlarm');
  const topic = one('aws:sns/topic:Topic', (t) => t.inputs.name === names.alarmTopic, 'topic');
  for (const q of [names.dlq(names.completionQueue), names.dlq(names.interruptionQueue), names.undeliveredQueue]) {
    const a = one('aws:cloudwatch/metricAlarm:MetricAlarm', (x) => x.inputs.namespace === 'AWS/SQS' && x.inputs.dimensions.QueueName === q, `alarm on ${q}`);
    assert.equal(a.inputs.metricName, 'ApproximateNumberOfMessagesVisible');
    assert.equal(a.inputs.threshold, 0);
    assert.equal(a.inputs.comparisonOperator, 'GreaterThanThreshold');
    assert.deepEqual(a.inputs.alarmActions, [topic.state.arn]);
  }
  const machine = one('aws:sfn/stateMachine:StateMachine', () => true, 'machine');
  one('aws:cloudwatch/metricAlarm:MetricAlarm', (x) => x.inputs.metricName === 'ExecutionsFailed' && x.inputs.dimensions.StateMachineArn === machine.state.arn, 'failed executions alarm');
  one('aws:cloudwatch/metricAlarm:MetricAlarm', (x) => x.inputs.metricName === 'ExecutionsTimedOut', 'timed-out executions alarm');
  for (const f of deployed) one('aws:cloudwatch/metricAlarm:MetricAlarm', (x) => x.inputs.metricName === 'Errors' && x.inputs.dimensions.FunctionName === names.function(f), `${f} errors alarm`);
  // + per pipeline: repeated failed runs and late completions (test/infra/metrics-dashboard.test.ts checks them).
  assert.equal(alarms.length, 3 + 2 + deployed.length + 2 * cfg.pipelines.length);
  assert.equal(one('aws:sns/topicSubscription:TopicSubscription', () => true, 'email').inputs.endpoint, 'ops@example.com');
  const dash = json<{ widgets: unknown[] }>(one('aws:cloudwatch/dashboard:Dashboard', () => true, 'dashboard').inputs.dashboardBody);
  assert.ok(dash.widgets.length >= 4);
});
