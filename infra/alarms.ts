// What a person should hear about: a message in any dead-letter queue (a completion, an interruption or an event
// that could not be handled), a failed or timed-out execution, a handler error. One SNS topic (with an email
// subscription when configured) and one dashboard.
// The topic is not KMS-encrypted: CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed
// aws/sns key, and alarm messages carry names and counts only.
import * as pulumi from '@pulumi/pulumi';
import { cloudwatch, sfn, sns, sqs } from '@pulumi/aws';
import type { LambdaName, ResourceNames, SentinelConfig } from './config.js';
import type { DeployedFunction } from './functions.js';
import type { Queues } from './queues.js';

export function createAlarms(args: {
  cfg: SentinelConfig;
  names: ResourceNames;
  queues: Queues;
  functions: Partial<Record<LambdaName, DeployedFunction>>;
  stateMachine: sfn.StateMachine;
}) {
  const { cfg, names, queues, functions, stateMachine } = args;
  const topic = new sns.Topic('Alarms', { name: names.alarmTopic });
  const subscription = cfg.alarmEmail ? new sns.TopicSubscription('AlarmsEmail', { topic: topic.arn, protocol: 'email', endpoint: cfg.alarmEmail }) : undefined;
  // Every alarm fires on the first occurrence (any message, failure or error) and tells the topic.
  const onAny = {
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    alarmActions: [topic.arn],
    okActions: [topic.arn],
  };

  const dlqs: Array<[string, sqs.Queue]> = [
    ['completions', queues.completion.dlq],
    ['interruptions', queues.interruption.dlq],
    ['undelivered-events', queues.undelivered],
  ];
  const dlqAlarms = dlqs.map(
    ([label, q]) =>
      new cloudwatch.MetricAlarm(`DlqAlarm-${label}`, {
        name: `${names.prefix}-dlq-${label}`,
        alarmDescription: `Messages in ${label} dead-letter queue: inspect them, fix the cause, redrive.`,
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: q.name },
        statistic: 'Maximum',
        period: 60,
        ...onAny,
      }),
  );

  const executionAlarms = (['ExecutionsFailed', 'ExecutionsTimedOut'] as const).map(
    (metricName) =>
      new cloudwatch.MetricAlarm(`PipelineAlarm-${metricName}`, {
        name: `${names.prefix}-pipeline-${metricName}`,
        alarmDescription: `A pipeline run ended ${metricName === 'ExecutionsFailed' ? 'failed' : 'timed out'}: its run.json says where and why.`,
        namespace: 'AWS/States',
        metricName,
        dimensions: { StateMachineArn: stateMachine.arn },
        statistic: 'Sum',
        period: 300,
        ...onAny,
      }),
  );

  const errorAlarms = Object.values(functions).map(
    (d) =>
      new cloudwatch.MetricAlarm(`ErrorAlarm-${d.name}`, {
        name: `${names.prefix}-errors-${d.name}`,
        alarmDescription: `The ${d.name} handler failed (its log group has the error).`,
        namespace: 'AWS/Lambda',
        metricName: 'Errors',
        dimensions: { FunctionName: d.fn.name },
        statistic: 'Sum',
        period: 300,
        ...onAny,
      }),
  );

  const region = cfg.region;
  const fnNames = Object.values(functions).map((d) => d.fn.name);
  const queueNames = dlqs.map(([, q]) => q.name);
  const body = pulumi.all([stateMachine.arn, pulumi.all(fnNames), pulumi.all(queueNames), queues.completion.queue.name]).apply(([sm, fns, dlqNames, completionQueue]) =>
    JSON.stringify({
      widgets: [
        widget(0, 'Pipeline runs', region, ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut'].map((m) => ['AWS/States', m, 'StateMachineArn', sm])),
        widget(1, 'Handler errors', region, fns.map((f) => ['AWS/Lambda', 'Errors', 'FunctionName', f])),
        widget(2, 'Handler duration (p95)', region, fns.map((f) => ['AWS/Lambda', 'Duration', 'FunctionName', f, { stat: 'p95' }])),
        widget(3, 'Dead-letter queues', region, dlqNames.map((q) => ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', q, { stat: 'Maximum' }])),
        widget(4, 'Completions waiting', region, [['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', completionQueue, { stat: 'Maximum' }]]),
      ],
    }),
  );
  const dashboard = new cloudwatch.Dashboard('Dashboard', { dashboardName: names.dashboard, dashboardBody: body });
  return { topic, subscription, dlqAlarms, executionAlarms, errorAlarms, dashboard };
}

function widget(i: number, title: string, region: string, metrics: unknown[][]) {
  return { type: 'metric', x: (i % 2) * 12, y: Math.floor(i / 2) * 6, width: 12, height: 6, properties: { title, region, stat: 'Sum', period: 300, view: 'timeSeries', metrics } };
}
