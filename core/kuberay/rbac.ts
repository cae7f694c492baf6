// Least-privilege RBAC for Sentinel's Lambdas. On EKS an access entry maps the Lambdas' IAM role to the Kubernetes
// group `sentinel:lambda`; these objects say what that group may do, and nothing else is granted.
//
// Namespaced (the pipelines' namespace): exactly the verbs the adapters call.
//   rayjobs      create, get, list, delete (submit, get, list, stop), patch (mark interrupted)
//   rayservices  create, get, patch (promote: create or patch serveConfigV2; status)
//   rayclusters  get (the serving cluster's run; an existing cluster named by a spec), list/patch/delete (the idle
//                reaper: find, suspend/resume, delete a finished job's leftover cluster)
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
  { apiGroups: ['ray.io'], resources: ['rayclusters'], verbs: ['get', 'list', 'patch', 'delete'] },
];

export const SPOT_HANDLER_RULES: PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
  { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
];

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
