// A Kubernetes API client for Sentinel's adapters: a @kubernetes/client-node KubeConfig built from an endpoint, a CA
// and a bearer-token provider (EKS tokens expire, so the token is asked for per request and the provider caches),
// plus the few namespaced custom-object calls the adapters make, each retried by retry.ts and counted.
import { CustomObjectsApi, KubeConfig, ServerConfiguration, createConfiguration, type Cluster, type RequestContext, type User } from '@kubernetes/client-node';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';
import { RAY_GROUP, RAY_VERSION } from '../../core/kuberay/meta.js';

export type TokenProvider = () => Promise<string>;

export interface KubeEndpoint {
  /** https://… of the API server. */
  server: string;
  /** The cluster CA: PEM text (EKS DescribeCluster gives it base64-encoded: decode first) or a file. */
  ca: { pem: string } | { file: string };
  /** A bearer token, or a function returning the current one. */
  token: string | TokenProvider;
}

const USER = 'sentinel';

export function kubeConfigFor(ep: KubeEndpoint): KubeConfig {
  const kc = new KubeConfig();
  const cluster: Cluster = {
    name: 'sentinel',
    server: ep.server,
    skipTLSVerify: false,
    ...('pem' in ep.ca ? { caData: Buffer.from(ep.ca.pem).toString('base64') } : { caFile: ep.ca.file }),
  };
  const user: User = { name: USER };
  kc.loadFromClusterAndUser(cluster, user);
  const token = ep.token;
  kc.addAuthenticator({
    isAuthProvider: (u) => u.name === USER,
    applyAuthentication: async (_u, opts) => {
      const value = typeof token === 'string' ? token : await token();
      opts.headers = { ...opts.headers, Authorization: `Bearer ${value}` };
    },
  });
  return kc;
}

export interface ListPage<T> {
  items: T[];
  metadata?: { continue?: string; resourceVersion?: string };
}

/** The ray.io custom-object calls the adapters make, in one namespace. */
export class KubeClient {
  /** API requests sent (retries included): what the benchmark reports. */
  calls = 0;
  readonly api: CustomObjectsApi;

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('KubeConfig has no current cluster');
    // KubeConfig builds a new connection pool (undici Agent) for every request, so every call would pay a TLS
    // handshake; keep the first one it builds (same server, same CA) and reuse its kept-alive connections.
    let dispatcher: ReturnType<RequestContext['getDispatcher']>;
    const auth = {
      getName: () => 'sentinel',
      applySecurityAuthentication: async (ctx: RequestContext) => {
        await kubeConfig.applySecurityAuthentication(ctx);
        dispatcher ??= ctx.getDispatcher();
        if (dispatcher) ctx.setDispatcher(dispatcher);
      },
    };
    const config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: auth },
      promiseMiddleware: [
        {
          pre: async (ctx) => {
            this.calls++;
            return ctx;
          },
          post: async (res) => res,
        },
      ],
    });
    this.api = new CustomObjectsApi(config);
  }

  static forEndpoint(ep: KubeEndpoint, retry?: RetryPolicy) {
    return new KubeClient(kubeConfigFor(ep), retry);
  }

  private coords(plural: string, namespace: string) {
    return { group: RAY_GROUP, version: RAY_VERSION, plural, namespace };
  }

  get<T>(plural: string, namespace: string, name: string): Promise<T> {
    return withRetry(`get ${plural}/${name}`, () => this.api.getNamespacedCustomObject({ ...this.coords(plural, namespace), name }), this.retry);
  }

  list<T>(plural: string, namespace: string, q: { labelSelector?: string; limit?: number; continue?: string }): Promise<ListPage<T>> {
    return withRetry(
      `list ${plural}`,
      () =>
        this.api.listNamespacedCustomObject({
          ...this.coords(plural, namespace),
          ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
          ...(q.continue ? { _continue: q.continue } : {}),
        }),
      this.retry,
    );
  }

  create<T>(plural: string, namespace: string, body: unknown, dryRun = false): Promise<T> {
    const name = (body as { metadata?: { name?: string } }).metadata?.name ?? '?';
    return withRetry(
      `create ${plural}/${name}`,
      () => this.api.createNamespacedCustomObject({ ...this.coords(plural, namespace), body, fieldManager: 'sentinel', ...(dryRun ? { dryRun: 'All' } : {}) }),
      this.retry,
    );
  }

  /** RFC 6902 JSON Patch (the client's default patch type). */
  patch<T>(plural: string, namespace: string, name: string, ops: unknown[]): Promise<T> {
    return withRetry(
      `patch ${plural}/${name}`,
      () => this.api.patchNamespacedCustomObject({ ...this.coords(plural, namespace), name, body: ops, fieldManager: 'sentinel' }),
      this.retry,
    );
  }

  delete(plural: string, namespace: string, name: string, propagationPolicy: 'Foreground' | 'Background' = 'Foreground'): Promise<unknown> {
    return withRetry(
      `delete ${plural}/${name}`,
      () => this.api.deleteNamespacedCustomObject({ ...this.coords(plural, namespace), name, propagationPolicy }),
      this.retry,
    );
  }
}
