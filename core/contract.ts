// The stage contract (docs/stage-contract.md) as zod schemas: the input envelope each stage's job receives in
// SENTINEL_STAGE_INPUT, each stage's params, and the result.json a job writes. The one source of these shapes:
// `npm run contract` writes them as JSON Schema into jobs/src/sentinel_sdk/contract/, where the Python side
// validates against them and takes its defaults from them (it has none of its own). The spec (spec.ts) reuses the
// field schemas below, so a default is written once.
import { z } from 'zod';
import { METRICS, TASKS, isMetricOf, type Task } from './tasks.js';
import { STAGES, type Stage } from './stages.js';
import { RUN_ID_PATTERN } from './run-id.js';

export const TaskSchema = z.enum(TASKS);
export const MetricSchema = z.enum(METRICS);
export const ModeSchema = z.enum(['max', 'min']);

/** The user's model: a Python module path, optionally `:Attr`. Imported by the SDK, never run as a command. */
export const MODEL_MODULE_PATTERN = /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*)?$/;
export const ModelModuleSchema = z.string().regex(MODEL_MODULE_PATTERN, 'must be a Python module path like pkg.module, optionally with :Attr');

/** Free-form here; checked against the model module's own schema before any compute (`python -m sentinel_sdk check`). */
export const ModelParamsSchema = z.record(z.string(), z.unknown());

export const ModelSchema = z.object({ module: ModelModuleSchema, params: ModelParamsSchema.default({}) }).strict();

export const TargetSchema = z.string().min(1).default('target');

export const SplitSchema = z
  .object({
    validation: z.number().gt(0).lt(0.5).default(0.15),
    test: z.number().gt(0).lt(0.5).default(0.15),
    seed: z.number().int().min(0).default(42),
  })
  .strict();
export const DEFAULT_SPLIT = { validation: 0.15, test: 0.15, seed: 42 };

/** Ingest refuses a dataset with fewer rows than this (the splits would be too small to score). */
export const MinRowsSchema = z.number().int().min(3).max(1_000_000_000).default(30);

/** Boosting rounds, epochs, growth steps: whatever the model counts as one step of its fit. */
export const IterationsSchema = z.number().int().min(1).max(100_000);
export const CheckpointEverySchema = z.number().int().min(1).max(100_000).default(10);
export const NumWorkersSchema = z.number().int().min(1).max(64).default(1);
export const NumSamplesSchema = z.number().int().min(1).max(1000);
export const MaxConcurrentSchema = z.number().int().min(1).max(64).default(2);
export const GracePeriodSchema = z.number().int().min(1).max(100_000).default(5);
export const ReductionFactorSchema = z.number().int().min(2).max(100).default(3);

export const CpuSchema = z.number().positive().max(256).default(1);
export const GpuSchema = z.number().int().min(0).max(16).default(0);

const floatRange = z
  .object({ type: z.enum(['uniform', 'loguniform']), lower: z.number(), upper: z.number() })
  .strict()
  .refine((r) => r.lower < r.upper, { message: 'lower must be < upper', path: ['lower'] })
  .refine((r) => r.type !== 'loguniform' || r.lower > 0, { message: 'loguniform needs lower > 0', path: ['lower'] });
/** Integers from lower to upper, both included. */
const intRange = z
  .object({ type: z.literal('randint'), lower: z.number().int(), upper: z.number().int() })
  .strict()
  .refine((r) => r.lower < r.upper, { message: 'lower must be < upper', path: ['lower'] });
const choice = z.object({ type: z.literal('choice'), values: z.array(z.union([z.number(), z.string(), z.boolean()])).min(1) }).strict();
export const SearchDimensionSchema = z.discriminatedUnion('type', [floatRange, intRange, choice]);
/** Keys are model params, layered over model.params for each trial. */
export const SearchSpaceSchema = z
  .record(z.string().min(1), SearchDimensionSchema)
  .refine((s) => Object.keys(s).length > 0, 'needs at least one dimension');

const uri = z.string().min(1);
const resources = z.object({ cpu: CpuSchema, gpu: GpuSchema }).strict();
const seed = z.number().int().min(0).default(42);

/** Train, tune and evaluate score with a metric of the run's task. */
const metricOfTask = (p: { task: Task; metric: string }) => isMetricOf(p.task, p.metric);
const metricCheck = { message: 'is not a metric of params.task', path: ['metric'] };

export const IngestParamsSchema = z
  .object({ datasetUri: uri, target: TargetSchema, task: TaskSchema.default('binary'), split: SplitSchema.prefault({}), minRows: MinRowsSchema })
  .strict();

export const TrainParamsSchema = z
  .object({
    dataUri: uri,
    target: TargetSchema,
    task: TaskSchema.default('binary'),
    metric: MetricSchema,
    mode: ModeSchema,
    model: ModelSchema,
    iterations: IterationsSchema,
    checkpointEvery: CheckpointEverySchema,
    numWorkers: NumWorkersSchema,
    resources: resources.prefault({}),
    seed,
  })
  .strict()
  .refine(metricOfTask, metricCheck);

export const TuneParamsSchema = z
  .object({
    dataUri: uri,
    target: TargetSchema,
    task: TaskSchema.default('binary'),
    metric: MetricSchema,
    mode: ModeSchema,
    model: ModelSchema,
    searchSpace: SearchSpaceSchema,
    numSamples: NumSamplesSchema,
    maxConcurrent: MaxConcurrentSchema,
    maxIterations: IterationsSchema,
    gracePeriod: GracePeriodSchema,
    reductionFactor: ReductionFactorSchema,
    resources: resources.prefault({}),
    seed,
  })
  .strict()
  .refine(metricOfTask, metricCheck)
  .refine((t) => t.gracePeriod <= t.maxIterations, { message: 'must be ≤ maxIterations', path: ['gracePeriod'] });

export const EvaluateParamsSchema = z
  .object({
    dataUri: uri,
    target: TargetSchema,
    task: TaskSchema.default('binary'),
    metric: MetricSchema,
    candidate: z.object({ modelUri: uri, source: z.enum(['train', 'tune']) }).strict(),
    champion: z.object({ modelUri: uri, runId: z.string().regex(RUN_ID_PATTERN) }).strict().nullable(),
  })
  .strict()
  .refine(metricOfTask, metricCheck);

export const STAGE_PARAMS = {
  ingest: IngestParamsSchema,
  train: TrainParamsSchema,
  tune: TuneParamsSchema,
  evaluate: EvaluateParamsSchema,
} as const;

/**
 * Where a stage logs to MLflow (docs/stage-contract.md, "Experiment tracking"): the server, the pipeline's experiment
 * and the pipeline run's own MLflow run (created by the control plane when the run is prepared), under which the
 * stage opens its nested run. `tags` are lineage tags the stage copies onto its run. Absent: tracking is off, and
 * the stage does not even import the MLflow client.
 */
export const TrackingInputSchema = z
  .object({
    uri: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL of an MLflow tracking server'),
    experimentId: z.string().min(1),
    parentRunId: z.string().min(1),
    tags: z.record(z.string().min(1), z.string()).default({}),
  })
  .strict();
export type TrackingInput = z.output<typeof TrackingInputSchema>;

const envelope = <S extends Stage, P extends z.ZodType>(stage: S, params: P) =>
  z
    .object({
      pipeline: z.string().min(1),
      runId: z.string().regex(RUN_ID_PATTERN),
      stage: z.literal(stage),
      /** <root>/<pipeline>/<runId>/<stage>; <root> is an absolute local folder or s3://bucket/prefix. */
      stageUri: uri,
      runUri: uri,
      params,
      tracking: TrackingInputSchema.optional(),
    })
    .strict();

/** The whole SENTINEL_STAGE_INPUT of each stage. */
export const StageInputSchemas = {
  ingest: envelope('ingest', IngestParamsSchema),
  train: envelope('train', TrainParamsSchema),
  tune: envelope('tune', TuneParamsSchema),
  evaluate: envelope('evaluate', EvaluateParamsSchema),
} as const;

export type StageInputOf<S extends Stage> = z.output<(typeof StageInputSchemas)[S]>;
export type StageParamsOf<S extends Stage> = StageInputOf<S>['params'];

/** What a job writes last, atomically, to <stageUri>/result.json. */
export const StageResultSchema = z
  .object({
    stage: z.enum(STAGES),
    metrics: z.record(z.string().min(1), z.number()),
    artifacts: z.record(z.string().min(1), z.string().min(1)),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type StageResult = z.output<typeof StageResultSchema>;

/** At most this many characters of a failure record's reason: the job's one-line reason is cut to it (one_line). */
export const MAX_FAILURE_REASON = 1000;

/**
 * What a failing job writes, best effort, to <stageUri>/failure.json (core/artifacts.ts FAILURE_FILE) before it exits
 * non-zero: the stage's attempt, so the write names the job (`<pipeline>-<runId>-<stage>-<attempt>`) and a late write
 * of an earlier attempt is never matched to a later attempt's job; the error's name and the one-line reason the job
 * ends its log with. Only a claim: the compute port's own state decides the task's outcome (core/pushed-completion.ts).
 * Nothing else: no input, no environment, no traceback. Bounded (well under 2 KiB).
 */
export const StageFailureSchema = z
  .object({
    pipeline: z.string().min(1).max(24),
    runId: z.string().regex(RUN_ID_PATTERN),
    stage: z.enum(STAGES),
    attempt: z.number().int().min(1).max(99),
    /** The job's error kind (`ValidationFailed`, `TrainingFailed`, `StageFailed`). */
    error: z.string().regex(/^[A-Z][A-Za-z0-9]{0,63}$/),
    /** The one line the job's log ends with, `<error>: <what and where>`. */
    reason: z.string().min(1).max(MAX_FAILURE_REASON),
    /** When the job wrote it (UTC, ISO 8601). */
    time: z.iso.datetime(),
  })
  .strict();
export type StageFailure = z.output<typeof StageFailureSchema>;
