// Kubernetes access without aws-auth edits or cluster-admin: one EKS access entry per function role that talks to
// the API server, each mapping the role to the configured Kubernetes group (sentinel:lambda), type STANDARD, with no
// access policy associated, so the project's own RBAC (bound to that group) is all they may do. Which functions
// need it is read from their declared grants (eks:DescribeCluster), not listed twice.
// Also the Ray pods' bucket access: an EKS Pod Identity association for their service account.
// Requires the cluster's authentication mode API or API_AND_CONFIG_MAP (and for Pod Identity, its agent add-on).
import * as pulumi from '@pulumi/pulumi';
import { eks, iam } from '@pulumi/aws';
import type { LambdaName, ResourceNames, SentinelConfig } from './config.js';
import { assumeRolePolicy, deploymentArns, functionGrants, policyDocument, rayPodGrants, type DeploymentArns } from './iam.js';
import type { DeployedFunction } from './functions.js';

/** Functions whose declared use includes the Kubernetes API (the ARNs' values do not change the answer). */
export function kubernetesFunctions(cfg: SentinelConfig, deployed: LambdaName[]): LambdaName[] {
  const a = deploymentArns(cfg, { account: '000000000000' });
  return deployed.filter((f) => functionGrants(f, a).some((g) => g.actions.includes('eks:DescribeCluster')));
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
      kubernetesGroups: [cfg.cluster.kubernetesGroup],
      type: 'STANDARD',
    });
  });

  let rayPods: { role: iam.Role; policy: iam.RolePolicy; association: eks.PodIdentityAssociation } | undefined;
  if (cfg.cluster.rayServiceAccount) {
    const role = new iam.Role('RayPodsRole', { name: names.role('ray-pods'), assumeRolePolicy: JSON.stringify(assumeRolePolicy('pods.eks.amazonaws.com')) });
    const policy = new iam.RolePolicy('RayPodsPolicy', { role: role.id, name: 'least-privilege', policy: args.arns.apply((a) => JSON.stringify(policyDocument(rayPodGrants(a)))) });
    const association = new eks.PodIdentityAssociation('RayPodsIdentity', {
      clusterName: cfg.cluster.name,
      namespace: cfg.cluster.namespace,
      serviceAccount: cfg.cluster.rayServiceAccount,
      roleArn: role.arn,
    });
    rayPods = { role, policy, association };
  }
  return { entries, rayPods };
}
