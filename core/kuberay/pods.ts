// Pod templates for Ray heads and workers: image, resources, GPU, and where they may run.
//
// Placement uses Karpenter's well-known label `karpenter.sh/capacity-type` (values `on-demand` / `spot`). It is what
// EKS Auto Mode and Karpenter NodePools put on every node and what they provision from, so a nodeSelector on it makes
// the right capacity appear; managed node groups label `eks.amazonaws.com/capacityType` (ON_DEMAND/SPOT) instead, so a
// cluster on managed node groups sets `capacity: EKS_MANAGED_NODE_GROUPS` when building manifests.
import { validationFailed } from '../errors.js';

export interface CapacityLabels {
  key: string;
  onDemand: string;
  spot: string;
}
export const KARPENTER: CapacityLabels = { key: 'karpenter.sh/capacity-type', onDemand: 'on-demand', spot: 'spot' };
export const EKS_MANAGED_NODE_GROUPS: CapacityLabels = { key: 'eks.amazonaws.com/capacityType', onDemand: 'ON_DEMAND', spot: 'SPOT' };

export const GPU_RESOURCE = 'nvidia.com/gpu';

/**
 * Ray's own metrics (tasks, actors, object store, Ray Train/Tune/Serve) are exported in Prometheus format by every
 * Ray node on its metrics-export-port, which KubeRay sets to 8080 and names `metrics` on head and worker containers.
 * These annotations are the scrape convention of Prometheus' Kubernetes pod discovery (docs/deploying.md, "Ray's
 * metrics"); with the Prometheus Operator, a PodMonitor on the managed-by label and port `metrics` does the same.
 */
export const RAY_METRICS_PORT = 8080;
export const PROMETHEUS_SCRAPE_ANNOTATIONS: Readonly<Record<string, string>> = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(RAY_METRICS_PORT),
  'prometheus.io/path': '/metrics',
};

export interface Toleration {
  key: string;
  operator: 'Exists' | 'Equal';
  value?: string;
  effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule';
}

/**
 * Spot pools are often tainted so that only interruption-tolerant pods land there, and GPU nodes are tainted
 * `nvidia.com/gpu` (EKS accelerated AMIs, Karpenter GPU NodePools). Tolerating a taint that is absent is harmless.
 */
const spotToleration = (c: CapacityLabels): Toleration => ({ key: c.key, operator: 'Equal', value: c.spot, effect: 'NoSchedule' });
const GPU_TOLERATION: Toleration = { key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' };

/** Kubernetes CPU quantity from a number of cores: 1 → "1", 0.25 → "250m". */
export function cpuQuantity(cores: number): string {
  if (!(cores > 0) || !Number.isFinite(cores)) throw validationFailed(`${cores} is not a positive number of CPUs`, 'resources.cpu');
  return Number.isInteger(cores) ? String(cores) : `${Math.ceil(cores * 1000)}m`;
}

export interface PodSpecInput {
  container: 'ray-head' | 'ray-worker';
  image: string;
  cpu: number;
  memory: string;
  gpu?: number;
  spot: boolean;
  capacity: CapacityLabels;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  /** The pod's identity (core/kuberay/identity.ts): a pipeline's job or Serve ServiceAccount. */
  serviceAccountName?: string;
}

export function podTemplate(p: PodSpecInput) {
  const quantities: Record<string, string> = { cpu: cpuQuantity(p.cpu), memory: p.memory };
  if (p.gpu) quantities[GPU_RESOURCE] = String(p.gpu);
  const tolerations: Toleration[] = [];
  if (p.spot) tolerations.push(spotToleration(p.capacity));
  if (p.gpu) tolerations.push(GPU_TOLERATION);
  return {
    metadata: { labels: { ...p.labels }, ...(p.annotations ? { annotations: { ...p.annotations } } : {}) },
    spec: {
      ...(p.serviceAccountName ? { serviceAccountName: p.serviceAccountName } : {}),
      containers: [
        {
          name: p.container,
          image: p.image,
          // Requests = limits: Guaranteed QoS, so the kubelet evicts these pods last under node pressure.
          resources: { requests: { ...quantities }, limits: { ...quantities } },
        },
      ],
      nodeSelector: { [p.capacity.key]: p.spot ? p.capacity.spot : p.capacity.onDemand },
      ...(tolerations.length ? { tolerations } : {}),
    },
  };
}

export type PodTemplate = ReturnType<typeof podTemplate>;
