// ServingPort over a KubeRay RayService per pipeline: apply() creates it or patches its spec (serveConfigV2 and the
// cluster config that carries the run id, see core/kuberay/rayservice.ts); status() reads the RayService's conditions
// and application statuses, and the run stamped on the active Ray cluster.
import type { ServeStatus, ServingPort } from '../../core/ports.js';
import type { ServeConfig } from '../../core/serve-config.js';
import { ANNOTATIONS } from '../../core/kuberay/meta.js';
import type { CapacityLabels } from '../../core/kuberay/pods.js';
import { rayServiceFor, rayServiceNameFor, SERVE_PORT, type RayServiceManifest } from '../../core/kuberay/rayservice.js';
import { serveStatusFromRayService, type RayServiceObject } from '../../core/kuberay/status.js';
import type { KubeClient } from './client.js';
import { isAlreadyExists, isConflict, isNotFound, toSentinelError, withConflictRetry } from './retry.js';

const RAYSERVICES = 'rayservices';

export interface RayServiceServingOptions {
  client: KubeClient;
  namespace: string;
  /** The serving image (the spec's image: the jobs package holds the Serve application). */
  image: string;
  capacity?: CapacityLabels;
  /** Annotate the serving cluster's Ray pods for Prometheus (core/kuberay/pods.ts). */
  prometheus?: boolean;
  /** Where clients reach a pipeline's serve Service (default: its in-cluster DNS name). */
  endpointBase?: (pipeline: string) => string;
}

interface RayClusterObject {
  spec?: { headGroupSpec?: { template?: { metadata?: { annotations?: Record<string, string> } } } };
}

export class RayServiceServing implements ServingPort {
  constructor(private readonly o: RayServiceServingOptions) {}

  manifestFor(pipeline: string, config: ServeConfig): RayServiceManifest {
    return rayServiceFor({ pipeline, namespace: this.o.namespace, image: this.o.image, config, ...(this.o.capacity ? { capacity: this.o.capacity } : {}), ...(this.o.prometheus ? { prometheus: true } : {}) });
  }

  private async read<T>(plural: string, name: string): Promise<T | undefined> {
    try {
      return await this.o.client.get<T>(plural, this.o.namespace, name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toSentinelError(e, `${plural}/${name}`);
    }
  }

  async apply(pipeline: string, config: ServeConfig): Promise<void> {
    const want = this.manifestFor(pipeline, config);
    const name = want.metadata.name;
    const { client, namespace } = this.o;
    // Read, decide, write with the resourceVersion read: a concurrent writer makes the write fail with 409 Conflict,
    // and the whole step runs again on a fresh read.
    await withConflictRetry(`RayService ${name}`, async () => {
      const current = await this.read<RayServiceObject>(RAYSERVICES, name);
      if (!current) {
        try {
          await client.create(RAYSERVICES, namespace, want);
          return;
        } catch (e) {
          if (isAlreadyExists(e)) throw e; // created since our read: withConflictRetry reads again
          throw toSentinelError(e, `RayService ${name}`);
        }
      }
      // Unchanged config: no write, no generation bump, no needless cluster rollover.
      if (current.metadata.annotations?.[ANNOTATIONS.specHash] === want.metadata.annotations[ANNOTATIONS.specHash]) return;
      const ops = [
        { op: 'replace', path: '/metadata/resourceVersion', value: current.metadata.resourceVersion },
        { op: 'add', path: '/metadata/labels', value: { ...current.metadata.labels, ...want.metadata.labels } },
        { op: 'add', path: '/metadata/annotations', value: { ...current.metadata.annotations, ...want.metadata.annotations } },
        { op: 'replace', path: '/spec', value: want.spec },
      ];
      try {
        await client.patch(RAYSERVICES, namespace, name, ops);
      } catch (e) {
        if (isConflict(e)) throw e; // written since our read: withConflictRetry reads again
        throw toSentinelError(e, `RayService ${name}`);
      }
    });
  }

  async status(pipeline: string): Promise<ServeStatus> {
    const rs = await this.read<RayServiceObject>(RAYSERVICES, rayServiceNameFor(pipeline));
    // The run each cluster serves is stamped on its head pod template (rayservice.ts): the active cluster's is the
    // run serving now, the pending cluster's (during an upgrade) the run coming up.
    const runOn = async (cluster?: string) =>
      cluster
        ? (await this.read<RayClusterObject>('rayclusters', cluster))?.spec?.headGroupSpec?.template?.metadata?.annotations?.[ANNOTATIONS.run]
        : undefined;
    const [runId, pendingRunId] = await Promise.all([
      runOn(rs?.status?.activeServiceStatus?.rayClusterName),
      runOn(rs?.status?.pendingServiceStatus?.rayClusterName),
    ]);
    return serveStatusFromRayService(rs, pipeline, runId, pendingRunId);
  }

  endpoint(pipeline: string, route: string): string {
    const base = this.o.endpointBase?.(pipeline) ?? `http://${rayServiceNameFor(pipeline)}-serve-svc.${this.o.namespace}.svc.cluster.local:${SERVE_PORT}`;
    return `${base.replace(/\/$/, '')}${route}`;
  }
}
