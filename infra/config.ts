// The one configuration of a Sentinel deployment. Edit `base` (and `stages` for per-stage differences); SST passes
// the stage (`sst deploy --stage prod`) and sst.config.ts calls sentinelConfig(stage). Everything in infra/ reads
// this object and nothing else, so what a deployment is can be read in one place.
// Pure data and pure functions: cli/render-aws.ts and the tests import it without Pulumi.
import type { RouteSettings, Schedule } from '../events/routes.js';
import { ownEcrRegistry } from '../core/deployed-spec.js';
import { DURATION } from '../core/spec-notify.js';

export interface PipelineConfig {
  /** Must equal the spec's `name`. */
  name: string;
  /** The spec file, relative to the repository root; uploaded as s3://<bucket>/pipelines/<name>.yaml. */
  specFile: string;
  /** EventBridge Scheduler expression (rate(…) or cron(…)); retrains on the newest dataset, skipped when unchanged. */
  retrainSchedule?: string;
}

export interface ClusterConfig {
  /** The existing EKS cluster that runs the KubeRay operator. */
  name: string;
  /** Where RayJobs, RayClusters and RayServices are created. */
  namespace: string;
  /** The Kubernetes group the Lambdas' roles map to (EKS access entry); the project's RBAC binds this group. */
  kubernetesGroup: string;
  /** Managed node groups the idle reaper may scale to zero (EKS UpdateNodegroupConfig). */
  scaleToZeroNodeGroups: string[];
  /**
   * Non-empty: EKS Pod Identity for the Ray pods, one identity per use. Each pipeline's job pods run as
   * `sentinel-job-<pipeline>` (writes only artifacts/<pipeline>/*) and its Serve pods as `sentinel-serve-<pipeline>`
   * (read-only); the pod templates name them (core/kuberay/identity.ts) and `sentinel render` writes them. Requires
   * the eks-pod-identity-agent add-on. Empty string: no association (bring your own IRSA for those accounts).
   */
  rayServiceAccount: string;
}

export interface SentinelConfig {
  /** SST stage; part of every resource name (sentinel-<stage>-…). */
  stage: string;
  region: string;
  cluster: ClusterConfig;
  pipelines: PipelineConfig[];
  /**
   * Cordon the node and evict its Ray pods on a spot warning. Off where Karpenter (or node-termination-handler)
   * already drains interrupted nodes; the jobs on the node are marked either way (SENTINEL_NODE_HANDLING).
   */
  handleSpotInterruptions: boolean;
  /** A Ray cluster with no job for this long is suspended; an empty managed node group goes to zero. */
  idleTimeoutMinutes: number;
  /**
   * The watcher's interval while stages are in flight: submit-stage arms a one-time schedule for now + this, and
   * each tick re-arms it only while it still sees a stage in flight (core/arming.ts). No run: no tick, no cost.
   */
  watchEverySeconds: number;
  /**
   * Finished RayJobs are deleted this long after their end (a duration: 90m, 1h, 7d), by the reaper, which a run's
   * end arms for end + idleTimeoutMinutes and which re-arms itself only for work it left for later.
   */
  jobRetention: string;
  /** Alarm notifications go to this address (an SNS email subscription to confirm); none when empty. */
  alarmEmail?: string;
  logRetentionDays: number;
  /**
   * Reserved concurrency caps the completion consumer and keeps the watcher/reaper single. New accounts whose
   * concurrency quota is 10 cannot reserve any (AWS keeps 100 unreserved): set false there.
   */
  reserveConcurrency: boolean;
  /** Keep the bucket (datasets, models, run records) on `sst remove`. */
  retainData: boolean;
  /**
   * The team's MLflow tracking server (http(s)://…), reached by the Lambdas (runs, registry) and by the Ray pods (the
   * stages log to it through the SDK). Unset: runs are not tracked, and each run's record says so; nothing fails.
   */
  trackingUri?: string;
  /**
   * Registry prefixes (each ending in "/") a run's image may come from, besides the deployment's own ECR registry
   * (<account>.dkr.ecr.<region>.amazonaws.com/), which is always allowed. start-run and prepare-run refuse any other
   * image (ValidationFailed at `image`), and refuse inline specs: a deployed stack runs only deployed specs.
   */
  allowedImagePrefixes: string[];
}

const base: Omit<SentinelConfig, 'stage'> = {
  region: process.env.AWS_REGION ?? 'us-east-1',
  cluster: {
    name: 'ml-cluster',
    namespace: 'sentinel',
    kubernetesGroup: 'sentinel:lambda',
    scaleToZeroNodeGroups: [],
    // Any non-empty value turns the per-pipeline Pod Identity associations on (see ClusterConfig.rayServiceAccount).
    rayServiceAccount: 'per-pipeline',
  },
  pipelines: [{ name: 'breast-cancer', specFile: 'pipelines/breast-cancer.yaml', retrainSchedule: 'cron(0 3 ? * MON *)' }],
  handleSpotInterruptions: true,
  idleTimeoutMinutes: 15,
  watchEverySeconds: 60,
  jobRetention: '1h',
  logRetentionDays: 30,
  reserveConcurrency: true,
  retainData: false,
  // The shipped specs' image (pipelines/*.yaml); the deployment's own ECR registry is allowed without listing it.
  allowedImagePrefixes: ['ghcr.io/sentinel-dev/'],
};

/** Per-stage differences from `base`. */
const stages: Record<string, Partial<Omit<SentinelConfig, 'stage'>>> = {
  production: { retainData: true, logRetentionDays: 90 },
};

export function sentinelConfig(stage: string, overrides: Partial<Omit<SentinelConfig, 'stage'>> = {}): SentinelConfig {
  return validateConfig({ ...base, ...stages[stage], ...overrides, stage });
}

const SCHEDULE = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/;
const PIPELINE = /^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$/;

/** Refuses a configuration that cannot deploy, naming every problem at once. */
export function validateConfig(c: SentinelConfig): SentinelConfig {
  const problems: string[] = [];
  // sentinel-<stage>-<account 12>-<region ≤ 14> must fit a 63-char bucket name.
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(c.stage)) problems.push(`stage "${c.stage}": 1–20 chars [a-z0-9-], starting with a letter`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(c.region)) problems.push(`region "${c.region}" is not an AWS region`);
  if (!c.cluster.name) problems.push('cluster.name is empty');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(c.cluster.namespace)) problems.push(`cluster.namespace "${c.cluster.namespace}" is not a Kubernetes namespace`);
  if (!c.cluster.kubernetesGroup || c.cluster.kubernetesGroup.startsWith('system:')) problems.push('cluster.kubernetesGroup must be set and may not start with "system:"');
  const names = new Set<string>();
  for (const p of c.pipelines) {
    if (!PIPELINE.test(p.name)) problems.push(`pipeline "${p.name}": 1–24 chars [a-z0-9-]`);
    if (names.has(p.name)) problems.push(`pipeline "${p.name}" is listed twice`);
    names.add(p.name);
    if (p.retrainSchedule && !SCHEDULE.test(p.retrainSchedule)) problems.push(`pipeline "${p.name}": retrainSchedule "${p.retrainSchedule}" is not rate(…) or cron(…)`);
  }
  if (!Number.isInteger(c.watchEverySeconds) || c.watchEverySeconds < 60 || c.watchEverySeconds > 3600) problems.push(`watchEverySeconds ${c.watchEverySeconds}: a whole number of seconds, 60–3600 (EventBridge Scheduler fires to the minute)`);
  if (!DURATION.test(c.jobRetention)) problems.push(`jobRetention "${c.jobRetention}" is not a duration like 90m, 1h or 7d`);
  if (!(c.idleTimeoutMinutes > 0)) problems.push('idleTimeoutMinutes must be > 0');
  if (c.trackingUri !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(c.trackingUri)) problems.push(`trackingUri "${c.trackingUri}" is not an http(s) URL of an MLflow server`);
  for (const p of c.allowedImagePrefixes) if (!/^[a-z0-9][a-z0-9.-]*(:\d+)?\/([a-z0-9._/-]*\/)?$/.test(p)) problems.push(`allowedImagePrefixes "${p}" is not a registry prefix ending in "/" (e.g. "ghcr.io/my-org/")`);
  if (c.alarmEmail && !/^[^@\s]+@[^@\s]+$/.test(c.alarmEmail)) problems.push(`alarmEmail "${c.alarmEmail}" is not an email address`);
  if (problems.length) throw new Error(`infra/config.ts: ${problems.join('; ')}`);
  return c;
}

/** The registry prefixes a run's image must start with: the deployment's own ECR registry, then the listed ones. */
export const imagePrefixes = (c: SentinelConfig, account: string): string[] => [ownEcrRegistry(account, c.region), ...c.allowedImagePrefixes];

/** Every Lambda of a deployment, by logical name (the state machine's five, the consumers, the scheduled ones). */
export const LAMBDA_NAMES = [
  'prepare-run',
  'submit-stage',
  'evaluate-gate',
  'promote',
  'finish-run',
  'complete-stage',
  'watch-jobs',
  'start-run',
  'handle-interruption',
  'reap-idle',
  'notify',
  'execution-ended',
] as const;
export type LambdaName = (typeof LAMBDA_NAMES)[number];

/** The functions a configuration deploys: all of them (the interruption consumer marks jobs even without node handling). */
export const deployedLambdas = (_cfg: Pick<SentinelConfig, 'handleSpotInterruptions'>): LambdaName[] => [...LAMBDA_NAMES];

/** Physical names, derived once. Function names match cli/render.ts (sentinel-<stage>-<fn>). */
export function resourceNames(c: Pick<SentinelConfig, 'stage' | 'region'>) {
  const prefix = `sentinel-${c.stage}`;
  return {
    prefix,
    bucket: (account: string) => `${prefix}-${account}-${c.region}`,
    tokensTable: `${prefix}-tokens`,
    stateMachine: `${prefix}-pipeline`,
    stateMachineLogGroup: `/aws/vendedlogs/states/${prefix}-pipeline`,
    function: (fn: LambdaName) => `${prefix}-${fn}`,
    functionLogGroup: (fn: LambdaName) => `/aws/lambda/${prefix}-${fn}`,
    role: (who: string) => `${prefix}-${who}`,
    completionQueue: `${prefix}-job-completions`,
    interruptionQueue: `${prefix}-interruptions`,
    /** Events EventBridge rules and schedules could not deliver to their targets. */
    undeliveredQueue: `${prefix}-undelivered-events`,
    dlq: (queue: string) => `${queue}-dlq`,
    rule: (route: string) => `${prefix}-${route}`,
    schedule: (name: string) => `${prefix}-${name}`,
    /** The one-time schedules' group (core/arming.ts, core/staleness.ts); their names start with `${prefix}-`. */
    scheduleGroup: prefix,
    alarmTopic: `${prefix}-alarms`,
    /** Run notifications of every pipeline (core/notify.ts); subscribers filter on the pipeline attribute. */
    notificationsTopic: `${prefix}-notifications`,
    dashboard: `${prefix}`,
  };
}
export type ResourceNames = ReturnType<typeof resourceNames>;

/** Stands in for the state machine's ARN where only the routes' shape matters (names, targets), not their patterns. */
export const PLACEHOLDER_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:sentinel-pipeline';

/** What events/routes.ts needs to list this deployment's rules and schedules. */
export function routeSettings(cfg: SentinelConfig, bucketName: string, stateMachineArn = PLACEHOLDER_STATE_MACHINE_ARN): RouteSettings {
  return {
    bucket: bucketName,
    stateMachineArn,
    pipelines: cfg.pipelines.map((p) => ({ name: p.name, ...(p.retrainSchedule ? { retrainSchedule: p.retrainSchedule } : {}) })),
  };
}

/**
 * What a schedule passes its target in AWS. A retrain gets the tick's scheduled time from EventBridge Scheduler's
 * context attribute, so a retried delivery of the same tick derives the same run id (and starts nothing new).
 */
export function scheduleInput(s: Schedule): Record<string, unknown> {
  return s.target === 'start-run' ? { ...s.input, time: '<aws.scheduler.scheduled-time>' } : (s.input ?? {});
}
