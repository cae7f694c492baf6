// EksNodeGroups against a mocked EKS API (AWS has no local equivalent): the requests it sends and what it reads back.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeNodegroupCommand, EKSClient, ResourceInUseException, ResourceNotFoundException, UpdateNodegroupConfigCommand } from '@aws-sdk/client-eks';
import { EksNodeGroups } from '../../adapters/aws/eks-nodegroups.js';

const eks = mockClient(EKSClient);
const groups = () => new EksNodeGroups(new EKSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }), 'ml-cluster');
const described = (scalingConfig: { minSize?: number; maxSize?: number; desiredSize?: number }) => ({ nodegroup: { nodegroupName: 'gpu-spot', scalingConfig } });

beforeEach(() => eks.reset());

test('desiredSize reads DescribeNodegroup scalingConfig.desiredSize for the configured cluster', async () => {
  eks.on(DescribeNodegroupCommand).resolves(described({ minSize: 1, maxSize: 8, desiredSize: 3 }));
  assert.equal(await groups().desiredSize('gpu-spot'), 3);
  assert.deepEqual(eks.commandCalls(DescribeNodegroupCommand)[0]!.args[0].input, { clusterName: 'ml-cluster', nodegroupName: 'gpu-spot' });
});

test('scaleToZero sets minSize and desiredSize to 0 and sends maxSize unchanged', async () => {
  eks.on(DescribeNodegroupCommand).resolves(described({ minSize: 1, maxSize: 8, desiredSize: 3 }));
  eks.on(UpdateNodegroupConfigCommand).resolves({ update: { id: 'u-1', status: 'InProgress' } });
  await groups().scaleToZero('gpu-spot');
  const calls = eks.commandCalls(UpdateNodegroupConfigCommand);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0]!.args[0].input, { clusterName: 'ml-cluster', nodegroupName: 'gpu-spot', scalingConfig: { minSize: 0, desiredSize: 0, maxSize: 8 } });
});

test('a group already at zero is not updated again', async () => {
  eks.on(DescribeNodegroupCommand).resolves(described({ minSize: 0, maxSize: 8, desiredSize: 0 }));
  await groups().scaleToZero('gpu-spot');
  assert.equal(eks.commandCalls(UpdateNodegroupConfigCommand).length, 0);
});

test('a group at its minimum size of 1 goes to 0 with minSize 0', async () => {
  eks.on(DescribeNodegroupCommand).resolves(described({ minSize: 1, maxSize: 2, desiredSize: 1 }));
  eks.on(UpdateNodegroupConfigCommand).resolves({});
  await groups().scaleToZero('gpu-spot');
  assert.deepEqual(eks.commandCalls(UpdateNodegroupConfigCommand)[0]!.args[0].input.scalingConfig, { minSize: 0, desiredSize: 0, maxSize: 2 });
});

test('EKS errors surface (a missing group, an update already in progress): the reaper run fails and the schedule retries', async () => {
  eks.on(DescribeNodegroupCommand).rejects(new ResourceNotFoundException({ message: 'No node group found for name: nope.', $metadata: {} }));
  await assert.rejects(groups().desiredSize('nope'), { name: 'ResourceNotFoundException' });
  eks.reset();
  eks.on(DescribeNodegroupCommand).resolves(described({ minSize: 1, maxSize: 8, desiredSize: 3 }));
  eks.on(UpdateNodegroupConfigCommand).rejects(new ResourceInUseException({ message: 'update in progress', $metadata: {} }));
  await assert.rejects(groups().scaleToZero('gpu-spot'), { name: 'ResourceInUseException' });
});

test('a node group without scalingConfig is an error, not size 0', async () => {
  eks.on(DescribeNodegroupCommand).resolves({ nodegroup: { nodegroupName: 'gpu-spot' } });
  await assert.rejects(groups().desiredSize('gpu-spot'), /has no scalingConfig/);
});
