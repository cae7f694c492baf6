// A second configuration (its own process: Pulumi mocks hold one stack): spot handling off (Karpenter drains), no
// node groups to scale, no alarm email, no Pod Identity. What spot handling adds must then be absent.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { ACCOUNT, installMocks, settled, type Recorded } from './pulumi-mocks.js';
import { resourceNames, routeSettings, sentinelConfig } from '../../infra/config.js';
import { deploymentArns, type PolicyDocument } from '../../infra/iam.js';
import { routesFor } from '../../events/routes.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const cfg = sentinelConfig('min', {
  region: 'us-east-2',
  handleSpotInterruptions: false,
  reserveConcurrency: false,
  cluster: { name: 'k', namespace: 'ml', kubernetesGroup: 'sentinel:lambda', scaleToZeroNodeGroups: [], rayServiceAccount: '' },
});
const names = resourceNames(cfg);
let recorded: Recorded[] = [];

before(async () => {
  recorded = installMocks(cfg.region);
  const { sentinel } = await import('../../infra/index.js');
  await settled(sentinel({ config: cfg, root, code: () => new pulumi.asset.AssetArchive({}) }));
});
const ofType = (t: string) => recorded.filter((r) => r.type === t);

test('without node handling (Karpenter drains): interruptions are still routed and consumed, to mark jobs; the consumer does not cordon or evict', () => {
  const routes = routesFor(routeSettings(cfg, deploymentArns(cfg, { account: ACCOUNT }).bucketName));
  assert.deepEqual(routes.map((r) => r.name).sort(), ['dataset-uploaded', 'execution-ended', 'instance-state-change', 'job-completed', 'run-events-notify', 'spot-interruption', 'stage-failure-written', 'stage-result-written']);
  assert.deepEqual(ofType('aws:cloudwatch/eventRule:EventRule').map((r) => r.inputs.name).sort(), routes.map((r) => names.rule(r.name)).sort());
  const queues = ofType('aws:sqs/queue:Queue').map((q) => q.inputs.name).sort();
  assert.deepEqual(queues, [names.completionQueue, names.dlq(names.completionQueue), names.interruptionQueue, names.dlq(names.interruptionQueue), names.undeliveredQueue].sort());
  const consumer = ofType('aws:lambda/function:Function').find((f) => f.inputs.name === names.function('handle-interruption'));
  assert.equal(consumer?.inputs.environment?.variables?.SENTINEL_NODE_HANDLING, 'false');
  assert.equal(ofType('aws:lambda/eventSourceMapping:EventSourceMapping').length, 2);
  assert.equal(ofType('aws:eks/accessEntry:AccessEntry').length, 8);
  // The DLQ alarms follow the queues.
  assert.equal(ofType('aws:cloudwatch/metricAlarm:MetricAlarm').filter((a) => a.inputs.namespace === 'AWS/SQS').length, 3);
});

test('no node groups: the reaper gets no node-group permission; no reserved concurrency; no email; no Pod Identity', () => {
  const role = ofType('aws:iam/role:Role').find((r) => r.inputs.name === names.role('reap-idle'))!;
  const doc = JSON.parse(ofType('aws:iam/rolePolicy:RolePolicy').find((p) => p.inputs.role === role.inputs.name)!.inputs.policy) as PolicyDocument;
  assert.ok(!doc.Statement.some((s) => s.Action.some((a) => a.includes('Nodegroup'))));
  assert.ok(ofType('aws:lambda/function:Function').every((f) => f.inputs.reservedConcurrentExecutions === undefined));
  assert.equal(ofType('aws:sns/topicSubscription:TopicSubscription').length, 0);
  assert.equal(ofType('aws:eks/podIdentityAssociation:PodIdentityAssociation').length, 0);
  // Still: every access entry maps to its function's own group under the configured one, STANDARD.
  for (const e of ofType('aws:eks/accessEntry:AccessEntry')) {
    const fn = e.name.replace(/^AccessEntry-/, '');
    assert.deepEqual([e.inputs.kubernetesGroups, e.inputs.type], [[`sentinel:lambda:${fn}`], 'STANDARD']);
  }
});
