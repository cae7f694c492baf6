// The Kubernetes API client of the Lambdas: HTTPS with the cluster CA, a bearer token asked for per request (EKS
// tokens expire; the provider caches), kept-alive connections, every call retried by retry.ts and counted.
//
// Deliberately not @kubernetes/client-node at run time: bundled, it adds about 1.3 MB to every Lambda (its own undici
// copy ~715 KB, the generated models ~350 KB, ws/socks/tar for exec and cp), against a 400 KB budget, for five REST
// calls. The tests use client-node's KubeConfig and typed APIs against the same endpoint description (test/k8s).
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { DEFAULT_RETRY, withRetry, type KubeStatus, type RetryPolicy } from './retry.js';
import { RAY_GROUP, RAY_VERSION } from '../../core/kuberay/meta.js';

export type TokenProvider = () => Promise<string>;

/**
 * Wraps each API request (the Lambdas trace each as one X-Ray subsegment: functions/lib/tracing.ts). It sees the
 * method, the path without its query, and the response's status code: never the headers (the bearer token), the
 * query or a body. Must return what `exchange` returns.
 */
export type KubeRequestTracer = <R extends { code: number }>(req: { method: string; path: string }, exchange: () => Promise<R>) => Promise<R>;

export interface KubeEndpoint {
  /** https://… of the API server. */
  server: string;
  /** The cluster CA: PEM text (EKS DescribeCluster gives it base64-encoded: decode first) or a file. */
  ca: { pem: string } | { file: string };
  /** A bearer token, or a function returning the current one. */
  token: string | TokenProvider;
}

/** A non-2xx answer from the API server, with its Status body. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly status: KubeStatus | undefined,
    readonly headers: Record<string, string>,
    what: string,
  ) {
    super(`${what}: HTTP ${code}${status?.reason ? ` ${status.reason}` : ''}${status?.message ? `: ${status.message}` : ''}`);
    this.name = 'KubeApiError';
  }
}

export interface ListPage<T> {
  items: T[];
  metadata?: { continue?: string; resourceVersion?: string };
}

const PATCH_JSON = 'application/json-patch+json';

export class KubeClient {
  /** API requests sent (retries included): what the benchmark reports. */
  calls = 0;
  private readonly base: URL;
  private readonly agent: Agent;

  constructor(
    private readonly ep: KubeEndpoint,
    readonly retry: RetryPolicy = DEFAULT_RETRY,
    private readonly timeoutMs = 30_000,
    private readonly tracer?: KubeRequestTracer,
  ) {
    this.base = new URL(ep.server);
    if (this.base.protocol !== 'https:') throw new Error(`the API server must be https:// (got ${this.base.protocol})`);
    const ca = 'pem' in ep.ca ? ep.ca.pem : readFileSync(ep.ca.file, 'utf8');
    this.agent = new Agent({ keepAlive: true, maxSockets: 32, ca });
  }

  static forEndpoint(ep: KubeEndpoint, retry?: RetryPolicy, tracer?: KubeRequestTracer) {
    return new KubeClient(ep, retry, undefined, tracer);
  }

  /** One HTTP request (no retry): parsed JSON on 2xx, KubeApiError otherwise; network errors are rethrown. */
  async send<T>(method: string, path: string, o: { query?: Record<string, string | number | undefined>; body?: unknown; contentType?: string } = {}): Promise<T> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const token = typeof this.ep.token === 'string' ? this.ep.token : await this.ep.token();
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}` };
    if (payload !== undefined) {
      headers['content-type'] = o.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    this.calls++;
    const exchange = () => new Promise<{ code: number; text: string; headers: Record<string, string> }>((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ code: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: r.headers as Record<string, string> }));
        r.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`${method} ${url.pathname} timed out`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    });
    const res = this.tracer ? await this.tracer({ method, path: url.pathname }, exchange) : await exchange();
    let parsed: unknown;
    try {
      parsed = res.text ? JSON.parse(res.text) : undefined;
    } catch {
      parsed = res.code >= 300 ? { message: res.text.slice(0, 500) } : undefined;
    }
    if (res.code < 200 || res.code >= 300) throw new KubeApiError(res.code, parsed as KubeStatus | undefined, res.headers, `${method} ${url.pathname}`);
    return parsed as T;
  }

  private path(plural: string, namespace: string, name?: string, subresource?: string) {
    const enc = encodeURIComponent;
    return `/apis/${RAY_GROUP}/${RAY_VERSION}/namespaces/${enc(namespace)}/${plural}${name ? `/${enc(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
  }

  get<T>(plural: string, namespace: string, name: string): Promise<T> {
    return withRetry(`get ${plural}/${name}`, () => this.send<T>('GET', this.path(plural, namespace, name)), this.retry);
  }

  list<T>(plural: string, namespace: string, q: { labelSelector?: string; limit?: number; continue?: string }): Promise<ListPage<T>> {
    const query = { labelSelector: q.labelSelector, limit: q.limit, continue: q.continue };
    return withRetry(`list ${plural}`, () => this.send<ListPage<T>>('GET', this.path(plural, namespace), { query }), this.retry);
  }

  create<T>(plural: string, namespace: string, body: unknown, dryRun = false): Promise<T> {
    const name = (body as { metadata?: { name?: string } }).metadata?.name ?? '?';
    const query = { fieldManager: 'sentinel', dryRun: dryRun ? 'All' : undefined };
    return withRetry(`create ${plural}/${name}`, () => this.send<T>('POST', this.path(plural, namespace), { query, body }), this.retry);
  }

  /** RFC 6902 JSON Patch; `subresource` 'status' writes status (KubeRay's part: the Lambdas have no RBAC for it). */
  patch<T>(plural: string, namespace: string, name: string, ops: unknown[], subresource?: 'status'): Promise<T> {
    return withRetry(
      `patch ${plural}/${name}${subresource ? `/${subresource}` : ''}`,
      () => this.send<T>('PATCH', this.path(plural, namespace, name, subresource), { query: { fieldManager: 'sentinel' }, body: ops, contentType: PATCH_JSON }),
      this.retry,
    );
  }

  delete(plural: string, namespace: string, name: string, propagationPolicy: 'Foreground' | 'Background' = 'Foreground'): Promise<unknown> {
    return withRetry(
      `delete ${plural}/${name}`,
      () => this.send('DELETE', this.path(plural, namespace, name), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy } }),
      this.retry,
    );
  }

  /** Closes kept-alive connections (tests, benchmarks; a Lambda keeps them for the next invocation). */
  close() {
    this.agent.destroy();
  }
}
