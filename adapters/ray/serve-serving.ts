// ServingPort over Ray Serve's REST API on the dashboard (GET/PUT /api/serve/applications/): the same declarative
// config KubeRay applies from a RayService's serveConfigV2. A PUT replaces every application, so apply() merges the
// pipeline's application into what is deployed.
import type { ServeReplicas, ServeStatus, ServingPort } from '../../core/ports.js';
import { SERVE_DEPLOYMENT, type ServeApplication, type ServeConfig } from '../../core/serve-config.js';
import { ErrorNames, SentinelError } from '../../core/errors.js';
import { requestJson, type RayDashboard } from './http.js';

interface DeploymentDetails {
  status?: string;
  target_num_replicas?: number;
  replicas?: Array<{ replica_id?: string; state?: string }>;
}

interface ServeDetails {
  proxies?: Record<string, { status?: string }>;
  applications?: Record<string, { status?: string; message?: string; deployed_app_config?: ServeApplication | null; deployments?: Record<string, DeploymentDetails> }>;
}

const STATES: readonly ServeStatus['state'][] = ['NOT_STARTED', 'DEPLOYING', 'RUNNING', 'DEPLOY_FAILED', 'UNHEALTHY', 'DELETING'];

export interface RayServeServingOptions {
  dashboard: RayDashboard;
  /** Where Serve's HTTP proxy listens (local: 127.0.0.1:8000). */
  http: { host: string; port: number };
}

export class RayServeServing implements ServingPort {
  constructor(private readonly opts: RayServeServingOptions) {}

  private async details(): Promise<ServeDetails> {
    const res = await requestJson<ServeDetails>(this.opts.dashboard, 'GET', '/api/serve/applications/');
    if (res.status !== 200) throw new SentinelError(ErrorNames.ComputeUnavailable, `GET serve applications → HTTP ${res.status}`, this.opts.dashboard.url);
    return res.body ?? {};
  }

  async apply(pipeline: string, config: ServeConfig) {
    const deployed = Object.entries((await this.details()).applications ?? {})
      .filter(([name, a]) => name !== pipeline && a.deployed_app_config)
      .map(([, a]) => a.deployed_app_config as ServeApplication);
    const body = { http_options: this.opts.http, applications: [...deployed, ...config.applications] };
    const res = await requestJson(this.opts.dashboard, 'PUT', '/api/serve/applications/', body, 60_000);
    if (res.status !== 200) throw new SentinelError(ErrorNames.PromotionFailed, `Serve refused the config: HTTP ${res.status} ${res.text.slice(0, 500)}`, pipeline);
  }

  async status(pipeline: string): Promise<ServeStatus> {
    const app = (await this.details()).applications?.[pipeline];
    if (!app) return { state: 'NOT_STARTED' };
    const state = STATES.includes(app.status as ServeStatus['state']) ? (app.status as ServeStatus['state']) : 'UNKNOWN';
    const runId = app.deployed_app_config?.args?.run_id;
    return { state, ...(app.message ? { message: app.message } : {}), ...(runId ? { runId } : {}) };
  }

  async replicas(pipeline: string): Promise<ServeReplicas | undefined> {
    const app = (await this.details()).applications?.[pipeline];
    const deployment = app?.deployments?.[SERVE_DEPLOYMENT];
    if (!deployment) return undefined;
    const states: Record<string, number> = {};
    for (const r of deployment.replicas ?? []) states[r.state ?? 'UNKNOWN'] = (states[r.state ?? 'UNKNOWN'] ?? 0) + 1;
    const bounds = app.deployed_app_config?.deployments?.find((d) => d.name === SERVE_DEPLOYMENT)?.autoscaling_config;
    return {
      running: states.RUNNING ?? 0,
      target: deployment.target_num_replicas ?? 0,
      ...(bounds ? { min: bounds.min_replicas, max: bounds.max_replicas } : {}),
      states,
    };
  }

  /**
   * Starts Serve's controller and HTTP proxy with no application, so the first promotion only starts a replica.
   * A long-lived serving cluster (the RayService on EKS) has them running already; a fresh local head does not.
   */
  async warmUp(timeoutMs = 60_000) {
    const details = await this.details();
    if (Object.keys(details.applications ?? {}).length === 0) {
      const res = await requestJson(this.opts.dashboard, 'PUT', '/api/serve/applications/', { http_options: this.opts.http, applications: [] }, 60_000);
      if (res.status !== 200) throw new SentinelError(ErrorNames.PromotionFailed, `Serve did not start: HTTP ${res.status} ${res.text.slice(0, 300)}`, 'serve');
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const proxies = Object.values((await this.details()).proxies ?? {});
      if (proxies.some((p) => p.status === 'HEALTHY')) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  endpoint(_pipeline: string, route: string) {
    return `http://${this.opts.http.host}:${this.opts.http.port}${route}`;
  }
}
