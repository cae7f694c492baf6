// What a person should hear about: a message in any dead-letter queue (a completion, an interruption or an event
// that could not be handled), a failed or timed-out execution, a handler error; per pipeline, runs failing again and
// again, and job completions reaching their tasks late (the watcher → EventBridge → SQS → complete-stage path is
// slow or stuck). One SNS topic (with an email subscription when configured) and one dashboard (infra/dashboard.ts).
// The topic is not KMS-encrypted: CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed
// aws/sns key, and alarm messages carry names and counts only.
import * as pulumi from '@pulumi/pulumi';
import { cloudwatch, sfn, sns, sqs } from '@pulumi/aws';
import type { LambdaName, ResourceNames, SentinelConfig } from './config.js';
import type { DeployedFunction } from './functions.js';
import type { Queues } from './queues.js';
import { dashboardBody } from './dashboard.js';
import { Dimension, metricsNamespace, SERVICE, SERVICE_DIMENSION, type MetricName } from '../core/metrics.js';

/** A pipeline whose runs fail this often in an hour is failing for a reason of its own (image, data, spec). */
export const REPEATED_FAILURES = { runs: 2, periodSeconds: 3600 };

/** Seconds per schedule tick for rate(…) expressions; undefined for cron(…). */
export function rateSeconds(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) return undefined;
  return Number(m[1]) * { minute: 60, hour: 3600, day: 86_400 }[m[2]!.replace(/s$/, '') as 'minute' | 'hour' | 'day'];
}

/**
 * A completion normally reaches its task within one watcher tick plus a few seconds (EventBridge, SQS, Lambda):
 * five ticks, and at least five minutes, is late.
 */
export const completionLatencyThreshold = (cfg: Pick<SentinelConfig, 'watchEverySeconds'>) => Math.max(300, 5 * cfg.watchEverySeconds);

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

  // The control plane's own metrics (EMF from the handlers, core/metrics.ts), per configured pipeline.
  const namespace = metricsNamespace(cfg.stage);
  const dims = (pipeline: string) => ({ [SERVICE_DIMENSION]: SERVICE, [Dimension.Pipeline]: pipeline });
  const latencySeconds = completionLatencyThreshold(cfg);
  const own = (metricName: MetricName) => ({ namespace, metricName });
  const runAlarms = cfg.pipelines.map(
    (p) =>
      new cloudwatch.MetricAlarm(`RunsFailedAlarm-${p.name}`, {
        name: `${names.prefix}-runs-failed-${p.name}`,
        alarmDescription: `${REPEATED_FAILURES.runs} or more ${p.name} runs failed within ${REPEATED_FAILURES.periodSeconds / 3600} h: more than a one-off (each run.json says where and why).`,
        ...own('RunsFailed'),
        dimensions: dims(p.name),
        statistic: 'Sum',
        period: REPEATED_FAILURES.periodSeconds,
        evaluationPeriods: 1,
        threshold: REPEATED_FAILURES.runs,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: [topic.arn],
        okActions: [topic.arn],
      }),
  );
  const latencyAlarms = cfg.pipelines.map(
    (p) =>
      new cloudwatch.MetricAlarm(`CompletionLatencyAlarm-${p.name}`, {
        name: `${names.prefix}-completion-latency-${p.name}`,
        alarmDescription: `A ${p.name} job's end took over ${latencySeconds} s to reach its task (watcher every ${cfg.watchEverySeconds} s while stages run): check the watch-jobs schedule, the completion queue and complete-stage.`,
        ...own('CompletionLatency'),
        dimensions: dims(p.name),
        statistic: 'Maximum',
        period: 300,
        evaluationPeriods: 1,
        threshold: latencySeconds,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: [topic.arn],
        okActions: [topic.arn],
      }),
  );

  const fnNames = Object.values(functions).map((d) => d.fn.name);
  const queueNames = dlqs.map(([, q]) => q.name);
  const body = pulumi.all([stateMachine.arn, pulumi.all(fnNames), pulumi.all(queueNames), queues.completion.queue.name]).apply(([sm, fns, dlqNames, completionQueue]) =>
    JSON.stringify(
      dashboardBody({
        stage: cfg.stage,
        region: cfg.region,
        pipelines: cfg.pipelines.map((p) => p.name),
        stateMachineArn: sm,
        functionNames: fns,
        dlqNames,
        completionQueueName: completionQueue,
        completionLatencyAlarmSeconds: latencySeconds,
      }),
    ),
  );
  const dashboard = new cloudwatch.Dashboard('Dashboard', { dashboardName: names.dashboard, dashboardBody: body });
  return { topic, subscription, dlqAlarms, executionAlarms, errorAlarms, runAlarms, latencyAlarms, dashboard };
}
