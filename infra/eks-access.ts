// Kubernetes access without aws-auth edits or cluster-admin: one EKS access entry per function role that talks to
// the API server, each mapping the role to that function's own Kubernetes group (`<kubernetesGroup>:<function>`,
// core/kuberay/rbac.ts functionGroup), type STANDARD, with no access policy associated, so the project's own RBAC
// (one Role per group: `sentinel render` → kubernetes/rbac.yaml) is all each may do. Which functions need it is read
// from their declared grants (eks:DescribeCluster), not listed twice.
// Also the Ray pods' bucket access, one identity per use: for each pipeline, an EKS Pod Identity association of its
// job service account to a role that writes only `artifacts/<pipeline>/*`, and of its Serve service account to a
// read-only role (core/kuberay/identity.ts names the accounts; `sentinel render` writes them).
// Requires the cluster's authentication mode API or API_AND_CONFIG_MAP (and for Pod Identity, its agent add-on).
import * as pulumi from '@pulumi/pulumi';
import { eks, iam } from '@pulumi/aws';
import type { LambdaName, ResourceNames, SentinelConfig } from './config.js';
import { assumeRolePolicy, deploymentArns, functionGrants, policyDocument, rayJobGrants, serveGrants, type DeploymentArns, type Grant } from './iam.js';
import { functionGroup, KUBE_FUNCTIONS, type KubeFunction } from '../core/kuberay/rbac.js';
import { jobServiceAccountFor, serveServiceAccountFor } from '../core/kuberay/identity.js';
import type { DeployedFunction } from './functions.js';

/** Functions whose declared use includes the Kubernetes API (the ARNs' values do not change the answer). */
export function kubernetesFunctions(cfg: SentinelConfig, deployed: LambdaName[]): LambdaName[] {
  const a = deploymentArns(cfg, { account: '000000000000' });
  return deployed.filter((f) => functionGrants(f, a).some((g) => g.actions.includes('eks:DescribeCluster')));
}

/** The Kubernetes group a function's access entry maps to: its own (core/kuberay/rbac.ts binds one Role to each). */
export function kubernetesGroupOf(cfg: SentinelConfig, fn: LambdaName): string {
  if (!(KUBE_FUNCTIONS as readonly string[]).includes(fn)) throw new Error(`${fn} calls the Kubernetes API but core/kuberay/rbac.ts FUNCTION_RULES has no Role for it`);
  return functionGroup(fn as KubeFunction, cfg.cluster.kubernetesGroup);
}

export function createEksAccess(args: {
  cfg: SentinelConfig;
  names: ResourceNames;
  arns: pulumi.Output<DeploymentArns>;
  functions: Partial<Record<LambdaName, DeployedFunction>>;
}) {
  const { cfg, names, functions } = args;
  const deployed = Object.keys(functions) as LambdaName[];
  const entries = kubernetesFunctions(cfg, deployed).map((f) => {
    const d = functions[f]!;
    return new eks.AccessEntry(`AccessEntry-${f}`, {
      clusterName: cfg.cluster.name,
      principalArn: d.role.arn,
      kubernetesGroups: [kubernetesGroupOf(cfg, f)],
      type: 'STANDARD',
    });
  });

  type PodIdentity = { role: iam.Role; policy: iam.RolePolicy; association: eks.PodIdentityAssociation };
  const podIdentity = (id: string, serviceAccount: string, grants: (a: DeploymentArns) => Grant[]): PodIdentity => {
    const role = new iam.Role(`${id}Role`, { name: names.role(serviceAccount.replace(/^sentinel-/, '')), assumeRolePolicy: JSON.stringify(assumeRolePolicy('pods.eks.amazonaws.com')) });
    const policy = new iam.RolePolicy(`${id}Policy`, { role: role.id, name: 'least-privilege', policy: args.arns.apply((a) => JSON.stringify(policyDocument(grants(a)))) });
    const association = new eks.PodIdentityAssociation(`${id}Identity`, { clusterName: cfg.cluster.name, namespace: cfg.cluster.namespace, serviceAccount, roleArn: role.arn });
    return { role, policy, association };
  };
  const rayPods: Record<string, { job: PodIdentity; serve: PodIdentity }> = {};
  if (cfg.cluster.rayServiceAccount) {
    for (const p of cfg.pipelines) {
      rayPods[p.name] = {
        job: podIdentity(`RayJobPods-${p.name}`, jobServiceAccountFor(p.name), (a) => rayJobGrants(a, p.name)),
        serve: podIdentity(`ServePods-${p.name}`, serveServiceAccountFor(p.name), (a) => serveGrants(a, p.name)),
      };
    }
  }
  return { entries, rayPods };
}
