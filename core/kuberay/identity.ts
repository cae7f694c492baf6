// One identity per use for the Ray pods, and the namespace's guard rails, as plain manifests.
//
// - Each pipeline's RayJob pods run as their own ServiceAccount (`sentinel-job-<pipeline>`), which infra maps by EKS
//   Pod Identity to a role that may write only `artifacts/<pipeline>/*` and read `datasets/<pipeline>/*`. A job never
//   talks to the Kubernetes API (no autoscaler on a stage's cluster), so its token is not mounted.
// - Each pipeline's Serve pods run as `sentinel-serve-<pipeline>`, mapped to a read-only role on
//   `artifacts/<pipeline>/*`. The serving cluster autoscales: KubeRay binds its own autoscaler Role (pods get/list/
//   watch/patch, rayclusters get/patch in the namespace) to the head's ServiceAccount, so that one keeps its token.
//   KubeRay does not create a ServiceAccount that a pod template names (raycluster_controller.go,
//   reconcileAutoscalerServiceAccount): these manifests are how it exists.
// - The namespace enforces Pod Security `baseline` and warns/audits `restricted` (the pod templates set no privileged
//   field; a user's image may run as root, which `restricted` would refuse).
// - NetworkPolicies: Ray's ports (GCS 6379, dashboard/Jobs API 8265, the node-to-node ports) accept Sentinel's Ray pods
//   of the namespace only, plus the KubeRay operator's namespace on the ports it calls (8265 job submission, 52365
//   dashboard agent health, 8000 Serve health); metrics (8080) may be scraped from any namespace; Serve's 8000 is
//   open to the ingress' namespace.
import type { KubeObject } from './meta.js';
import { MANAGED_BY, MANAGED_BY_LABEL, PIPELINE_LABEL } from './meta.js';
import { RAY_METRICS_PORT } from './pods.js';

export const RAY_GCS_PORT = 6379;
export const RAY_DASHBOARD_PORT = 8265;
export const RAY_DASHBOARD_AGENT_PORT = 52365;
/** Same value as rayservice.ts SERVE_PORT (not imported: rayservice.ts imports this module). */
const SERVE_HTTP_PORT = 8000;

/** Pod label that says which use a Ray pod serves: a pipeline's job or its Serve cluster. */
export const ROLE_LABEL = 'sentinel.dev/role';
export const ROLES = { job: 'job', serve: 'serve' } as const;

export const jobServiceAccountFor = (pipeline: string) => `sentinel-job-${pipeline}`;
export const serveServiceAccountFor = (pipeline: string) => `sentinel-serve-${pipeline}`;

export const POD_SECURITY_LABELS: Readonly<Record<string, string>> = {
  'pod-security.kubernetes.io/enforce': 'baseline',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/warn-version': 'latest',
  'pod-security.kubernetes.io/audit': 'restricted',
  'pod-security.kubernetes.io/audit-version': 'latest',
};

const labels = { [MANAGED_BY_LABEL]: MANAGED_BY };
type Manifest = KubeObject<Record<string, unknown>> & Record<string, unknown>;

/** The pipelines' namespace with its Pod Security labels. */
export function namespaceManifest(namespace: string): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { ...labels, ...POD_SECURITY_LABELS } } };
}

/** A pipeline's two ServiceAccounts: its jobs' (no API token) and its Serve cluster's. */
export function serviceAccountsFor(namespace: string, pipeline: string): Manifest[] {
  const meta = (name: string, role: string) => ({ name, namespace, labels: { ...labels, [PIPELINE_LABEL]: pipeline, [ROLE_LABEL]: role } });
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(jobServiceAccountFor(pipeline), ROLES.job), automountServiceAccountToken: false },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(serveServiceAccountFor(pipeline), ROLES.serve) },
  ];
}

export interface NetworkPolicyOptions {
  /** Where the KubeRay operator runs (it submits jobs to 8265 and checks Serve's health). */
  operatorNamespace: string;
  /** Where the ingress (load balancer controller, gateway) that forwards to Serve's 8000 runs. */
  ingressNamespace: string;
}

export const DEFAULT_NETWORK_POLICY_OPTIONS: NetworkPolicyOptions = { operatorNamespace: 'kuberay-system', ingressNamespace: 'ingress' };

const inNamespace = (name: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } } });
const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));

/** Who may reach Sentinel's Ray pods; everything not listed is refused (a NetworkPolicy that selects a pod denies the rest). */
export function networkPolicies(namespace: string, o: NetworkPolicyOptions = DEFAULT_NETWORK_POLICY_OPTIONS): Manifest[] {
  const rayPods = { matchLabels: { [MANAGED_BY_LABEL]: MANAGED_BY } };
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'sentinel-ray', namespace, labels },
      spec: {
        podSelector: rayPods,
        policyTypes: ['Ingress'],
        ingress: [
          // Ray nodes talk to each other on GCS, raylet, object manager and worker ports: Sentinel's Ray pods only.
          { from: [{ podSelector: rayPods }] },
          { from: [inNamespace(o.operatorNamespace)], ports: tcp(RAY_DASHBOARD_PORT, RAY_DASHBOARD_AGENT_PORT, SERVE_HTTP_PORT) },
          { from: [{ namespaceSelector: {} }], ports: tcp(RAY_METRICS_PORT) },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'sentinel-serve', namespace, labels },
      spec: {
        podSelector: { matchLabels: { ...rayPods.matchLabels, [ROLE_LABEL]: ROLES.serve } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [inNamespace(o.ingressNamespace)], ports: tcp(SERVE_HTTP_PORT) }],
      },
    },
  ];
}
