// The run's own RayCluster (spec cluster mode `run`, the default on KubeRay): created once, at the run's first
// submit, and selected by every stage's RayJob (`clusterSelector: {ray.io/cluster: <name>}`), so a run pays one
// cluster cold start instead of one per stage. Deleted when the run ends (ComputePort.endRun, from finish-run and
// execution-ended); a cluster left behind (a submit racing the run's end) is idle and the reaper deletes it.
//
// - KubeRay's in-tree autoscaler is on: one worker group per distinct stage shape (cpu, memory, GPU, spot), each from
//   0 up to the most workers a stage of that shape runs; Ray's autoscaler adds workers while a stage's tasks ask for
//   them and removes them when idle (autoscalerOptions.idleTimeoutSeconds).
// - The head holds the GCS and every stage's driver: on-demand, no GPU, sized for the largest stage, and 0 logical
//   CPUs for tasks (num-cpus 0), so a stage's tasks are demand for its worker group (test/k8s/autoscale.test.ts runs
//   Ray's own KubeRay autoscaler against it: docs/autoscaling.md).
// - Identity (core/kuberay/identity.ts): the pods run as the pipeline's job ServiceAccount, whose token is not
//   mounted; the head alone mounts it, because its autoscaler sidecar calls the API server (KubeRay binds its
//   autoscaler Role, named after the cluster, to the head's ServiceAccount). Workers stay without a token.
// - Kueue (core/kuberay/kueue.ts): with a queue, the cluster carries its labels and is created suspended, for Kueue
//   to admit; its jobs then wait for that admission (the reaper and resume leave Kueue's clusters alone).
// - NetworkPolicies select the pods by the managed-by label, which the run labels carry.
import type { JobRequest, RunStageShape } from '../ports.js';
import { runClusterNameFor, runLabelsFor } from '../names.js';
import { ANNOTATIONS, RAY_API_VERSION, specHash, type KubeObject } from './meta.js';
import { jobServiceAccountFor, ROLE_LABEL, ROLES } from './identity.js';
import { kueueLabels, type KueueOptions } from './kueue.js';
import { KARPENTER, podTemplate, PROMETHEUS_SCRAPE_ANNOTATIONS, type CapacityLabels, type PodTemplate } from './pods.js';

/** Ray's autoscaler removes a worker idle this long (a stage's workers go soon after the stage). */
export const RUN_CLUSTER_WORKER_IDLE_SECONDS = 60;

/** The worker group of a cluster sized from one stage's request (no runStages). */
const WORKERS = 'workers';

/** The worker-group shape key: stages with equal resources share a group. */
const shapeKey = (r: RunStageShape['resources']) => JSON.stringify([r.cpu, r.memory, r.gpu ?? 0, r.spot]);

const UNITS: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
/** A Kubernetes quantity in base units (bytes for memory), for comparing; NaN when it is not one. */
export function quantityValue(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q);
  return m ? Number(m[1]) * UNITS[m[2] ?? '']! : Number.NaN;
}

/** The run's stages as the cluster sizes for them: the request's `runStages`, else its own stage alone. */
export function stagesOf(req: JobRequest): RunStageShape[] {
  if (req.runStages?.length) return req.runStages;
  const params = (req.input.params ?? {}) as Record<string, unknown>;
  const n = typeof params.numWorkers === 'number' ? params.numWorkers : typeof params.maxConcurrent === 'number' ? params.maxConcurrent : 1;
  return [{ stage: req.identity.stage, resources: req.resources, workers: Math.max(1, Math.floor(n)) }];
}

export interface RunClusterOptions {
  namespace: string;
  capacity?: CapacityLabels;
  prometheus?: boolean;
  kueue?: KueueOptions;
  /** autoscalerOptions.idleTimeoutSeconds (default RUN_CLUSTER_WORKER_IDLE_SECONDS): tests make it short. */
  workerIdleSeconds?: number;
}

type RunPodTemplate = PodTemplate & { spec: PodTemplate['spec'] & { automountServiceAccountToken?: boolean } };

export interface RunClusterSpec {
  enableInTreeAutoscaling: true;
  autoscalerOptions: { upscalingMode: 'Default'; idleTimeoutSeconds: number };
  suspend?: boolean;
  headGroupSpec: { rayStartParams: Record<string, string>; template: RunPodTemplate };
  workerGroupSpecs: Array<{ groupName: string; replicas: number; minReplicas: number; maxReplicas: number; rayStartParams: Record<string, string>; template: PodTemplate }>;
}

export type RayClusterManifest = KubeObject<RunClusterSpec> & {
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: RunClusterSpec;
};

/** The RayCluster a run's jobs share, built from any of its stage requests (all give the same manifest). */
export function runClusterFor(req: JobRequest, opts: RunClusterOptions): RayClusterManifest {
  const { pipeline, runId } = req.identity;
  const name = runClusterNameFor(pipeline, runId);
  const capacity = opts.capacity ?? KARPENTER;
  const labels = runLabelsFor(pipeline, runId);
  const podLabels = { ...labels, [ROLE_LABEL]: ROLES.job };
  const serviceAccountName = jobServiceAccountFor(pipeline);
  const scrape = opts.prometheus ? { annotations: { ...PROMETHEUS_SCRAPE_ANNOTATIONS } } : {};
  const stages = stagesOf(req);
  const cpu = Math.max(...stages.map((s) => s.resources.cpu));
  const memory = stages.map((s) => s.resources.memory).reduce((a, b) => (quantityValue(b) > quantityValue(a) ? b : a));
  const head = podTemplate({ container: 'ray-head', image: req.image, cpu, memory, spot: false, capacity, labels: podLabels, serviceAccountName, ...scrape });
  // Shapes in a fixed order (stage order of first use), so every stage's request builds the same manifest.
  const groups = new Map<string, { stages: string[]; resources: RunStageShape['resources']; workers: number }>();
  for (const s of stages) {
    const g = groups.get(shapeKey(s.resources));
    if (g) {
      g.stages.push(s.stage);
      g.workers = Math.max(g.workers, s.workers);
    } else groups.set(shapeKey(s.resources), { stages: [s.stage], resources: s.resources, workers: Math.max(1, s.workers) });
  }
  const spec: RunClusterSpec = {
    enableInTreeAutoscaling: true,
    autoscalerOptions: { upscalingMode: 'Default', idleTimeoutSeconds: opts.workerIdleSeconds ?? RUN_CLUSTER_WORKER_IDLE_SECONDS },
    ...(opts.kueue ? { suspend: true } : {}),
    headGroupSpec: {
      // No logical CPUs on the head: a stage's tasks (Ray Train workers, Tune trials) then create demand only a
      // worker group satisfies, so the autoscaler scales the stage's group; the drivers (0 CPUs) stay on the head.
      // Without it KubeRay gives the head its container's CPUs and a stage's tasks fit there: no worker ever comes.
      rayStartParams: { 'num-cpus': '0' },
      template: { ...head, spec: { ...head.spec, automountServiceAccountToken: true } },
    },
    workerGroupSpecs: [...groups.values()].map((g) => ({
      // e.g. "ingest-evaluate", "train", "tune": a DNS-1123 label, part of the worker pods' names. Without
      // runStages the one group is "workers", so the run's stages still build one manifest when their shapes agree.
      groupName: req.runStages?.length ? g.stages.join('-') : WORKERS,
      replicas: 0,
      minReplicas: 0,
      maxReplicas: g.workers,
      rayStartParams: {},
      template: podTemplate({ container: 'ray-worker', image: req.image, ...g.resources, capacity, labels: podLabels, serviceAccountName, ...scrape }),
    })),
  };
  return {
    apiVersion: RAY_API_VERSION,
    kind: 'RayCluster',
    metadata: {
      name,
      namespace: opts.namespace,
      labels: { ...labels, ...(opts.kueue ? kueueLabels(opts.kueue) : {}) },
      annotations: { [ANNOTATIONS.specHash]: specHash(spec) },
    },
    spec,
  };
}
