// The pipeline spec: what a user writes to describe a pipeline. Validated at the edge (CLI, triggers, first state),
// so a bad spec fails before any compute starts. Errors name the field.
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { validationFailed } from './errors.js';
import { formatIssues } from './validation.js';

/** DNS-1123 label, short enough that derived Kubernetes names stay valid (see names.ts). */
const pipelineName = z
  .string()
  .regex(/^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$/, 'must be 1-24 chars of a-z, 0-9 and "-", starting with a letter');

/** A Python module path. The job runs `python -m <module>`; a module name cannot carry shell syntax. */
const pythonModule = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'must be a Python module path like pkg.module');

/** Kubernetes resource quantity (a subset: plain, decimal SI and binary SI suffixes). */
const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'must be a Kubernetes quantity like 2Gi or 500m');

const resources = z
  .object({
    cpu: z.number().positive().max(256).default(1),
    memory: quantity.default('2Gi'),
    gpu: z.number().int().min(0).max(16).default(0),
    /** Run workers on spot capacity. The head always runs on on-demand capacity. */
    spot: z.boolean().default(false),
  })
  .strict();

const stageBase = {
  module: pythonModule,
  resources: resources.default({ cpu: 1, memory: '2Gi', gpu: 0, spot: false }),
  /** Upper bound on the Ray job's run time (RayJob activeDeadlineSeconds). */
  timeoutSeconds: z.number().int().min(60).max(7 * 24 * 3600).default(3600),
};

const numericRange = z
  .object({ type: z.enum(['uniform', 'loguniform', 'randint']), lower: z.number(), upper: z.number() })
  .strict()
  .refine((r) => r.lower < r.upper, { message: 'lower must be < upper', path: ['lower'] })
  .refine((r) => r.type !== 'loguniform' || r.lower > 0, { message: 'loguniform needs lower > 0', path: ['lower'] });
const choice = z.object({ type: z.literal('choice'), values: z.array(z.union([z.number(), z.string()])).min(1) }).strict();
const searchDimension = z.union([numericRange, choice]);

const xgbParamValue = z.union([z.number(), z.string(), z.boolean()]);

export const MetricSchema = z.enum(['roc_auc', 'accuracy', 'logloss', 'f1']);
export type Metric = z.infer<typeof MetricSchema>;

export const PipelineSpecSchema = z
  .object({
    name: pipelineName,
    /** Container image with the jobs installed (KubeRay); ignored by the local runtime. */
    image: z.string().min(1).default('sentinel-jobs:local'),
    dataset: z
      .object({
        /** CSV location: s3://bucket/key, a local path, or relative to the spec file. A trigger may override it. */
        uri: z.string().min(1),
        target: z.string().min(1).default('target'),
        split: z
          .object({
            validation: z.number().gt(0).lt(0.5).default(0.15),
            test: z.number().gt(0).lt(0.5).default(0.15),
            seed: z.number().int().min(0).default(42),
          })
          .strict()
          .default({ validation: 0.15, test: 0.15, seed: 42 }),
      })
      .strict(),
    /** Where stages run on KubeRay: a fresh cluster per job, or an existing one picked by labels. */
    cluster: z
      .union([
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
      .default({ mode: 'ephemeral' }),
    stages: z
      .object({
        ingest: z.object({ ...stageBase }).strict(),
        train: z
          .object({
            ...stageBase,
            numBoostRound: z.number().int().min(1).max(10_000),
            checkpointEvery: z.number().int().min(1).default(10),
            numWorkers: z.number().int().min(1).max(64).default(1),
            params: z.record(z.string(), xgbParamValue).default({}),
          })
          .strict(),
        tune: z
          .object({
            ...stageBase,
            searchSpace: z.record(z.string(), searchDimension).refine((s) => Object.keys(s).length > 0, 'needs at least one dimension'),
            numSamples: z.number().int().min(1).max(1000),
            maxConcurrent: z.number().int().min(1).max(64).default(2),
            maxBoostRound: z.number().int().min(1).max(10_000),
            gracePeriod: z.number().int().min(1).default(5),
            reductionFactor: z.number().int().min(2).default(3),
          })
          .strict()
          .refine((t) => t.gracePeriod <= t.maxBoostRound, { message: 'must be ≤ maxBoostRound', path: ['gracePeriod'] }),
        evaluate: z.object({ ...stageBase }).strict(),
      })
      .strict(),
    gate: z
      .object({
        metric: MetricSchema,
        mode: z.enum(['max', 'min']),
        /** The candidate must beat the champion by at least this much (in metric units). */
        minImprovement: z.number().min(0).default(0),
        /** With no champion yet, the candidate must reach this absolute value. */
        floor: z.number(),
      })
      .strict(),
    serve: z
      .object({
        route: z.string().regex(/^\/[a-z0-9/_-]*$/, 'must be a path like /predict'),
        replicas: z
          .object({ min: z.number().int().min(1), max: z.number().int().min(1) })
          .strict()
          .refine((r) => r.min <= r.max, { message: 'min must be ≤ max', path: ['min'] }),
        /** Autoscaling target: ongoing requests per replica. */
        targetOngoingRequests: z.number().positive().default(2),
        cpusPerReplica: z.number().positive().max(64).default(0.5),
      })
      .strict(),
  })
  .strict();

export type PipelineSpec = z.infer<typeof PipelineSpecSchema>;
export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;

/** Validates an already-parsed spec object. `where` prefixes field paths (e.g. the file name). */
export function validateSpec(raw: unknown, where = 'spec'): PipelineSpec {
  const result = PipelineSpecSchema.safeParse(raw);
  if (!result.success) throw validationFailed(formatIssues(result.error.issues, where));
  return result.data;
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. */
export function parseSpec(text: string, where = 'spec'): PipelineSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw validationFailed(`not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`, where);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw validationFailed('must be a mapping (YAML object)', where);
  return validateSpec(raw, where);
}
