// Least privilege, generated from use. Each function declares the AWS calls its code makes (through which adapter)
// and on which resources; the policy documents are generated from those declarations and nothing else. The same
// generator feeds infra (with the real ARNs) and `sentinel render` (with placeholders). Pure: no Pulumi here.
//
// Rules the generator enforces (and test/infra checks): no action contains "*"; a "*" resource only for the actions
// in WILDCARD_RESOURCE_ACTIONS, each with the reason AWS gives no narrower resource.
import { LAMBDA_NAMES, resourceNames, type LambdaName, type SentinelConfig } from './config.js';
import { STATE_MACHINE_FUNCTIONS } from '../workflows/pipeline.js';
import type { Schedule, ScheduleTarget } from '../events/routes.js';
import { JOB_EVENT_DETAIL_TYPE, JOB_EVENT_SOURCE } from '../events/job-state-change.js';
import { INTERRUPTION_EVENT_DETAIL_TYPE, INTERRUPTION_EVENT_SOURCE } from '../core/interruption.js';
import { REAPER_DETAIL_TYPES, REAPER_EVENT_SOURCE } from '../core/reaper.js';
import { RUN_EVENT_SOURCE, RUN_EVENT_TYPES } from '../events/run-events.js';
import { reapScheduleStem, watchScheduleStem } from '../core/arming.js';
import { staleScheduleStem } from '../core/staleness.js';
import { STAGES } from '../core/stages.js';

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: Record<string, string | string[]>;
  Action: string[];
  Resource?: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Statement[];
}

/** One thing a piece of code does with AWS: the actions, the resources, and who makes the call. */
export interface Grant {
  /** Becomes the statement's Sid: says what the access is for. */
  sid: string;
  actions: string[];
  resources: string[];
  condition?: Statement['Condition'];
  /**
   * 'code': the function's own SDK calls (test/infra checks each against the commands in the function's bundle).
   * 'platform': calls AWS makes with the role on the function's behalf (logs, traces, the SQS event source mapping).
   */
  by: 'code' | 'platform';
}

const TASK_TOKEN = 'the task-token APIs have no resource type (Service Authorization Reference, Step Functions): the token, not an ARN, names the task';
const XRAY = 'X-Ray trace upload and sampling have no resource-level permissions (Service Authorization Reference, X-Ray)';
const LOG_DELIVERY = 'vended log delivery (how Step Functions writes execution logs) has no resource-level permissions; the Step Functions logging guide grants these on "*"';

/** The only actions that may be granted on Resource "*", and why nothing narrower exists. */
export const WILDCARD_RESOURCE_ACTIONS: Readonly<Record<string, string>> = {
  'states:SendTaskSuccess': TASK_TOKEN,
  'states:SendTaskFailure': TASK_TOKEN,
  'states:SendTaskHeartbeat': TASK_TOKEN,
  'xray:PutTraceSegments': XRAY,
  'xray:PutTelemetryRecords': XRAY,
  'xray:GetSamplingRules': XRAY,
  'xray:GetSamplingTargets': XRAY,
  'logs:CreateLogDelivery': LOG_DELIVERY,
  'logs:GetLogDelivery': LOG_DELIVERY,
  'logs:UpdateLogDelivery': LOG_DELIVERY,
  'logs:DeleteLogDelivery': LOG_DELIVERY,
  'logs:ListLogDeliveries': LOG_DELIVERY,
  'logs:PutResourcePolicy': LOG_DELIVERY,
  'logs:DescribeResourcePolicies': LOG_DELIVERY,
  'logs:DescribeLogGroups': LOG_DELIVERY,
};

/** SDK v3 command → the IAM action it needs (for the bundle check; HeadObject is authorized as s3:GetObject). */
export const SDK_COMMAND_ACTIONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  // CopyObject is authorized as s3:GetObject on the source and s3:PutObject on the copy; the source reads are granted
  // with the function's other reads, so the copy's own action is PutObject.
  'client-s3': { GetObject: 's3:GetObject', HeadObject: 's3:GetObject', PutObject: 's3:PutObject', ListObjectsV2: 's3:ListBucket', CopyObject: 's3:PutObject' },
  'client-dynamodb': { PutItem: 'dynamodb:PutItem', GetItem: 'dynamodb:GetItem', DeleteItem: 'dynamodb:DeleteItem' },
  'client-sfn': {
    SendTaskSuccess: 'states:SendTaskSuccess',
    SendTaskFailure: 'states:SendTaskFailure',
    SendTaskHeartbeat: 'states:SendTaskHeartbeat',
    StartExecution: 'states:StartExecution',
  },
  'client-eventbridge': { PutEvents: 'events:PutEvents' },
  'client-sns': { Publish: 'sns:Publish' },
  'client-eks': { DescribeCluster: 'eks:DescribeCluster', DescribeNodegroup: 'eks:DescribeNodegroup', UpdateNodegroupConfig: 'eks:UpdateNodegroupConfig' },
  'client-scheduler': { CreateSchedule: 'scheduler:CreateSchedule', UpdateSchedule: 'scheduler:UpdateSchedule', DeleteSchedule: 'scheduler:DeleteSchedule' },
};

/** What a command needs besides its own action: a schedule's target role is passed to Scheduler (iam:PassRole). */
export const SDK_COMMAND_EXTRA_ACTIONS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  'client-scheduler': { CreateSchedule: ['iam:PassRole'], UpdateSchedule: ['iam:PassRole'] },
};

/** Commands a client bundles for its own machinery, never issued against this deployment's resources. */
export const SDK_INTERNAL_COMMANDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'client-s3': { CreateSession: 'S3 Express One Zone sessions, for directory buckets only; the artifacts bucket is general-purpose' },
  'client-dynamodb': { DescribeEndpoints: 'endpoint discovery, which the client leaves off unless asked (we do not)' },
};

export interface DeploymentArns {
  partition: string;
  region: string;
  account: string;
  bucketName: string;
  bucket: string;
  tokensTable: string;
  stateMachine: string;
  completionQueue: string;
  interruptionQueue: string;
  /** Itself a dead-letter queue: events rules and schedules could not deliver. */
  undeliveredQueue: string;
  completionDlq: string;
  interruptionDlq: string;
  eventBus: string;
  cluster: string;
  /** Node group ARNs end in a generated id, hence the trailing /*: still only the named groups. */
  nodegroups: string[];
  functions: Record<LambdaName, string>;
  functionLogGroups: Record<LambdaName, string>;
  stateMachineLogGroup: string;
  /** The shared topic of run notifications (core/notify.ts). */
  notificationsTopic: string;
  rule: (route: string) => string;
  /** The role EventBridge Scheduler assumes for the one-time schedules (watcher, reaper, staleness checks). */
  oneTimeSchedulerRole: string;
  /** The stack's schedule group and the ARN of one of its schedules by name (`*` allowed at the end). */
  scheduleGroup: string;
  schedule: (name: string) => string;
  /** The one-time schedules' names start with it (sentinel-<stage>). */
  schedulePrefix: string;
}

/** Every ARN a policy names, derived from the configuration and names alone (no resource outputs: no cycles). */
export function deploymentArns(cfg: SentinelConfig, env: { account: string; partition?: string }): DeploymentArns {
  const n = resourceNames(cfg);
  const p = env.partition ?? 'aws';
  const r = cfg.region;
  const a = env.account;
  const arn = (service: string, resource: string, region = r, account = a) => `arn:${p}:${service}:${region}:${account}:${resource}`;
  const logGroup = (name: string) => arn('logs', `log-group:${name}:*`);
  const bucketName = n.bucket(a);
  return {
    partition: p,
    region: r,
    account: a,
    bucketName,
    bucket: `arn:${p}:s3:::${bucketName}`,
    tokensTable: arn('dynamodb', `table/${n.tokensTable}`),
    stateMachine: arn('states', `stateMachine:${n.stateMachine}`),
    completionQueue: arn('sqs', n.completionQueue),
    interruptionQueue: arn('sqs', n.interruptionQueue),
    undeliveredQueue: arn('sqs', n.undeliveredQueue),
    completionDlq: arn('sqs', n.dlq(n.completionQueue)),
    interruptionDlq: arn('sqs', n.dlq(n.interruptionQueue)),
    eventBus: arn('events', 'event-bus/default'),
    cluster: arn('eks', `cluster/${cfg.cluster.name}`),
    nodegroups: cfg.cluster.scaleToZeroNodeGroups.map((g) => arn('eks', `nodegroup/${cfg.cluster.name}/${g}/*`)),
    functions: Object.fromEntries(LAMBDA_NAMES.map((f) => [f, arn('lambda', `function:${n.function(f)}`)])) as Record<LambdaName, string>,
    functionLogGroups: Object.fromEntries(LAMBDA_NAMES.map((f) => [f, logGroup(n.functionLogGroup(f))])) as Record<LambdaName, string>,
    stateMachineLogGroup: logGroup(n.stateMachineLogGroup),
    notificationsTopic: arn('sns', n.notificationsTopic),
    rule: (route) => arn('events', `rule/${n.rule(route)}`),
    oneTimeSchedulerRole: `arn:${p}:iam::${a}:role/${n.role(ONE_TIME_SCHEDULER_ROLE)}`,
    scheduleGroup: arn('scheduler', `schedule-group/${n.scheduleGroup}`),
    schedule: (name) => arn('scheduler', `schedule/${n.scheduleGroup}/${name}`),
    schedulePrefix: n.prefix,
  };
}

// ---- the building blocks: one per adapter capability ------------------------------------------------------------

const objects = (a: DeploymentArns, prefixes: string[]) => prefixes.map((p) => `${a.bucket}/${p}*`);

/** S3ObjectStore reads (GetObject, HeadObject). */
const readObjects = (a: DeploymentArns, prefixes: string[], sid = 'ReadObjects'): Grant => ({ sid, actions: ['s3:GetObject'], resources: objects(a, prefixes), by: 'code' });
/** S3ObjectStore.putJson. */
const writeObjects = (a: DeploymentArns, prefixes: string[]): Grant => ({ sid: 'WriteObjects', actions: ['s3:PutObject'], resources: objects(a, prefixes), by: 'code' });
/**
 * S3ObjectStore.list, and the reason a missing key reads as 404 rather than 403 (S3 answers 403 for a missing key to
 * a caller without s3:ListBucket). On the bucket ARN without an s3:prefix condition: GetObject's request carries no
 * prefix, so a prefix-conditioned grant would not turn its 403 into a 404. It reveals key names of this bucket only.
 */
const listBucket = (a: DeploymentArns): Grant => ({ sid: 'ListBucketForNotFound', actions: ['s3:ListBucket'], resources: [a.bucket], by: 'code' });
const tokens = (a: DeploymentArns, actions: Array<'PutItem' | 'GetItem' | 'DeleteItem'>): Grant => ({
  sid: 'TaskTokens',
  actions: actions.map((x) => `dynamodb:${x}`),
  resources: [a.tokensTable],
  by: 'code',
});
/** The KubeRay adapters' bearer token: DescribeCluster for endpoint + CA (the STS presign needs no permission). */
const kubernetes = (a: DeploymentArns): Grant => ({ sid: 'KubernetesEndpoint', actions: ['eks:DescribeCluster'], resources: [a.cluster], by: 'code' });
/** The events a function publishes: one source, and the detail-types it may use under it. */
export interface PublishedEvents {
  source: string;
  detailTypes: readonly string[];
}
/**
 * EventBridgePublisher.publish, limited by condition to the function's own source and detail-types: only the watcher
 * may put `sentinel.jobs` job-state events on the bus (the completion consumer still checks each against the job).
 */
const publishEvents = (a: DeploymentArns, events: PublishedEvents): Grant => ({
  sid: 'PublishEvents',
  actions: ['events:PutEvents'],
  resources: [a.eventBus],
  condition: { StringEquals: { 'events:source': [events.source], 'events:detail-type': [...events.detailTypes] } },
  by: 'code',
});

/** What each publishing function publishes (the sources and detail-types are their modules' own constants). */
export const PUBLISHED_EVENTS = {
  'watch-jobs': { source: JOB_EVENT_SOURCE, detailTypes: [JOB_EVENT_DETAIL_TYPE] },
  'handle-interruption': { source: INTERRUPTION_EVENT_SOURCE, detailTypes: [INTERRUPTION_EVENT_DETAIL_TYPE] },
  'reap-idle': { source: REAPER_EVENT_SOURCE, detailTypes: REAPER_DETAIL_TYPES },
  // Run events (events/run-events.ts): one source, each function only the kinds it announces.
  'prepare-run': { source: RUN_EVENT_SOURCE, detailTypes: [RUN_EVENT_TYPES.started] },
  'finish-run': { source: RUN_EVENT_SOURCE, detailTypes: [RUN_EVENT_TYPES.succeeded, RUN_EVENT_TYPES.failed, RUN_EVENT_TYPES.kept] },
  promote: { source: RUN_EVENT_SOURCE, detailTypes: [RUN_EVENT_TYPES.promoted] },
  'execution-ended': { source: RUN_EVENT_SOURCE, detailTypes: [RUN_EVENT_TYPES.failed] },
  notify: { source: RUN_EVENT_SOURCE, detailTypes: [RUN_EVENT_TYPES.stale] },
} as const satisfies Partial<Record<LambdaName, PublishedEvents>>;
/** What the Lambda service does with the function's role to poll the queue (event source mapping). */
const consumeQueue = (queueArn: string): Grant => ({
  sid: 'ConsumeQueue',
  actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
  resources: [queueArn],
  by: 'platform',
});
const ownLogs = (a: DeploymentArns, fn: LambdaName): Grant => ({
  sid: 'OwnLogGroup',
  actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  resources: [a.functionLogGroups[fn]],
  by: 'platform',
});
/**
 * EventBridgeSchedules.arm (Create, on ConflictException Update) of the named schedules only, passing the one-time
 * scheduler role, to Scheduler only. Not DeleteSchedule: nothing disarms (an at() schedule deletes itself once fired).
 */
const armSchedules = (a: DeploymentArns, names: string[]): Grant[] => [
  { sid: 'ArmSchedules', actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule'], resources: names.map(a.schedule), by: 'code' },
  {
    sid: 'PassSchedulerRole',
    actions: ['iam:PassRole'],
    resources: [a.oneTimeSchedulerRole],
    condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    by: 'code',
  },
];
/** The one-time schedules' names (core/arming.ts, core/staleness.ts), under the stack's prefix. */
export const scheduleNames = (a: Pick<DeploymentArns, 'schedulePrefix'>) => ({
  watch: `${watchScheduleStem(a.schedulePrefix)}-*`,
  reap: `${reapScheduleStem(a.schedulePrefix)}-*`,
  stale: `${staleScheduleStem(a.schedulePrefix)}-*`,
});

const traces: Grant = { sid: 'Traces', actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'], by: 'platform' };

/** What each function's code calls. Change a handler's adapters, change its line here (test/infra checks both). */
const FUNCTION_GRANTS: Record<LambdaName, (a: DeploymentArns) => Grant[]> = {
  // Heads the dataset, reads/writes the run record, announces Run Started.
  'prepare-run': (a) => [readObjects(a, ['datasets/', 'artifacts/']), writeObjects(a, ['artifacts/']), listBucket(a), publishEvents(a, PUBLISHED_EVENTS['prepare-run'])],
  // Reads the champion (evaluate stage), parks the task token, creates the RayJob. A resumed run (core/resume.ts):
  // completes a reused stage's task itself (SendTaskSuccess; SendTaskFailure when the summary is too large) after
  // writing its result into the new run's stage folder, and copies the earlier run's checkpoints (CopyObject: read
  // the source, put the copy). Writes only stage results and checkpoints, never run.json or champion.json.
  'submit-stage': (a) => [
    readObjects(a, ['artifacts/']),
    listBucket(a),
    { sid: 'ResumedStageCopies', actions: ['s3:PutObject'], resources: objects(a, ['artifacts/*/result.json', 'artifacts/*/checkpoints/']), by: 'code' },
    tokens(a, ['PutItem']),
    { sid: 'CompleteReusedStages', actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: ['*'], by: 'code' },
    kubernetes(a),
    // Arms the watcher for each job it creates (core/arming.ts).
    ...armSchedules(a, [scheduleNames(a).watch]),
  ],
  // Reads stage results and the champion.
  'evaluate-gate': (a) => [readObjects(a, ['artifacts/']), listBucket(a)],
  // Promote and CheckPromotion: applies the RayService config (or puts the champion's back), reads its status,
  // reads/writes the lease and champion.json, announces Model Promoted.
  // Arms the new champion's staleness check (<prefix>-stale-<runId>-<pipeline>, core/staleness.ts).
  promote: (a) => [readObjects(a, ['artifacts/']), writeObjects(a, ['artifacts/']), listBucket(a), kubernetes(a), publishEvents(a, PUBLISHED_EVENTS.promote), ...armSchedules(a, [scheduleNames(a).stale])],
  // Stops the run's jobs on failure, drops their tokens, writes run.json.
  // Arms the idle reaper for the run's end + the idle time.
  'finish-run': (a) => [readObjects(a, ['artifacts/']), writeObjects(a, ['artifacts/']), listBucket(a), tokens(a, ['DeleteItem']), kubernetes(a), publishEvents(a, PUBLISHED_EVENTS['finish-run']), ...armSchedules(a, [scheduleNames(a).reap])],
  // Reads result.json and the job's log tail, completes the waiting task, drops the token.
  'complete-stage': (a) => [
    readObjects(a, ['artifacts/']),
    listBucket(a),
    tokens(a, ['GetItem', 'DeleteItem']),
    { sid: 'CompleteTasks', actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: ['*'], by: 'code' },
    kubernetes(a),
    consumeQueue(a.completionQueue),
  ],
  // Lists the jobs in flight, heartbeats waiting tasks, publishes terminal ones; re-arms itself while any remain.
  'watch-jobs': (a) => [
    tokens(a, ['GetItem', 'DeleteItem']),
    { sid: 'HeartbeatTasks', actions: ['states:SendTaskHeartbeat'], resources: ['*'], by: 'code' },
    publishEvents(a, PUBLISHED_EVENTS['watch-jobs']),
    kubernetes(a),
    ...armSchedules(a, [scheduleNames(a).watch]),
  ],
  // Reads the deployed spec (by name), lists datasets and reads the champion (schedules), starts the execution.
  'start-run': (a) => [
    readObjects(a, ['pipelines/', 'artifacts/']),
    listBucket(a),
    { sid: 'StartExecutions', actions: ['states:StartExecution'], resources: [a.stateMachine], by: 'code' },
  ],
  // Cordons/evicts through the API server, marks jobs, publishes what it did.
  'handle-interruption': (a) => [kubernetes(a), publishEvents(a, PUBLISHED_EVENTS['handle-interruption']), consumeQueue(a.interruptionQueue)],
  // Suspends idle Ray clusters, scales the named managed node groups to zero, publishes what it did.
  'reap-idle': (a) => [
    kubernetes(a),
    ...(a.nodegroups.length ? [{ sid: 'ScaleNodeGroups', actions: ['eks:DescribeNodegroup', 'eks:UpdateNodegroupConfig'], resources: a.nodegroups, by: 'code' as const }] : []),
    publishEvents(a, PUBLISHED_EVENTS['reap-idle']),
    // Re-arms itself for the work it leaves for later.
    ...armSchedules(a, [scheduleNames(a).reap]),
  ],
  // Reads the deployed specs (notify, staleAfter) and champion.json; publishes to the notifications topic only;
  // announces Model Stale. The webhook is plain HTTPS, no AWS call.
  notify: (a) => [
    readObjects(a, ['pipelines/', 'artifacts/']),
    listBucket(a),
    { sid: 'PublishNotifications', actions: ['sns:Publish'], resources: [a.notificationsTopic], by: 'code' },
    publishEvents(a, PUBLISHED_EVENTS.notify),
  ],
  // Deletes the run's RayJobs and their tokens, records the end in run.json, announces Run Failed.
  // Arms the idle reaper for the execution's end + the idle time.
  'execution-ended': (a) => [readObjects(a, ['artifacts/']), writeObjects(a, ['artifacts/']), listBucket(a), tokens(a, ['DeleteItem']), kubernetes(a), publishEvents(a, PUBLISHED_EVENTS['execution-ended']), ...armSchedules(a, [scheduleNames(a).reap])],
};

export function functionGrants(fn: LambdaName, a: DeploymentArns): Grant[] {
  return [...FUNCTION_GRANTS[fn](a), ownLogs(a, fn), traces];
}

/** The state machine invokes its five functions (unqualified ARNs: no versions or aliases), logs and traces. */
export function stateMachineGrants(a: DeploymentArns): Grant[] {
  return [
    { sid: 'InvokePipelineFunctions', actions: ['lambda:InvokeFunction'], resources: STATE_MACHINE_FUNCTIONS.map((f) => a.functions[f]), by: 'platform' },
    { sid: 'ExecutionLogs', actions: Object.keys(WILDCARD_RESOURCE_ACTIONS).filter((x) => x.startsWith('logs:')), resources: ['*'], by: 'platform' },
    { sid: 'Traces', actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'], resources: ['*'], by: 'platform' },
  ];
}

/** Logical schedule targets → the function each invokes. */
export const SCHEDULE_TARGETS = {
  'start-run': 'start-run',
} as const satisfies Record<ScheduleTarget, LambdaName>;

/** The one-time schedules' targets (core/arming.ts, core/staleness.ts), by schedule kind. */
export const ONE_TIME_SCHEDULE_TARGETS = { watch: 'watch-jobs', reap: 'reap-idle', stale: 'notify' } as const satisfies Record<string, LambdaName>;
/** The role of the one-time schedules: names.role(ONE_TIME_SCHEDULER_ROLE). */
export const ONE_TIME_SCHEDULER_ROLE = 'one-time-scheduler';

/** The one-time schedules' role: invokes exactly the watcher, the reaper and notify (staleness), dead-letters. */
export function oneTimeSchedulerGrants(a: DeploymentArns): Grant[] {
  return [
    { sid: 'InvokeArmedFunctions', actions: ['lambda:InvokeFunction'], resources: Object.values(ONE_TIME_SCHEDULE_TARGETS).map((t) => a.functions[t]), by: 'platform' },
    { sid: 'DeadLetter', actions: ['sqs:SendMessage'], resources: [a.undeliveredQueue], by: 'platform' },
  ];
}

/** EventBridge Scheduler invokes the scheduled functions and dead-letters what it cannot deliver. */
export function schedulerGrants(a: DeploymentArns, schedules: Schedule[]): Grant[] {
  const targets = [...new Set(schedules.map((s) => SCHEDULE_TARGETS[s.target]))];
  return [
    { sid: 'InvokeScheduledFunctions', actions: ['lambda:InvokeFunction'], resources: targets.map((t) => a.functions[t]), by: 'platform' },
    { sid: 'DeadLetter', actions: ['sqs:SendMessage'], resources: [a.undeliveredQueue], by: 'platform' },
  ];
}

/**
 * A pipeline's Ray job pods (EKS Pod Identity, service account `sentinel-job-<pipeline>`): the Python jobs read the
 * pipeline's datasets and artifacts (earlier stages, the champion's model), write its artifacts (results,
 * checkpoints, models), delete superseded checkpoints (Ray Train's num_to_keep) and abort failed multipart uploads.
 * Nothing of another pipeline: `datasets/<pipeline>/` and `artifacts/<pipeline>/` only. Writes go to the stage folders
 * alone (artifacts/<pipeline>/r…/<stage>/, core/artifacts.ts): a job cannot write the pipeline's champion.json or
 * its promotion lease, nor a run's run.json.
 */
export function rayJobGrants(a: DeploymentArns, pipeline: string): Grant[] {
  const artifacts = `artifacts/${pipeline}/`;
  return [
    readObjects(a, [`datasets/${pipeline}/`, artifacts]),
    { sid: 'WriteStageFolders', actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], resources: objects(a, STAGES.map((st) => `${artifacts}r*/${st}/`)), by: 'code' },
    listBucket(a),
  ];
}

/** A pipeline's Serve pods (`sentinel-serve-<pipeline>`): read its models (under `artifacts/<pipeline>/`), write nothing. */
export function serveGrants(a: DeploymentArns, pipeline: string): Grant[] {
  return [readObjects(a, [`artifacts/${pipeline}/`]), listBucket(a)];
}

const sidOf = (s: string) => s.replace(/[^A-Za-z0-9]/g, '');

/** Grants → an IAM policy document, refusing anything that breaks the rules above. */
export function policyDocument(grants: Grant[]): PolicyDocument {
  const Statement = grants.map((g): Statement => {
    for (const action of g.actions) {
      if (action.includes('*')) throw new Error(`grant ${g.sid}: action "${action}" has a wildcard`);
      if (!/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(action)) throw new Error(`grant ${g.sid}: "${action}" is not service:Action`);
    }
    if (!g.resources.length) throw new Error(`grant ${g.sid} names no resource`);
    if (g.resources.includes('*')) {
      const unjustified = g.actions.filter((x) => !WILDCARD_RESOURCE_ACTIONS[x]);
      if (unjustified.length) throw new Error(`grant ${g.sid}: ${unjustified.join(', ')} on "*" although a narrower resource exists`);
      if (g.resources.length > 1) throw new Error(`grant ${g.sid}: "*" mixed with other resources`);
    }
    return { Sid: sidOf(g.sid), Effect: 'Allow', Action: [...g.actions], Resource: [...g.resources], ...(g.condition ? { Condition: g.condition } : {}) };
  });
  const sids = Statement.map((s) => s.Sid);
  if (new Set(sids).size !== sids.length) throw new Error(`duplicate statement ids: ${sids.join(', ')}`);
  return { Version: '2012-10-17', Statement };
}

export const functionPolicy = (fn: LambdaName, a: DeploymentArns) => policyDocument(functionGrants(fn, a));

// ---- trust and resource policies ----------------------------------------------------------------------------------

export const assumeRolePolicy = (service: string, account?: string): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: service },
      Action: service === 'pods.eks.amazonaws.com' ? ['sts:AssumeRole', 'sts:TagSession'] : ['sts:AssumeRole'],
      // Confused-deputy guard where the service supports it (Step Functions, Scheduler).
      ...(account ? { Condition: { StringEquals: { 'aws:SourceAccount': account } } } : {}),
    },
  ],
});

/** Refuses plain HTTP for every request to the bucket. */
export const bucketPolicyDocument = (a: DeploymentArns): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'DenyInsecureTransport',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['s3:*'],
      Resource: [a.bucket, `${a.bucket}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ],
});

/** Only the named EventBridge rules may send to the queue (and nothing over plain HTTP). */
export const queuePolicyDocument = (queueArn: string, ruleArns: string[]): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'FromEventBridgeRules',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: ['sqs:SendMessage'],
      Resource: [queueArn],
      Condition: { ArnEquals: { 'aws:SourceArn': ruleArns } },
    },
    {
      Sid: 'DenyInsecureTransport',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['sqs:*'],
      Resource: [queueArn],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ],
});
