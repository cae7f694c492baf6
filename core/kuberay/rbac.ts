// Least-privilege RBAC for Sentinel's Lambdas. On EKS each cluster-facing function's IAM role has its own access entry
// and its own Kubernetes group, `<kubernetesGroup>:<function>` (functionGroup); functionRbac() binds each group to a
// Role with only the verbs that function's adapters call (FUNCTION_RULES). The node rights (get/list/patch nodes:
// cordon) and the Eviction API belong to the interruption handler alone, and it evicts only in the namespace.
//
// LAMBDA_RULES / lambdaRbac / spotHandlerRbac below are the union of those rules for one shared group: the test
// harness' single `lambda` identity (tools/kube) uses them; deployments render functionRbac().
//
// Namespaced (the pipelines' namespace): exactly the verbs the adapters call.
//   rayjobs      create, get, list, delete (submit, get, list, stop), patch (mark interrupted)
//   rayservices  create, get, patch (promote: create or patch serveConfigV2; status)
//   rayclusters  create (a run's own cluster, at its first submit), get (the serving cluster's run; an existing
//                cluster named by a spec), list/patch/delete (the idle reaper: find, suspend/resume, delete a
//                finished job's leftover cluster; finish-run and execution-ended: delete the run's cluster)
// No `/status` grant: status arrives with get/list, and writing it would let a caller forge a job's outcome.
// Cluster-wide, for the spot interruption handler: cordon a node (nodes get/list/patch), find its pods (pods list)
// and evict them through the Eviction API (pods/eviction create), which honours PodDisruptionBudgets.
// The idle reaper uses the same nodes/pods list to count Ray pods on a node group's nodes.
import type { KubeObject } from './meta.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from './meta.js';

export const LAMBDA_GROUP = 'sentinel:lambda';
const RBAC = 'rbac.authorization.k8s.io';
const RBAC_V1 = `${RBAC}/v1`;

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export const LAMBDA_RULES: PolicyRule[] = [
  { apiGroups: ['ray.io'], resources: ['rayjobs'], verbs: ['create', 'get', 'list', 'delete', 'patch'] },
  { apiGroups: ['ray.io'], resources: ['rayservices'], verbs: ['create', 'get', 'patch'] },
  { apiGroups: ['ray.io'], resources: ['rayclusters'], verbs: ['create', 'get', 'list', 'patch', 'delete'] },
];

export const SPOT_HANDLER_RULES: PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
  { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
];

/** The functions that call the Kubernetes API (infra reads the same set from the functions' declared grants). */
export const KUBE_FUNCTIONS = ['submit-stage', 'promote', 'finish-run', 'complete-stage', 'watch-jobs', 'handle-interruption', 'reap-idle', 'execution-ended'] as const;
export type KubeFunction = (typeof KUBE_FUNCTIONS)[number];

export interface FunctionRules {
  /** In the pipelines' namespace. */
  namespaced: PolicyRule[];
  /** Cluster-scoped (nodes; pods across namespaces). */
  cluster: PolicyRule[];
}

const ray = (resource: string, ...verbs: string[]): PolicyRule => ({ apiGroups: ['ray.io'], resources: [resource], verbs });
const core = (resource: string, ...verbs: string[]): PolicyRule => ({ apiGroups: [''], resources: [resource], verbs });

/** What each function's adapters call (adapters/kuberay/*), verb for verb. */
export const FUNCTION_RULES: Record<KubeFunction, FunctionRules> = {
  // KubeRayCompute.submit: create (AlreadyExists → get); the run's cluster: create (AlreadyExists → get), resume
  // (patch); on an existing cluster, get it and resume it (patch).
  'submit-stage': { namespaced: [ray('rayjobs', 'create', 'get'), ray('rayclusters', 'create', 'get', 'patch')], cluster: [] },
  // RayServiceServing.apply (get → create | patch) and status (the active cluster's run).
  promote: { namespaced: [ray('rayservices', 'get', 'create', 'patch'), ray('rayclusters', 'get')], cluster: [] },
  // Stops the run's jobs (list by run label, delete) and ends the run: its RayCluster (get: is it the run's; delete).
  'finish-run': { namespaced: [ray('rayjobs', 'list', 'delete'), ray('rayclusters', 'get', 'delete')], cluster: [] },
  'execution-ended': { namespaced: [ray('rayjobs', 'list', 'delete'), ray('rayclusters', 'get', 'delete')], cluster: [] },
  // Verifies the job named by the event (get) and reads its log tail (get); for a stage's result.json write (pushed),
  // finds the stage's jobs by its labels (list).
  'complete-stage': { namespaced: [ray('rayjobs', 'get', 'list')], cluster: [] },
  // Lists the jobs in flight and reads one, settles ended ones (patch: the in-flight label), deletes a job KubeRay
  // left running past its deadline (delete).
  'watch-jobs': { namespaced: [ray('rayjobs', 'get', 'list', 'patch', 'delete')], cluster: [] },
  // Finds the instance's node, cordons it, lists the namespace's Ray pods on it, evicts them, marks their jobs.
  'handle-interruption': {
    namespaced: [core('pods', 'list'), core('pods/eviction', 'create'), ray('rayjobs', 'list', 'patch')],
    cluster: [core('nodes', 'get', 'list', 'patch')],
  },
  // Lists clusters and jobs, suspends/resumes (patch) and deletes clusters, reads the RayService that owns one; counts
  // live pods on a node group's nodes (read-only, cluster-wide).
  'reap-idle': {
    // rayjobs delete: finished RayJobs past their retention.
    namespaced: [ray('rayclusters', 'get', 'list', 'patch', 'delete'), ray('rayjobs', 'list', 'delete'), ray('rayservices', 'get')],
    cluster: [core('nodes', 'list'), core('pods', 'list')],
  },
};

/** A function's own Kubernetes group: `<base>:<function>` (base = cluster.kubernetesGroup). */
export const functionGroup = (fn: KubeFunction, base = LAMBDA_GROUP) => `${base}:${fn}`;

type RbacObject = KubeObject<never> & { rules?: PolicyRule[]; subjects?: unknown[]; roleRef?: unknown };

const labels = { [MANAGED_BY_LABEL]: MANAGED_BY };
const groupSubject = (group: string) => [{ apiGroup: RBAC, kind: 'Group', name: group }];

/** Role + RoleBinding in the pipelines' namespace for the Lambdas' group. */
export function lambdaRbac(namespace: string, group = LAMBDA_GROUP): RbacObject[] {
  const name = 'sentinel-lambda';
  return [
    { apiVersion: RBAC_V1, kind: 'Role', metadata: { name, namespace, labels }, rules: LAMBDA_RULES },
    {
      apiVersion: RBAC_V1,
      kind: 'RoleBinding',
      metadata: { name, namespace, labels },
      subjects: groupSubject(group),
      roleRef: { apiGroup: RBAC, kind: 'Role', name },
    },
  ];
}

/** ClusterRole + ClusterRoleBinding for the spot interruption handler's group. */
export function spotHandlerRbac(group = LAMBDA_GROUP): RbacObject[] {
  const name = 'sentinel-spot-handler';
  return [
    { apiVersion: RBAC_V1, kind: 'ClusterRole', metadata: { name, labels }, rules: SPOT_HANDLER_RULES },
    {
      apiVersion: RBAC_V1,
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      subjects: groupSubject(group),
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name },
    },
  ];
}

/**
 * One Role + RoleBinding per function in the namespace, and a ClusterRole + ClusterRoleBinding for the functions with
 * cluster-scoped rules (handle-interruption, reap-idle), each bound to that function's group only.
 */
export function functionRbac(namespace: string, base = LAMBDA_GROUP, functions: readonly KubeFunction[] = KUBE_FUNCTIONS): RbacObject[] {
  const out: RbacObject[] = [];
  for (const fn of functions) {
    const name = `sentinel-${fn}`;
    const { namespaced, cluster } = FUNCTION_RULES[fn];
    const subjects = groupSubject(functionGroup(fn, base));
    out.push(
      { apiVersion: RBAC_V1, kind: 'Role', metadata: { name, namespace, labels }, rules: namespaced },
      { apiVersion: RBAC_V1, kind: 'RoleBinding', metadata: { name, namespace, labels }, subjects, roleRef: { apiGroup: RBAC, kind: 'Role', name } },
    );
    if (cluster.length) {
      // Cluster-scoped names carry the namespace: two deployments on one cluster keep their own.
      const cname = `sentinel-${namespace}-${fn}`;
      out.push(
        { apiVersion: RBAC_V1, kind: 'ClusterRole', metadata: { name: cname, labels }, rules: cluster },
        { apiVersion: RBAC_V1, kind: 'ClusterRoleBinding', metadata: { name: cname, labels }, subjects, roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: cname } },
      );
    }
  }
  return out;
}
