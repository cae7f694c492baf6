// TrackingPort over MLflow's REST API (/api/2.0/mlflow/…): experiments, runs, the model registry and its aliases.
// The same calls reach the local server `sentinel run` starts and a team's own server. Failures (connection refused,
// timeouts, 5xx, 429) are ComputeUnavailable; MLflow's own refusals carry its error code (RESOURCE_DOES_NOT_EXIST …).
import type { ModelVersionInfo, TrackingPort, TrackingRun } from '../../core/ports.js';
import { ErrorNames, SentinelError } from '../../core/errors.js';

interface MlflowTag {
  key: string;
  value: string;
}
interface MlflowRun {
  info: { run_id: string; run_name?: string; status: string; artifact_uri?: string };
  data?: { tags?: MlflowTag[] };
}
interface MlflowVersion {
  name: string;
  version: string;
  source?: string;
  run_id?: string;
  tags?: MlflowTag[];
  aliases?: string[];
}

export class MlflowError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'MlflowError';
  }
}

const tagList = (tags: Record<string, string>): MlflowTag[] => Object.entries(tags).map(([key, value]) => ({ key, value: String(value) }));
const tagMap = (tags: MlflowTag[] | undefined): Record<string, string> => Object.fromEntries((tags ?? []).map((t) => [t.key, t.value]));
const toRun = (r: MlflowRun): TrackingRun => ({ runId: r.info.run_id, name: r.info.run_name ?? '', status: r.info.status, tags: tagMap(r.data?.tags) });
const toVersion = (v: MlflowVersion): ModelVersionInfo => ({
  model: v.name,
  version: String(v.version),
  source: v.source ?? '',
  ...(v.run_id ? { runId: v.run_id } : {}),
  tags: tagMap(v.tags),
  aliases: v.aliases ?? [],
});

export interface MlflowRestOptions {
  /** http(s)://host:port of the tracking server. */
  uri: string;
  timeoutMs?: number;
  /** Extra headers (a team server's auth, e.g. Authorization: Bearer …). */
  headers?: Record<string, string>;
}

export class MlflowRest implements TrackingPort {
  readonly uri: string;
  constructor(private readonly o: MlflowRestOptions) {
    this.uri = o.uri.replace(/\/+$/, '');
  }

  private async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: Record<string, unknown>): Promise<T> {
    let url = `${this.uri}/api/2.0/mlflow/${path}`;
    if (method === 'GET' && body) url += `?${new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...(method !== 'GET' ? { 'content-type': 'application/json' } : {}), ...this.o.headers },
        ...(method !== 'GET' && body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000),
      });
    } catch (e) {
      const cause = ((e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message) || 'unreachable';
      throw new SentinelError(ErrorNames.ComputeUnavailable, `MLflow ${method} ${path} failed: ${cause}`, this.uri);
    }
    const text = await res.text();
    if (res.status === 429 || res.status >= 500) {
      throw new SentinelError(ErrorNames.ComputeUnavailable, `MLflow ${method} ${path} → HTTP ${res.status}: ${text.slice(0, 300)}`, this.uri);
    }
    let parsed: { error_code?: string; message?: string } & Record<string, unknown> = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      /* not JSON (an HTML error page) */
    }
    if (!res.ok) throw new MlflowError(`MLflow ${method} ${path} → HTTP ${res.status} ${parsed.error_code ?? ''}: ${parsed.message ?? text.slice(0, 300)}`, res.status, parsed.error_code);
    return parsed as T;
  }

  async experimentId(name: string): Promise<string> {
    const get = async () => {
      try {
        const r = await this.call<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', { experiment_name: name });
        return r.experiment.experiment_id;
      } catch (e) {
        if (e instanceof MlflowError && e.code === 'RESOURCE_DOES_NOT_EXIST') return undefined;
        throw e;
      }
    };
    const found = await get();
    if (found) return found;
    try {
      // experimentKind: MLflow 3's UI opens a classic-ML experiment on its runs (else on GenAI traces).
      const tags = { 'sentinel.pipeline': name, 'mlflow.experimentKind': 'custom_model_development' };
      const r = await this.call<{ experiment_id: string }>('POST', 'experiments/create', { name, tags: tagList(tags) });
      return r.experiment_id;
    } catch (e) {
      // Another handler created it first.
      if (e instanceof MlflowError && e.code === 'RESOURCE_ALREADY_EXISTS') return (await get())!;
      throw e;
    }
  }

  async findRuns(experimentId: string, filter: string, maxResults = 100): Promise<TrackingRun[]> {
    const r = await this.call<{ runs?: MlflowRun[] }>('POST', 'runs/search', {
      experiment_ids: [experimentId],
      filter,
      max_results: maxResults,
      order_by: ['attributes.start_time ASC'],
    });
    return (r.runs ?? []).map(toRun);
  }

  async createRun(experimentId: string, name: string, tags: Record<string, string>): Promise<string> {
    const r = await this.call<{ run: MlflowRun }>('POST', 'runs/create', { experiment_id: experimentId, run_name: name, start_time: Date.now(), tags: tagList(tags) });
    return r.run.info.run_id;
  }

  async log(runId: string, data: { params?: Record<string, string>; metrics?: Record<string, number>; tags?: Record<string, string> }): Promise<void> {
    const now = Date.now();
    const params = Object.entries(data.params ?? {}).map(([key, value]) => ({ key, value: value.slice(0, 6000) }));
    const metrics = Object.entries(data.metrics ?? {})
      .filter(([, v]) => Number.isFinite(v))
      .map(([key, value]) => ({ key, value, timestamp: now, step: 0 }));
    const tags = tagList(data.tags ?? {});
    // log-batch takes at most 100 params and 1000 metrics per request.
    for (let i = 0; i < Math.max(params.length, tags.length, metrics.length, 1); i += 100) {
      const part = { params: params.slice(i, i + 100), metrics: metrics.slice(i, i + 100), tags: tags.slice(i, i + 100) };
      if (!part.params.length && !part.metrics.length && !part.tags.length) break;
      await this.call('POST', 'runs/log-batch', { run_id: runId, ...part });
    }
  }

  async endRun(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void> {
    await this.call('POST', 'runs/update', { run_id: runId, status, end_time: Date.now() });
  }

  async ensureModel(name: string, description: string): Promise<void> {
    try {
      await this.call('POST', 'registered-models/create', { name, description, tags: tagList({ 'sentinel.pipeline': name }) });
    } catch (e) {
      if (!(e instanceof MlflowError && e.code === 'RESOURCE_ALREADY_EXISTS')) throw e;
    }
  }

  async versions(model: string): Promise<ModelVersionInfo[]> {
    const out: ModelVersionInfo[] = [];
    let token: string | undefined;
    do {
      const r = await this.call<{ model_versions?: MlflowVersion[]; next_page_token?: string }>('GET', 'model-versions/search', {
        filter: `name='${model.replace(/'/g, "\\'")}'`,
        max_results: 200,
        ...(token ? { page_token: token } : {}),
      });
      out.push(...(r.model_versions ?? []).map(toVersion));
      token = r.next_page_token || undefined;
    } while (token);
    return out;
  }

  async createVersion(req: { model: string; source: string; runId: string; tags: Record<string, string>; description?: string }): Promise<ModelVersionInfo> {
    const r = await this.call<{ model_version: MlflowVersion }>('POST', 'model-versions/create', {
      name: req.model,
      source: req.source,
      run_id: req.runId,
      tags: tagList(req.tags),
      ...(req.description ? { description: req.description } : {}),
    });
    return toVersion(r.model_version);
  }

  async setAlias(model: string, alias: string, version: string): Promise<void> {
    await this.call('POST', 'registered-models/alias', { name: model, alias, version });
  }

  async byAlias(model: string, alias: string): Promise<ModelVersionInfo | undefined> {
    try {
      const r = await this.call<{ model_version: MlflowVersion }>('GET', 'registered-models/alias', { name: model, alias });
      return toVersion(r.model_version);
    } catch (e) {
      if (e instanceof MlflowError && (e.code === 'RESOURCE_DOES_NOT_EXIST' || e.code === 'INVALID_PARAMETER_VALUE' || e.status === 404)) return undefined;
      throw e;
    }
  }
}
