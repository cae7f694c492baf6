// The Ray Serve config for a pipeline's model. One builder: locally it is PUT to the Ray dashboard's Serve REST API;
// on Kubernetes it becomes the RayService's serveConfigV2. Same schema (Ray's ServeDeploySchema), same content.
import type { PipelineSpec } from './spec.js';

/** The deployment name every Sentinel Serve app has (sentinel_sdk.serving.build_app keeps it for a user's app). */
export const SERVE_DEPLOYMENT = 'ModelServer';

export interface ServeApplication {
  name: string;
  route_prefix: string;
  /** The spec's serve.app (`module:attr`), default sentinel_sdk.serving:app. */
  import_path: string;
  args: { model_uri: string; run_id: string; pipeline: string };
  /** With spec.code: the pipeline's modules on the replicas' PYTHONPATH. */
  runtime_env?: { env_vars: Record<string, string> };
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
    import_path: spec.serve.app,
    args: { model_uri: model.modelUri, run_id: model.runId, pipeline: spec.name },
    ...(spec.code ? { runtime_env: { env_vars: { PYTHONPATH: spec.code } } } : {}),
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
