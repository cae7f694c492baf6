// NodeGroupsPort over EKS managed node groups: read desiredSize, scale to zero with UpdateNodegroupConfig.
// IAM: eks:DescribeNodegroup, eks:UpdateNodegroupConfig on the configured node groups (infra/iam.ts, reap-idle).
import { DescribeNodegroupCommand, UpdateNodegroupConfigCommand, type EKSClient, type NodegroupScalingConfig } from '@aws-sdk/client-eks';
import type { NodeGroupsPort } from '../../core/ports.js';

export class EksNodeGroups implements NodeGroupsPort {
  constructor(
    private readonly eks: EKSClient,
    private readonly clusterName: string,
  ) {}

  private async scaling(nodeGroup: string): Promise<NodegroupScalingConfig> {
    const r = await this.eks.send(new DescribeNodegroupCommand({ clusterName: this.clusterName, nodegroupName: nodeGroup }));
    const s = r.nodegroup?.scalingConfig;
    if (!s) throw new Error(`EKS node group ${this.clusterName}/${nodeGroup} has no scalingConfig`);
    return s;
  }

  async desiredSize(nodeGroup: string): Promise<number> {
    return (await this.scaling(nodeGroup)).desiredSize ?? 0;
  }

  /**
   * minSize goes to 0 too (EKS refuses desiredSize below minSize); maxSize is sent unchanged so the group can grow
   * again when Ray pods need it. Already at zero: no update (each one is an EKS-side operation that blocks the next).
   */
  async scaleToZero(nodeGroup: string): Promise<void> {
    const s = await this.scaling(nodeGroup);
    if (s.desiredSize === 0 && s.minSize === 0) return;
    await this.eks.send(
      new UpdateNodegroupConfigCommand({
        clusterName: this.clusterName,
        nodegroupName: nodeGroup,
        scalingConfig: { minSize: 0, desiredSize: 0, ...(s.maxSize !== undefined ? { maxSize: s.maxSize } : {}) },
      }),
    );
  }
}
