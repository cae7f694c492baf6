// The deployment's CloudWatch dashboard: the AWS services' own metrics (executions, Lambda errors and duration,
// queues) and, in the deployment's own namespace, every control-plane metric the handlers emit as EMF. Metric names,
// units, dimensions and the namespace come from core/metrics.ts (the handlers' vocabulary), so the dashboard cannot
// name a metric nobody emits (test/infra checks every emitted metric has a widget). Pure: resolved names in, JSON out.
import { STAGES } from '../core/stages.js';
import { cloudWatchDimensions, Dimension, metricsNamespace, SERVICE, type MetricName } from '../core/metrics.js';

export interface DashboardInputs {
  stage: string;
  region: string;
  pipelines: string[];
  stateMachineArn: string;
  /** Physical Lambda names (the ColdStart metric's function_name, AWS/Lambda's FunctionName). */
  functionNames: string[];
  dlqNames: string[];
  completionQueueName: string;
  /** Drawn as a line on the completion latency graph. */
  completionLatencyAlarmSeconds: number;
}

type MetricLine = Array<string | Record<string, unknown>>;
interface Widget {
  type: 'metric';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

const PERIOD = 300;

/** One graphed metric of the deployment's namespace: [namespace, name, service, sentinel, dim, value, …, options]. */
export function sentinelMetric<M extends MetricName>(namespace: string, name: M, dims: Partial<Record<string, string>>, options: Record<string, unknown> = {}): MetricLine {
  const line: MetricLine = [namespace, name];
  for (const d of cloudWatchDimensions(name)) {
    const v = d === 'service' ? SERVICE : dims[d];
    if (v === undefined) throw new Error(`dashboard: ${name} needs dimension ${d}`);
    line.push(d, v);
  }
  return Object.keys(options).length ? [...line, options] : line;
}

/** Every series of a metric whatever its dimension values (used where the values are not known up front: error names). */
export function searchAll(namespace: string, name: MetricName, stat: string, id: string): MetricLine[] {
  const schema = [namespace, ...cloudWatchDimensions(name)].join(',');
  return [[{ expression: `SEARCH('{${schema}} MetricName="${name}"', '${stat}', ${PERIOD})`, id }]];
}

export function dashboardBody(i: DashboardInputs): { widgets: Widget[] } {
  const ns = metricsNamespace(i.stage);
  const perPipeline = (name: MetricName, options: Record<string, unknown> = {}) => i.pipelines.map((p) => sentinelMetric(ns, name, { [Dimension.Pipeline]: p }, { label: `${p} ${name}`, ...options }));
  const perStage = (name: MetricName, options: Record<string, unknown> = {}) =>
    i.pipelines.flatMap((p) => STAGES.map((s) => sentinelMetric(ns, name, { [Dimension.Pipeline]: p, [Dimension.Stage]: s }, { label: `${p} ${s}`, ...options })));
  const plain = (names: MetricName[]) => names.map((n) => sentinelMetric(ns, n, {}, { label: n }));

  const graphs: Array<[string, MetricLine[], Record<string, unknown>?]> = [
    ['Pipeline runs (Step Functions)', ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut'].map((m) => ['AWS/States', m, 'StateMachineArn', i.stateMachineArn])],
    ['Runs by pipeline', [...perPipeline('RunsSucceeded'), ...perPipeline('RunsFailed')]],
    ['Run duration (p50, max)', [...perPipeline('RunDuration', { stat: 'p50' }), ...perPipeline('RunDuration', { stat: 'Maximum' })], { stat: 'p50' }],
    ['Stage duration (p50)', perStage('StageDuration', { stat: 'p50' }), { stat: 'p50' }],
    ['Stage attempts', perStage('StageAttempts')],
    ['Stage retries by error name', searchAll(ns, 'StageRetries', 'Sum', 'retries')],
    ['Promotions and kept champions', [...perPipeline('Promotions'), ...perPipeline('ChampionsKept')]],
    [
      'Completion latency: job end → task completed (p90, max)',
      [...perPipeline('CompletionLatency', { stat: 'p90' }), ...perPipeline('CompletionLatency', { stat: 'Maximum' })],
      { stat: 'p90', annotations: { horizontal: [{ label: 'alarm', value: i.completionLatencyAlarmSeconds }] } },
    ],
    ['Completion watcher', plain(['WatcherJobsSeen', 'WatcherCompletionsPublished', 'WatcherHeartbeats'])],
    ['Idle reaper', plain(['ReaperClustersSeen', 'ReaperClustersSuspended', 'ReaperClustersDeleted', 'ReaperNodeGroupsScaledToZero'])],
    ['Spot interruptions', plain(['InterruptionsHandled', 'InterruptionJobsMarked', 'InterruptionPodsEvicted'])],
    ['Handler errors by error name', searchAll(ns, 'HandlerErrors', 'Sum', 'errors')],
    ['Cold starts', i.functionNames.map((f) => sentinelMetric(ns, 'ColdStart', { [Dimension.FunctionName]: f }, { label: f }))],
    ['Handler errors (Lambda)', i.functionNames.map((f) => ['AWS/Lambda', 'Errors', 'FunctionName', f])],
    ['Handler duration (p95)', i.functionNames.map((f) => ['AWS/Lambda', 'Duration', 'FunctionName', f, { stat: 'p95' }])],
    ['Dead-letter queues', i.dlqNames.map((q) => ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', q, { stat: 'Maximum' }])],
    ['Completions waiting', [['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', i.completionQueueName, { stat: 'Maximum' }]]],
  ];
  return {
    widgets: graphs.map(([title, metrics, extra], n) => ({
      type: 'metric',
      x: (n % 2) * 12,
      y: Math.floor(n / 2) * 6,
      width: 12,
      height: 6,
      properties: { title, region: i.region, stat: 'Sum', period: PERIOD, view: 'timeSeries', metrics, ...extra },
    })),
  };
}
