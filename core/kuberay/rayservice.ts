// The pipeline's RayService: serveConfigV2 is the YAML of the same ServeConfig the local backend PUTs to Serve's REST
// API, and the Ray cluster is sized from that config's autoscaling bounds.
//
// Promotion is blue/green: the run id is stamped on the head pod template, so a new model changes rayClusterConfig
// and KubeRay's NewCluster strategy builds a fresh cluster with the new config, switches the serve Service to it only
// once its application is RUNNING, then deletes the old one. A model that fails to deploy never replaces the
// champion, and "which run is serving" is answered by the active cluster's own spec (see status.ts).
import { stringify } from 'yaml';
import { SERVE_INGRESS_ENV, type ServeConfig } from '../serve-config.js';
import { validationFailed } from '../errors.js';
import { ANNOTATIONS, MANAGED_BY, MANAGED_BY_LABEL, PIPELINE_LABEL, RAY_API_VERSION, specHash, type KubeObject } from './meta.js';
import { KARPENTER, podTemplate, PROMETHEUS_SCRAPE_ANNOTATIONS, type CapacityLabels, type PodTemplate } from './pods.js';
import type { RayClusterSpec } from './rayjob.js';
import { ROLE_LABEL, ROLES, serveServiceAccountFor } from './identity.js';

export const SERVE_PORT = 8000;
export const SERVE_WORKER_GROUP = 'serve';
export const UPGRADE_STRATEGY = 'NewCluster';

export interface RayServiceOptions {
  pipeline: string;
  namespace: string;
  image: string;
  config: ServeConfig;
  capacity?: CapacityLabels;
  /** Memory per serve worker pod. */
  workerMemory?: string;
  /** Annotate the serving cluster's Ray pods for Prometheus to scrape Ray's (and Serve's) metrics. */
  prometheus?: boolean;
}

export interface RayServiceSpec {
  upgradeStrategy: { type: string };
  serveConfigV2: string;
  /** The same cluster shape a RayJob's ephemeral cluster has; the serving cluster always autoscales. */
  rayClusterConfig: RayClusterSpec & { enableInTreeAutoscaling: boolean };
}

export type RayServiceManifest = KubeObject<RayServiceSpec> & {
  metadata: { namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: RayServiceSpec;
};

/** The RayService of a pipeline is named after it (spec names are ≤ 24 chars, DNS-1035: within KubeRay's 47). */
export const rayServiceNameFor = (pipeline: string) => pipeline;

/** The run whose model a serve config serves (every application of a pipeline's config carries it in its args). */
export function runOfConfig(config: ServeConfig): string | undefined {
  return config.applications.find((a) => a.args?.run_id)?.args.run_id;
}

/** Worker pods that hold `min`..`max` replicas of every deployment at `num_cpus` each. */
function serveWorkers(config: ServeConfig) {
  let minCpus = 0;
  let maxCpus = 0;
  let largest = 0;
  for (const app of config.applications) {
    for (const d of app.deployments) {
      const cpus = d.ray_actor_options.num_cpus;
      minCpus += d.autoscaling_config.min_replicas * cpus;
      maxCpus += d.autoscaling_config.max_replicas * cpus;
      largest = Math.max(largest, cpus);
    }
  }
  const podCpu = Math.max(1, Math.ceil(largest));
  const min = Math.max(1, Math.ceil(minCpus / podCpu));
  return { podCpu, min, max: Math.max(min, Math.ceil(maxCpus / podCpu)) };
}

/** The serving cluster's Ray processes start with Serve's ingress settings (HAProxy straight to the replicas). */
function withServeEnv<T extends PodTemplate>(template: T): T {
  const env = Object.entries(SERVE_INGRESS_ENV).map(([name, value]) => ({ name, value }));
  return { ...template, spec: { ...template.spec, containers: template.spec.containers.map((c) => ({ ...c, env })) } };
}

export function rayServiceFor(o: RayServiceOptions): RayServiceManifest {
  const name = rayServiceNameFor(o.pipeline);
  const runId = runOfConfig(o.config);
  if (!runId) throw validationFailed('the serve config names no run (applications[].args.run_id)', 'serveConfig');
  const capacity = o.capacity ?? KARPENTER;
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY, [PIPELINE_LABEL]: o.pipeline };
  // Serve listens on every pod address in the cluster; KubeRay's serve Service targets port 8000.
  const serveConfigV2 = stringify({ http_options: { host: '0.0.0.0', port: SERVE_PORT }, applications: o.config.applications });
  const workers = serveWorkers(o.config);
  // Serve pods run as the pipeline's read-only identity (core/kuberay/identity.ts) and are what the serve policy opens.
  const podLabels = { ...labels, [ROLE_LABEL]: ROLES.serve };
  const serviceAccountName = serveServiceAccountFor(o.pipeline);
  const spec: RayServiceSpec = {
    upgradeStrategy: { type: UPGRADE_STRATEGY },
    serveConfigV2,
    rayClusterConfig: {
      // Serve's replica autoscaling asks for more workers; the in-tree autoscaler adds pods within the bounds below.
      enableInTreeAutoscaling: true,
      headGroupSpec: {
        // No replicas on the head: it holds the GCS and the controller, and stays small and on-demand.
        rayStartParams: { 'num-cpus': '0' },
        template: withServeEnv(podTemplate({
          container: 'ray-head', image: o.image, cpu: 1, memory: '2Gi', spot: false, capacity, labels: podLabels, serviceAccountName,
          annotations: { [ANNOTATIONS.run]: runId, ...(o.prometheus ? PROMETHEUS_SCRAPE_ANNOTATIONS : {}) },
        })),
      },
      workerGroupSpecs: [
        {
          groupName: SERVE_WORKER_GROUP,
          replicas: workers.min,
          minReplicas: workers.min,
          maxReplicas: workers.max,
          rayStartParams: {},
          // Serving stays on on-demand capacity: a reclaimed replica is a failed request.
          template: withServeEnv(podTemplate({ container: 'ray-worker', image: o.image, cpu: workers.podCpu, memory: o.workerMemory ?? '2Gi', spot: false, capacity, labels: podLabels, serviceAccountName, ...(o.prometheus ? { annotations: { ...PROMETHEUS_SCRAPE_ANNOTATIONS } } : {}) })),
        },
      ],
    },
  };
  return {
    apiVersion: RAY_API_VERSION,
    kind: 'RayService',
    metadata: { name, namespace: o.namespace, labels, annotations: { [ANNOTATIONS.run]: runId, [ANNOTATIONS.specHash]: specHash(spec) } },
    spec,
  };
}
