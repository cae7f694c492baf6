// The RayJob for one stage attempt, built from the same JobRequest the Ray Jobs backend submits.
//
// submissionMode is HTTPMode: the KubeRay operator POSTs the job to the cluster's Ray Jobs API as JSON
// (entrypoint, submission id, runtime_env, metadata), exactly the request the local backend sends. The default
// K8sJobMode (and SidecarMode) instead build a `bash -c` script with the runtime env spliced in as a Go-quoted string
// (kuberay v1.7 common/job.go BuildJobSubmitCommand: `--runtime-env-json` + strconv.Quote), inside which `$(…)` and
// backticks in the stage input (an S3 key, a search-space value) would run in the submitter pod. HTTPMode also needs
// no submitter pod. InteractiveMode waits for someone else to submit, which nobody would.
import type { JobRequest } from '../ports.js';
import { quoted, validationFailed } from '../errors.js';
import { ANNOTATIONS, CLUSTER_SELECTOR_KEY, RAY_API_VERSION, STAGE_INPUT_ENV, specHash, type KubeObject } from './meta.js';
import { encodeStageInput } from '../stage-input-wire.js';
import { runClusterNameFor } from '../names.js';
import { yaml11Json } from './yaml11.js';
import { kueueLabels, type KueueOptions } from './kueue.js';
import { jobServiceAccountFor, ROLE_LABEL, ROLES } from './identity.js';
import { KARPENTER, podTemplate, PROMETHEUS_SCRAPE_ANNOTATIONS, type CapacityLabels, type PodTemplate } from './pods.js';
import { IN_FLIGHT, IN_FLIGHT_LABEL } from '../names.js';

/** Same rule as the spec schema: a module path cannot carry shell syntax (Ray runs the entrypoint with a shell). */
const PYTHON_MODULE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export const SUBMISSION_MODE = 'HTTPMode';
export const WORKER_GROUP = 'workers';
/** Keep a finished job's cluster a minute for a look at its dashboard, then free the nodes. */
export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 60;

export interface RayJobOptions {
  namespace: string;
  capacity?: CapacityLabels;
  ttlSecondsAfterFinished?: number;
  /** Annotate the cluster's Ray pods for Prometheus to scrape Ray's metrics (deployments turn it on: functions/aws/deps.ts). */
  prometheus?: boolean;
  /**
   * The deployment's Kueue LocalQueue: RayJobs with their own cluster carry its labels and are created suspended,
   * for Kueue to admit (core/kuberay/kueue.ts). A job on an existing cluster is not Kueue's to admit.
   */
  kueue?: KueueOptions;
}

export interface RayClusterSpec {
  enableInTreeAutoscaling?: boolean;
  headGroupSpec: { rayStartParams: Record<string, string>; template: PodTemplate };
  workerGroupSpecs: Array<{
    groupName: string;
    replicas: number;
    minReplicas: number;
    maxReplicas: number;
    rayStartParams: Record<string, string>;
    template: PodTemplate;
  }>;
}

export interface RayJobSpec {
  entrypoint: string;
  jobId: string;
  metadata: Record<string, string>;
  runtimeEnvYAML: string;
  submissionMode: string;
  backoffLimit: number;
  activeDeadlineSeconds: number;
  shutdownAfterJobFinishes: boolean;
  ttlSecondsAfterFinished?: number;
  rayClusterSpec?: RayClusterSpec;
  clusterSelector?: Record<string, string>;
}

export type RayJobManifest = KubeObject<RayJobSpec> & { metadata: { namespace: string; labels: Record<string, string>; annotations: Record<string, string> } };

export const entrypointFor = (module: string) => {
  if (!PYTHON_MODULE.test(module)) throw validationFailed(`${quoted(module)} is not a Python module path`, 'module');
  return `python -m ${module}`;
};

/** What makes two submissions the same job: everything requested except the name it is stored under. */
export const requestHash = (req: JobRequest) =>
  specHash({
    module: req.module, input: req.input, pythonPath: req.pythonPath, resources: req.resources, timeoutSeconds: req.timeoutSeconds,
    image: req.image, cluster: req.cluster, labels: req.labels,
  });

/**
 * The job's runtime env: the stage input as data, encoded so Ray's `$VAR` expansion and YAML 1.1 leave it alone
 * (core/stage-input-wire.ts), and, with spec.code, the pipeline's modules on PYTHONPATH.
 */
export function runtimeEnvFor(req: Pick<JobRequest, 'input' | 'pythonPath'>): { env_vars: Record<string, string> } {
  return { env_vars: { ...(req.pythonPath ? { PYTHONPATH: req.pythonPath } : {}), [STAGE_INPUT_ENV]: encodeStageInput(req.input) } };
}

/** runtimeEnvYAML: the runtime env as JSON (JSON is YAML) that the operator's YAML 1.1 parser reads back exactly. */
export const runtimeEnvYAMLFor = (req: Pick<JobRequest, 'input' | 'pythonPath'>) => yaml11Json(runtimeEnvFor(req), 'runtimeEnv');

/** Ray workers for the stage's parallelism: train's numWorkers, tune's maxConcurrent trials, else one. */
function workerCount(req: JobRequest): number {
  const params = (req.input.params ?? {}) as Record<string, unknown>;
  const n = typeof params.numWorkers === 'number' ? params.numWorkers : typeof params.maxConcurrent === 'number' ? params.maxConcurrent : 1;
  return Math.max(1, Math.floor(n));
}

function clusterSpec(req: JobRequest, capacity: CapacityLabels, prometheus = false): RayClusterSpec {
  const { cpu, memory, gpu, spot } = req.resources;
  const podLabels = { ...req.labels, [ROLE_LABEL]: ROLES.job };
  // The pipeline's own identity: writes only its artifacts (core/kuberay/identity.ts, infra/eks-access.ts).
  const serviceAccountName = jobServiceAccountFor(req.identity.pipeline);
  const scrape = prometheus ? { annotations: { ...PROMETHEUS_SCRAPE_ANNOTATIONS } } : {};
  const workers = workerCount(req);
  return {
    // A stage's cluster is sized for the stage up front; no autoscaler pod to start or pay for.
    enableInTreeAutoscaling: false,
    headGroupSpec: {
      rayStartParams: {},
      // The head holds the GCS and the driver: losing it loses the job, so it never runs on spot.
      template: podTemplate({ container: 'ray-head', image: req.image, cpu, memory, spot: false, capacity, labels: podLabels, serviceAccountName, ...scrape }),
    },
    workerGroupSpecs: [
      {
        groupName: WORKER_GROUP,
        replicas: workers,
        minReplicas: workers,
        maxReplicas: workers,
        rayStartParams: {},
        template: podTemplate({ container: 'ray-worker', image: req.image, cpu, memory, gpu, spot, capacity, labels: podLabels, serviceAccountName, ...scrape }),
      },
    ],
  };
}

export function rayJobFor(req: JobRequest, opts: RayJobOptions): RayJobManifest {
  const entrypoint = entrypointFor(req.module);
  // KubeRay parses runtimeEnvYAML (as YAML 1.1) and the operator sends it to Ray as a JSON object.
  const runtimeEnvYAML = runtimeEnvYAMLFor(req);
  const common = {
    entrypoint,
    // The Ray submission id is the RayJob name, as on the Ray Jobs backend.
    jobId: req.jobId,
    metadata: { ...req.labels },
    runtimeEnvYAML,
    submissionMode: SUBMISSION_MODE,
    // Step Functions retries a failed stage as a new attempt (new name, same stage folder); KubeRay must not.
    backoffLimit: 0,
    activeDeadlineSeconds: req.timeoutSeconds,
  };
  let spec: RayJobSpec;
  if (req.cluster.mode === 'run') {
    // The run's own cluster (core/kuberay/raycluster.ts), created before the job and deleted when the run ends:
    // the job must not shut it down. Kueue admits the cluster, not the job (a clusterSelector job cannot suspend).
    spec = { ...common, clusterSelector: { [CLUSTER_SELECTOR_KEY]: runClusterNameFor(req.identity.pipeline, req.identity.runId) }, shutdownAfterJobFinishes: false };
  } else if (req.cluster.mode === 'existing') {
    const cluster = req.cluster.selector[CLUSTER_SELECTOR_KEY];
    if (!cluster) throw validationFailed(`must name the RayCluster as "${CLUSTER_SELECTOR_KEY}: <name>" (the only key KubeRay reads)`, 'cluster.selector');
    // Not our cluster: never shut it down after the job.
    spec = { ...common, clusterSelector: { ...req.cluster.selector }, shutdownAfterJobFinishes: false };
  } else {
    spec = {
      ...common,
      shutdownAfterJobFinishes: true,
      ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished ?? DEFAULT_TTL_SECONDS_AFTER_FINISHED,
      rayClusterSpec: clusterSpec(req, opts.capacity ?? KARPENTER, opts.prometheus),
      // Kueue unsuspends the job when it admits its workload.
      ...(opts.kueue ? { suspend: true } : {}),
    };
  }
  const kueue = opts.kueue && req.cluster.mode === 'ephemeral' ? kueueLabels(opts.kueue) : {};
  return {
    apiVersion: RAY_API_VERSION,
    kind: 'RayJob',
    metadata: {
      name: req.jobId,
      namespace: opts.namespace,
      // In flight until the watcher settles it (core/watch-jobs.ts): what the watcher's label selector finds.
      labels: { ...req.labels, ...kueue, [IN_FLIGHT_LABEL]: IN_FLIGHT },
      annotations: { [ANNOTATIONS.specHash]: requestHash(req) },
    },
    spec,
  };
}
