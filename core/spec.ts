// The pipeline spec: what a user writes to describe a pipeline. Validated at the edge (CLI, triggers, first state),
// so a bad spec fails before any compute starts. Errors name the field.
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { capEcho, quoted, validationFailed } from './errors.js';
import { formatIssues } from './validation.js';
import { defaultMetric, isMetricOf, isTask, metricMode, metricsFor, type Metric } from './tasks.js';
import {
  CheckpointEverySchema,
  CpuSchema,
  DEFAULT_SPLIT,
  GpuSchema,
  GracePeriodSchema,
  IterationsSchema,
  MaxConcurrentSchema,
  MinRowsSchema,
  ModeSchema,
  ModelSchema,
  NumSamplesSchema,
  NumWorkersSchema,
  ReductionFactorSchema,
  SearchSpaceSchema,
  SplitSchema,
  TargetSchema,
  TaskSchema,
} from './contract.js';
import type { Stage } from './stages.js';
import { NotifySchema, StaleAfterSchema } from './spec-notify.js';
import { PromotionTimeoutSchema } from './spec-promotion.js';

export type { Metric, Task, Mode } from './tasks.js';

/** DNS-1123 label, short enough that derived Kubernetes names stay valid (see names.ts). */
export const PIPELINE_NAME_PATTERN = /^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$/;
const pipelineName = z.string().regex(PIPELINE_NAME_PATTERN, 'must be 1-24 chars of a-z, 0-9 and "-", starting with a letter');

/** A Python module path. The job runs `python -m <module>`; a module name cannot carry shell syntax. */
const pythonModule = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'must be a Python module path like pkg.module');

/** A Ray Serve application builder, `module:attr`. */
export const SERVE_APP_PATTERN = /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$/;
export const DEFAULT_SERVE_APP = 'sentinel_sdk.serving:app';

/** Kubernetes resource quantity (a subset: plain, decimal SI and binary SI suffixes). */
const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'must be a Kubernetes quantity like 2Gi or 500m');

const resources = z
  .object({
    cpu: CpuSchema,
    memory: quantity.default('2Gi'),
    gpu: GpuSchema,
    /** Run workers on spot capacity. The head always runs on on-demand capacity. */
    spot: z.boolean().default(false),
  })
  .strict();

const stageBase = (stage: Stage) => ({
  /** The job's entrypoint, `python -m <module>`. */
  module: pythonModule.default(`sentinel_jobs.${stage}`),
  resources: resources.prefault({}),
  /** Upper bound on the Ray job's run time (RayJob activeDeadlineSeconds). */
  timeoutSeconds: z.number().int().min(60).max(7 * 24 * 3600).default(3600),
});

/** A field of spec v1, kept only to say where it went: present, it is an error at its own path. */
const moved = (to: string) => z.never({ error: `removed in spec v2: use ${to}` }).optional();

/**
 * The folder of the pipeline's own Python modules, put on PYTHONPATH (so no ':' inside). No '$' either: Ray expands
 * `$VAR` and `${VAR}` in runtime-env values (core/stage-input-wire.ts), so the job would see another folder.
 */
const codeFolder = z
  .string()
  .min(1)
  .regex(/^[^:$\n\r\0]+$/, 'must be a folder path without ":" (it goes on PYTHONPATH) or "$" (Ray expands it)');

const SpecObject = z
  .object({
    name: pipelineName,
    /** Container image with the jobs installed (KubeRay); ignored by the local runtime. */
    image: z.string().min(1).default('sentinel-jobs:local'),
    /** What the model predicts: the metrics and the gate follow from it. */
    task: TaskSchema.default('binary'),
    /**
     * The folder holding the pipeline's Python modules, on PYTHONPATH of its jobs and Serve replicas. In a spec file
     * it may be relative to the file (the local loader resolves it); on KubeRay an absolute path inside the image.
     */
    code: codeFolder.optional(),
    /** The model: a Python module (optionally `:Attr`) and its params, checked against the module's own schema. */
    model: ModelSchema,
    dataset: z
      .object({
        /** CSV location: s3://bucket/key, an absolute path, ./ or ../ relative to the spec file, or a key in the bucket. */
        uri: z.string().min(1),
        target: TargetSchema,
        split: SplitSchema.default(DEFAULT_SPLIT),
      })
      .strict(),
    /**
     * Where stages run on KubeRay: one autoscaling cluster per run that every stage's job selects (`run`, the
     * default), a fresh cluster per job (`ephemeral`), or an existing one picked by labels.
     */
    cluster: z
      .union([
        z.object({ mode: z.literal('run') }).strict(),
        z.object({ mode: z.literal('ephemeral') }).strict(),
        z
          .object({ mode: z.literal('existing'), selector: z.record(z.string(), z.string()) })
          .strict()
          // KubeRay picks the cluster by the ray.io/cluster label only (and ignores other keys).
          .refine((c) => /^[a-z]([-a-z0-9]{0,51}[a-z0-9])?$/.test(c.selector['ray.io/cluster'] ?? ''), {
            message: 'needs "ray.io/cluster": <RayCluster name> (a DNS-1035 name of at most 53 characters)',
            path: ['selector'],
          }),
      ])
      .default({ mode: 'run' }),
    stages: z
      .object({
        ingest: z.object({ ...stageBase('ingest'), minRows: MinRowsSchema }).strict().prefault({}),
        train: z
          .object({
            ...stageBase('train'),
            iterations: IterationsSchema,
            checkpointEvery: CheckpointEverySchema,
            numWorkers: NumWorkersSchema,
            numBoostRound: moved('stages.train.iterations (boosting rounds, epochs or growth steps)'),
            params: moved('model.params (the model module checks them)'),
          })
          .strict(),
        tune: z
          .object({
            ...stageBase('tune'),
            searchSpace: SearchSpaceSchema,
            numSamples: NumSamplesSchema,
            maxConcurrent: MaxConcurrentSchema,
            maxIterations: IterationsSchema,
            gracePeriod: GracePeriodSchema,
            reductionFactor: ReductionFactorSchema,
            maxBoostRound: moved('stages.tune.maxIterations'),
          })
          .strict()
          .refine((t) => t.gracePeriod <= t.maxIterations, { message: 'must be ≤ maxIterations', path: ['gracePeriod'] }),
        evaluate: z.object({ ...stageBase('evaluate') }).strict().prefault({}),
      })
      .strict(),
    gate: z
      .object({
        /** A metric of the spec's task (core/tasks.ts). */
        metric: z.string().min(1),
        /** Defaults to the metric's direction; an explicit mode must agree with it. */
        mode: ModeSchema.optional(),
        /** The candidate must beat the champion by at least this much (in metric units). */
        minImprovement: z.number().min(0).default(0),
        /** With no champion yet, the candidate must reach this absolute value. */
        floor: z.number(),
      })
      .strict(),
    serve: z
      .object({
        route: z.string().regex(/^\/[a-z0-9/_-]*$/, 'must be a path like /predict'),
        /** The Ray Serve application builder (`module:attr`); a user's app keeps the deployment name ModelServer. */
        app: z.string().regex(SERVE_APP_PATTERN, 'must be a Ray Serve import path like pkg.module:app').default(DEFAULT_SERVE_APP),
        /** Autoscaling range (Serve's min_replicas / max_replicas). */
        replicas: z
          .object({ min: z.number().int().min(1), max: z.number().int().min(1) })
          .strict()
          .refine((r) => r.min <= r.max, { message: 'min must be ≤ max', path: ['min'] })
          .default({ min: 1, max: 5 }),
        /** Autoscaling target: ongoing requests (running and queued) per replica. */
        targetOngoingRequests: z.number().positive().default(5),
        /** Load above the target for this long adds replicas. */
        upscaleDelaySeconds: z.number().min(0).max(3600).default(1),
        /** Load below the target for this long removes replicas. */
        downscaleDelaySeconds: z.number().min(0).max(86_400).default(30),
        /**
         * Requests one replica takes at once (Serve's max_ongoing_requests); more wait in Serve's proxy, which retries
         * with a growing backoff, so this sits well above the target. Tabular requests in a replica are batched.
         */
        maxOngoingRequests: z.number().int().min(1).max(10_000).default(32),
        /** Rows one tabular request may carry; more get HTTP 400 naming the limit. */
        maxRowsPerRequest: z.number().int().min(1).max(100_000).default(1000),
        cpusPerReplica: z.number().positive().max(64).default(0.5),
      })
      .strict()
      .refine((s) => s.maxOngoingRequests >= s.targetOngoingRequests, {
        message: 'must be ≥ targetOngoingRequests (a replica could never reach its target)',
        path: ['maxOngoingRequests'],
      }),
    /** Who hears about this pipeline's runs: an SNS topic and/or a Slack-compatible webhook (core/notify.ts). */
    notify: NotifySchema.optional(),
    /** The champion is stale once older than this (30d, 12h, 90m): a Model Stale event, notified (core/staleness.ts). */
    staleAfter: StaleAfterSchema.optional(),
    /** How long promotion waits for serving to run the new config (90s, 15m, 2h; default 15m) before the run fails and the champion keeps serving. */
    promotionTimeout: PromotionTimeoutSchema.optional(),
    /** Runs of this pipeline at once; more wait in a queue (core/run-slots.ts). */
    maxConcurrentRuns: z.number().int().min(1).max(100).default(1),
    /** A waiting run's place in that queue: higher first, then oldest first. */
    priority: z.number().int().min(-1000).max(1000).default(0),
  })
  .strict();

type SpecObjectOut = z.output<typeof SpecObject>;

/** The gate's metric must be one of the task's, and an explicit mode must be the metric's direction. */
function checkGate(v: unknown, ctx: z.core.$RefinementCtx<SpecObjectOut>) {
  if (v === null || typeof v !== 'object') return;
  const spec = v as { task?: unknown; gate?: { metric?: unknown; mode?: unknown } };
  const task = spec.task ?? 'binary';
  const { metric, mode } = spec.gate ?? {};
  if (!isTask(task) || typeof metric !== 'string' || !metric) return; // reported by the fields themselves
  if (!isMetricOf(task, metric)) {
    ctx.addIssue({
      code: 'custom',
      path: ['gate', 'metric'],
      message: `${quoted(metric)} is not a metric of task ${task}; use one of ${metricsFor(task).join(', ')} (usually ${defaultMetric(task)})`,
      input: metric,
    });
    return;
  }
  const direction = metricMode(metric);
  if ((mode === 'max' || mode === 'min') && mode !== direction) {
    ctx.addIssue({
      code: 'custom',
      path: ['gate', 'mode'],
      message: `${metric} is ${direction === 'max' ? 'maximised' : 'minimised'}: mode must be ${direction} (or left out)`,
      input: mode,
    });
  }
}

export const PipelineSpecSchema = SpecObject.superRefine(checkGate, { when: () => true }).transform((s) => {
  const metric = s.gate.metric as Metric;
  return { ...s, gate: { ...s.gate, metric, mode: s.gate.mode ?? metricMode(metric) } };
});

export type PipelineSpec = z.output<typeof PipelineSpecSchema>;
export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;

/** Validates an already-parsed spec object. `where` prefixes field paths (e.g. the file name). */
export function validateSpec(raw: unknown, where = 'spec'): PipelineSpec {
  const result = PipelineSpecSchema.safeParse(raw);
  if (!result.success) throw validationFailed(formatIssues(result.error.issues, where));
  return result.data;
}

/** Parses YAML or JSON text (JSON is YAML) into a plain object, without validating it. */
export function parseSpecText(text: string, where = 'spec'): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw validationFailed(`not valid YAML/JSON: ${capEcho((e as Error).message.split('\n')[0] ?? '')}`, where);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw validationFailed('must be a mapping (YAML object)', where);
  return raw as Record<string, unknown>;
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. */
export function parseSpec(text: string, where = 'spec'): PipelineSpec {
  return validateSpec(parseSpecText(text, where), where);
}
