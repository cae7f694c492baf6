// The control plane's metric vocabulary: namespace, dimension names, metric names with their units and dimensions.
// Handlers emit these (functions/lib/metrics.ts, as CloudWatch EMF through Powertools Metrics), the deployed
// dashboard and alarms read them (infra/dashboard.ts, infra/alarms.ts), the local run summary reads them back
// (local/metrics-sink.ts): every name is written here once and imported everywhere else. Pure data.

/** Powertools' `service` default dimension (on every metric) and the service name the logger and tracer use. */
export const SERVICE = 'sentinel';
export const SERVICE_DIMENSION = 'service';

/** One namespace per deployment stage, so two stages in one account never mix their figures. */
export const metricsNamespace = (stage: string) => `Sentinel/${stage}`;
/** What handlers use outside a deployment (the local runtime, tests). */
export const LOCAL_STAGE = 'local';
/** Powertools reads the namespace from this variable; infra/functions.ts sets it per stage. */
export const NAMESPACE_ENV = 'POWERTOOLS_METRICS_NAMESPACE';

export const Dimension = {
  Pipeline: 'Pipeline',
  Stage: 'Stage',
  /** A named error (core/errors.ts ErrorNames) or a JavaScript error's name. */
  ErrorName: 'ErrorName',
  /** The handler's logical name (prepare-run, submit-stage, …). */
  Function: 'Function',
  /** Powertools' own dimension on its ColdStart metric. */
  FunctionName: 'function_name',
} as const;
export type DimensionName = (typeof Dimension)[keyof typeof Dimension];

export type MetricUnitName = 'Seconds' | 'Count';

export interface MetricDefinition {
  unit: MetricUnitName;
  /** Dimensions besides `service` (which Powertools puts on every metric). */
  dimensions: readonly DimensionName[];
  /** Who emits it and when (docs and the dashboard's widget titles read this). */
  help: string;
}

const def = <const D extends readonly DimensionName[]>(unit: MetricUnitName, dimensions: D, help: string) => ({ unit, dimensions, help });
const { Pipeline, Stage, ErrorName, FunctionName } = Dimension;

export const METRICS = {
  RunDuration: def('Seconds', [Pipeline], 'finish-run: run requested → run recorded, any outcome'),
  RunsSucceeded: def('Count', [Pipeline], 'finish-run: a run ended SUCCEEDED (promoted or not)'),
  RunsFailed: def('Count', [Pipeline], 'finish-run: a run ended FAILED (run.json says where and why)'),
  StageDuration: def('Seconds', [Pipeline, Stage], "complete-stage: a stage job's own run time (Ray's start → end), successful attempts"),
  StageAttempts: def('Count', [Pipeline, Stage], 'submit-stage: a job created for a stage attempt (redeliveries not counted)'),
  StageRetries: def('Count', [Pipeline, Stage, ErrorName], 'submit-stage: a new attempt after the previous one failed with ErrorName'),
  Promotions: def('Count', [Pipeline], 'promote: a candidate serves as the new champion'),
  ChampionsKept: def('Count', [Pipeline], 'evaluate-gate: the gate kept the serving champion'),
  CompletionLatency: def('Seconds', [Pipeline], "complete-stage: the job's end → its task completed (SendTaskSuccess/Failure returned)"),
  WatcherJobsSeen: def('Count', [], 'watch-jobs: managed jobs listed in one pass'),
  WatcherCompletionsPublished: def('Count', [], 'watch-jobs: terminal jobs published as Ray Job State Change events'),
  WatcherHeartbeats: def('Count', [], 'watch-jobs: running jobs whose waiting task was heartbeaten'),
  ReaperClustersSeen: def('Count', [], 'reap-idle: Ray clusters considered in one pass'),
  ReaperClustersSuspended: def('Count', [], 'reap-idle: idle RayClusters suspended'),
  ReaperClustersDeleted: def('Count', [], 'reap-idle: idle ephemeral RayClusters deleted'),
  ReaperNodeGroupsScaledToZero: def('Count', [], 'reap-idle: managed node groups without Ray pods scaled to 0'),
  InterruptionsHandled: def('Count', [], 'handle-interruption: an EC2 interruption that hit a node of the cluster'),
  InterruptionJobsMarked: def('Count', [], 'handle-interruption: Ray jobs marked interrupted (their stage fails as SpotInterrupted)'),
  InterruptionPodsEvicted: def('Count', [], 'handle-interruption: Ray pods evicted from the interrupted node'),
  HandlerErrors: def('Count', [Dimension.Function, ErrorName], 'every handler: an invocation (or one SQS record) that failed, by error name'),
  /** Emitted by Powertools itself (captureColdStartMetric), under this name and dimension. */
  ColdStart: def('Count', [FunctionName], 'every handler: the first invocation of a new Lambda container'),
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

/** The dimension values a metric needs: exactly its declared dimensions, each a non-empty string. */
export type DimensionsOf<M extends MetricName> = { [K in (typeof METRICS)[M]['dimensions'][number]]: string };

/** Every dimension of a metric as CloudWatch stores it (`service` first, as Powertools writes it). */
export const cloudWatchDimensions = (m: MetricName): string[] => [SERVICE_DIMENSION, ...METRICS[m].dimensions];

/**
 * Non-dimension context on every run-scoped EMF line (EMF metadata: searchable in Logs Insights, no metric cost; the
 * local sink files the line under that run). Lower case, so never mistaken for the Pipeline dimension.
 */
export const RunMetadata = { runId: 'runId', pipeline: 'pipeline' } as const;
/** The run a metric value belongs to. */
export interface RunRef {
  pipeline: string;
  runId: string;
}
