// The checks KubeRay v1.7's operator runs before it acts on a RayJob or RayService
// (ray-operator/controllers/ray/utils/validation.go at tag v1.7.0), for the fields Sentinel sets, plus the names the
// operator derives from ours. The API server does not run these (the CRDs carry no CEL rules for them): a manifest
// that fails here is stored, then parked by the operator as ValidationFailed. Tests run every manifest through this.
import { parse as parseYaml } from 'yaml';
import { CLUSTER_SELECTOR_KEY } from './meta.js';
import { quoted } from '../errors.js';

/** utils/constant.go: MaxRayClusterNameLength = 53; RayJob and RayService names leave 6 for "-xxxxx". */
export const MAX_RAY_CLUSTER_NAME = 53;
export const MAX_RAY_JOB_NAME = MAX_RAY_CLUSTER_NAME - 6;
export const MAX_RAY_SERVICE_NAME = MAX_RAY_CLUSTER_NAME - 6;

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export const isDns1035Label = (s: string) => s.length <= 63 && DNS1035.test(s);
export const isDns1123Label = (s: string) => s.length <= 63 && DNS1123_LABEL.test(s);
export const isLabelValue = (s: string) => s === '' || (s.length <= 63 && LABEL_NAME.test(s));
export function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]!];
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return false;
  return name!.length > 0 && name!.length <= 63 && LABEL_NAME.test(name!);
}

interface Group {
  groupName?: string;
  replicas?: number;
  minReplicas?: number;
  maxReplicas?: number;
  rayStartParams?: Record<string, string>;
  resources?: Record<string, string>;
  labels?: Record<string, string>;
  idleTimeoutSeconds?: number;
  template?: { metadata?: { labels?: Record<string, string> }; spec?: { containers?: Array<{ env?: Array<{ name: string; value?: string }> }>; restartPolicy?: string } };
}
interface ClusterSpec {
  enableInTreeAutoscaling?: boolean;
  headGroupSpec?: Group & { headService?: { metadata?: { name?: string } } };
  workerGroupSpecs?: Group[];
}

function labelProblems(where: string, labels: Record<string, string> | undefined): string[] {
  return Object.entries(labels ?? {}).flatMap(([k, v]) => [
    ...(isQualifiedName(k) ? [] : [`${where}: invalid label key ${quoted(k)}`]),
    ...(isLabelValue(v) ? [] : [`${where}: invalid label value ${quoted(v)} for ${quoted(k)}`]),
  ]);
}

function groupProblems(name: string, g: Group): string[] {
  const p: string[] = [];
  const params = g.rayStartParams ?? {};
  if (['num-cpus', 'num-gpus', 'memory', 'resources'].some((k) => params[k]) && Object.keys(g.resources ?? {}).length) {
    p.push(`${name}: resource fields set in both rayStartParams and resources`);
  }
  if ('labels' in params) p.push(`${name}: rayStartParams['labels'] is not supported`);
  p.push(...labelProblems(`${name} labels`, g.labels));
  // Not a validation.go rule, but the pods KubeRay creates from the template would be refused with these labels.
  p.push(...labelProblems(`${name} pod template`, g.template?.metadata?.labels));
  if (!g.template?.spec?.containers?.length) p.push(`${name}: needs at least one container`);
  return p;
}

/** ValidateRayClusterSpec, for the fields Sentinel uses. */
export function clusterSpecProblems(spec: ClusterSpec): string[] {
  const p: string[] = [];
  if (!spec.headGroupSpec) return ['headGroupSpec is required'];
  p.push(...groupProblems('head group', spec.headGroupSpec));
  const autoscaling = spec.enableInTreeAutoscaling === true;
  for (const w of spec.workerGroupSpecs ?? []) {
    const name = `worker group ${w.groupName ?? '?'}`;
    p.push(...groupProblems(name, w));
    // Worker group names become part of pod names (and NetworkPolicy names, where v1.7 requires DNS-1123).
    if (!w.groupName || !isDns1123Label(w.groupName)) p.push(`${name}: group name must be a DNS-1123 label`);
    if (!autoscaling && (w.minReplicas === undefined || w.maxReplicas === undefined)) p.push(`${name}: must set both minReplicas and maxReplicas when autoscaling is disabled`);
    if ((w.minReplicas ?? 0) < 0 || (w.maxReplicas ?? 0) < 0) p.push(`${name}: negative replicas`);
    if (w.minReplicas !== undefined && w.maxReplicas !== undefined && w.minReplicas > w.maxReplicas) p.push(`${name}: minReplicas > maxReplicas`);
    if (w.idleTimeoutSeconds !== undefined) p.push(`${name}: idleTimeoutSeconds needs autoscaler v2`);
  }
  const headEnv = spec.headGroupSpec.template?.spec?.containers?.[0]?.env ?? [];
  const v2 = headEnv.find((e) => e.name === 'RAY_enable_autoscaler_v2');
  if (!autoscaling && v2 && (v2.value === '1' || v2.value === 'true')) p.push('RAY_enable_autoscaler_v2 set while autoscaling is disabled');
  if (headEnv.some((e) => e.name === 'RAY_REDIS_ADDRESS')) p.push('RAY_REDIS_ADDRESS needs gcsFaultToleranceOptions');
  return p;
}

interface RayJobSpecLike {
  suspend?: boolean;
  shutdownAfterJobFinishes?: boolean;
  ttlSecondsAfterFinished?: number;
  deletionStrategy?: unknown;
  rayClusterSpec?: ClusterSpec;
  clusterSelector?: Record<string, string>;
  submissionMode?: string;
  backoffLimit?: number;
  runtimeEnvYAML?: string;
  activeDeadlineSeconds?: number;
  preRunningDeadlineSeconds?: number;
  submitterPodTemplate?: unknown;
  submitterConfig?: unknown;
}

/** A manifest as plain data (what we build, or what a YAML file holds). */
export interface ManifestLike {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: unknown;
}

/** ValidateRayJobMetadata + ValidateRayJobSpec; [] when KubeRay v1.7 accepts the RayJob. */
export function rayJobProblems(o: ManifestLike): string[] {
  const p: string[] = [];
  const name = o.metadata.name;
  if (name.length > MAX_RAY_JOB_NAME) p.push(`name ${quoted(name)} is longer than ${MAX_RAY_JOB_NAME} characters`);
  if (!isDns1035Label(name)) p.push(`name ${quoted(name)} is not a DNS-1035 label`);
  p.push(...labelProblems('metadata.labels', o.metadata.labels));
  const s = (o.spec ?? {}) as RayJobSpecLike;
  const selectorMode = Object.keys(s.clusterSelector ?? {}).length > 0;
  if (s.suspend && !s.shutdownAfterJobFinishes) p.push('suspend needs shutdownAfterJobFinishes');
  if ((s.ttlSecondsAfterFinished ?? 0) < 0) p.push('ttlSecondsAfterFinished must be non-negative');
  if (!s.shutdownAfterJobFinishes && (s.ttlSecondsAfterFinished ?? 0) > 0) p.push('ttlSecondsAfterFinished needs shutdownAfterJobFinishes');
  if (s.deletionStrategy !== undefined) p.push('deletionStrategy needs the RayJobDeletionPolicy feature gate');
  if (s.suspend && selectorMode) p.push('clusterSelector mode does not support suspend');
  if (!s.rayClusterSpec && !selectorMode) p.push('one of rayClusterSpec or clusterSelector must be set');
  if (selectorMode) {
    if (!s.clusterSelector?.[CLUSTER_SELECTOR_KEY]) p.push(`clusterSelector must name the cluster with "${CLUSTER_SELECTOR_KEY}"`);
    if (s.submissionMode === 'SidecarMode') p.push('clusterSelector is not supported in SidecarMode');
    if ((s.backoffLimit ?? 0) > 0) p.push('backoffLimit is incompatible with clusterSelector');
  }
  if (s.submissionMode === 'InteractiveMode' && (s.backoffLimit ?? 0) > 0) p.push('backoffLimit is incompatible with InteractiveMode');
  if (s.submissionMode === 'SidecarMode' && (s.submitterPodTemplate || s.submitterConfig)) p.push('SidecarMode does not support a submitter template/config');
  if (s.rayClusterSpec) p.push(...clusterSpecProblems(s.rayClusterSpec));
  if (s.runtimeEnvYAML) {
    try {
      const env: unknown = parseYaml(s.runtimeEnvYAML);
      if (env !== null && (typeof env !== 'object' || Array.isArray(env))) p.push('runtimeEnvYAML must be a mapping');
    } catch (e) {
      p.push(`runtimeEnvYAML is not YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (s.activeDeadlineSeconds !== undefined && s.activeDeadlineSeconds <= 0) p.push('activeDeadlineSeconds must be positive');
  if (s.preRunningDeadlineSeconds !== undefined && s.preRunningDeadlineSeconds <= 0) p.push('preRunningDeadlineSeconds must be positive');
  if ((s.backoffLimit ?? 0) < 0) p.push('backoffLimit must be non-negative');
  // Names the operator derives: RayCluster "<name>-xxxxx" (validated like a RayCluster), Service "<name>-head-svc".
  if (!selectorMode && `${name}-xxxxx`.length > MAX_RAY_CLUSTER_NAME) p.push('derived RayCluster name too long');
  if (!isDns1035Label(`${name}-head-svc`)) p.push('derived head Service name is not a DNS-1035 label');
  return p;
}

/** ValidateRayClusterMetadata + ValidateRayClusterSpec; [] when KubeRay v1.7 accepts the RayCluster. */
export function rayClusterProblems(o: ManifestLike): string[] {
  const p: string[] = [];
  const name = o.metadata.name;
  if (name.length > MAX_RAY_CLUSTER_NAME) p.push(`name ${quoted(name)} is longer than ${MAX_RAY_CLUSTER_NAME} characters`);
  if (!isDns1035Label(name)) p.push(`name ${quoted(name)} is not a DNS-1035 label`);
  p.push(...labelProblems('metadata.labels', o.metadata.labels));
  if (!o.spec) p.push('spec is required');
  else p.push(...clusterSpecProblems(o.spec as ClusterSpec));
  if (!isDns1035Label(`${name}-head-svc`)) p.push('derived head Service name is not a DNS-1035 label');
  return p;
}

interface RayServiceSpecLike {
  rayClusterConfig?: ClusterSpec;
  upgradeStrategy?: { type?: string };
  rayClusterDeletionDelaySeconds?: number;
  serveConfigV2?: string;
}

/** ValidateRayServiceMetadata + ValidateRayServiceSpec; [] when KubeRay v1.7 accepts the RayService. */
export function rayServiceProblems(o: ManifestLike): string[] {
  const p: string[] = [];
  const name = o.metadata.name;
  if (name.length > MAX_RAY_SERVICE_NAME) p.push(`name ${quoted(name)} is longer than ${MAX_RAY_SERVICE_NAME} characters`);
  if (!isDns1035Label(name)) p.push(`name ${quoted(name)} is not a DNS-1035 label`);
  p.push(...labelProblems('metadata.labels', o.metadata.labels));
  const s = (o.spec ?? {}) as RayServiceSpecLike;
  if (!s.rayClusterConfig) p.push('rayClusterConfig is required');
  else {
    p.push(...clusterSpecProblems(s.rayClusterConfig));
    if (s.rayClusterConfig.headGroupSpec?.headService?.metadata?.name) p.push('headService name must not be set');
  }
  const type = s.upgradeStrategy?.type;
  if (type !== undefined && !['NewCluster', 'NewClusterWithIncrementalUpgrade', 'None'].includes(type)) p.push(`upgradeStrategy.type ${type} is invalid`);
  if ((s.rayClusterDeletionDelaySeconds ?? 0) < 0) p.push('rayClusterDeletionDelaySeconds must be non-negative');
  if (s.serveConfigV2 !== undefined) {
    try {
      parseYaml(s.serveConfigV2);
    } catch {
      p.push('serveConfigV2 is not YAML');
    }
  }
  if (!isDns1035Label(`${name}-serve-svc`) || !isDns1035Label(`${name}-head-svc`)) p.push('derived Service names are not DNS-1035 labels');
  return p;
}
