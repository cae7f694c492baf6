// The Ray Serve config for a pipeline's model. One builder: locally it is PUT to the Ray dashboard's Serve REST API;
// on Kubernetes it becomes the RayService's serveConfigV2. Same schema (Ray's ServeDeploySchema), same content.
import type { PipelineSpec } from './spec.js';

export const SERVE_IMPORT_PATH = 'sentinel_jobs.serve:app';
/** The deployment name defined in jobs/sentinel_jobs/serve.py. */
export const SERVE_DEPLOYMENT = 'ModelServer';

export interface ServeApplication {
  name: string;
  route_prefix: string;
  import_path: string;
  args: { model_uri: string; run_id: string; pipeline: string };
  deployments: Array<{
    name: string;
    autoscaling_config: { min_replicas: number; max_replicas: number; target_ongoing_requests: number };
    ray_actor_options: { num_cpus: number };
  }>;
}

export interface ServeConfig {
  http_options?: { host: string; port: number };
  applications: ServeApplication[];
}

export function serveApplicationFor(spec: PipelineSpec, model: { modelUri: string; runId: string }): ServeApplication {
  return {
    name: spec.name,
    route_prefix: spec.serve.route,
    import_path: SERVE_IMPORT_PATH,
    args: { model_uri: model.modelUri, run_id: model.runId, pipeline: spec.name },
    deployments: [
      {
        name: SERVE_DEPLOYMENT,
        autoscaling_config: {
          min_replicas: spec.serve.replicas.min,
          max_replicas: spec.serve.replicas.max,
          target_ongoing_requests: spec.serve.targetOngoingRequests,
        },
        ray_actor_options: { num_cpus: spec.serve.cpusPerReplica },
      },
    ],
  };
}
