// Least privilege, checked against the code: each function's declared AWS actions must be calls its bundle can
// make (the SDK is external: the bundle's imports from @aws-sdk/client-* name the commands tree-shaking kept), and
// each SDK command in the bundle must be granted or listed here as bundled-but-never-called (with the reason). Plus
// the policy generator's own rules.
import { RUN_EVENT_SOURCE } from '../../events/run-events.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLambda, bundledSdkCommands, lambdaEntries, type BuiltLambda } from '../../infra/bundles.js';
import { deployedLambdas, LAMBDA_NAMES, sentinelConfig, validateConfig, type LambdaName } from '../../infra/config.js';
import { deploymentArns, functionGrants, functionPolicy, policyDocument, PUBLISHED_EVENTS, SDK_COMMAND_ACTIONS, SDK_COMMAND_EXTRA_ACTIONS, SDK_INTERNAL_COMMANDS, WILDCARD_RESOURCE_ACTIONS } from '../../infra/iam.js';
import { JOB_EVENT_DETAIL_TYPE, JOB_EVENT_SOURCE } from '../../events/job-state-change.js';
import { interruptionEvent } from '../../core/interruption.js';
import { reapIdle } from '../../core/reaper.js';
import type { BusEvent } from '../../core/ports.js';
import { LAMBDAS } from '../../infra/functions.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const cfg = sentinelConfig('test', { region: 'us-east-1', cluster: { name: 'c', namespace: 'sentinel', kubernetesGroup: 'sentinel:lambda', scaleToZeroNodeGroups: ['ng'], rayServiceAccount: 'default' } });
const arns = deploymentArns(cfg, { account: '123456789012' });

/**
 * SDK commands a function's bundle contains but its code never calls: an adapter class brings all its methods.
 * Each entry says which method is unused and why the handler cannot reach it.
 */
const NO_DISARM = { 'scheduler:DeleteSchedule': 'EventBridgeSchedules.disarm: nothing disarms; an at() schedule deletes itself once fired (ActionAfterCompletion DELETE)' };
const BUNDLED_NOT_CALLED: Partial<Record<LambdaName, Record<string, string>>> = {
  'submit-stage': {
    ...NO_DISARM,
    'states:SendTaskHeartbeat': 'SfnTaskCallbacks.heartbeat: submit-stage completes reused stages, the watcher heartbeats',
    'dynamodb:GetItem': 'DynamoTokenStore.get: submitStage only parks tokens',
    'dynamodb:DeleteItem': 'DynamoTokenStore.delete: submitStage only parks tokens',
  },
  'evaluate-gate': { 's3:PutObject': 'S3ObjectStore.putJson: the gate only reads' },
  'finish-run': { ...NO_DISARM, 'dynamodb:PutItem': 'DynamoTokenStore.put: finishRun only deletes', 'dynamodb:GetItem': 'DynamoTokenStore.get: finishRun only deletes' },
  'complete-stage': { 's3:PutObject': 'S3ObjectStore.putJson: completion only reads result.json', 'dynamodb:PutItem': 'DynamoTokenStore.put: completion only reads and deletes', 'states:SendTaskHeartbeat': 'SfnTaskCallbacks.heartbeat: the watcher heartbeats, not the consumer' },
  'watch-jobs': { ...NO_DISARM, 'dynamodb:PutItem': 'DynamoTokenStore.put: the watcher only reads and deletes', 'states:SendTaskSuccess': 'SfnTaskCallbacks.success: only the consumer completes tasks', 'states:SendTaskFailure': 'SfnTaskCallbacks.failure: only the consumer completes tasks' },
  'start-run': { 's3:PutObject': 'S3ObjectStore.putJson: start-run only reads' },
  'execution-ended': { ...NO_DISARM, 'dynamodb:PutItem': 'DynamoTokenStore.put: executionEnded only deletes', 'dynamodb:GetItem': 'DynamoTokenStore.get: executionEnded only deletes' },
  promote: NO_DISARM,
  'reap-idle': NO_DISARM,
  notify: { 's3:PutObject': 'S3ObjectStore.putJson: notify reads specs and champion.json only' },
};

const built = new Map<string, BuiltLambda>();
let outdir = '';
before(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'sentinel-lp-'));
  for (const b of await Promise.all(lambdaEntries(root).map((e) => buildLambda(e, outdir)))) built.set(b.name, b);
  process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));
});

test('every deployed function has its entry in functions/aws, and every entry is deployed', () => {
  for (const f of LAMBDA_NAMES) assert.ok(existsSync(join(root, LAMBDAS[f].entry)), `${f}: ${LAMBDAS[f].entry} is missing`);
  assert.deepEqual([...built.keys()].filter((n) => !(LAMBDA_NAMES as readonly string[]).includes(n)), [], 'an entry that infra does not deploy');
});

test('declared actions are exactly the SDK calls each bundle makes (minus the listed never-called methods)', () => {
  for (const [name, b] of built) {
    const f = name as LambdaName;
    const bundled = new Set<string>();
    for (const { client, command } of bundledSdkCommands(b)) {
      if (SDK_INTERNAL_COMMANDS[client]?.[command]) continue;
      const action = SDK_COMMAND_ACTIONS[client]?.[command];
      assert.ok(action, `${f}: bundle contains ${client} ${command}Command, which SDK_COMMAND_ACTIONS does not map to an IAM action`);
      bundled.add(action);
      for (const extra of SDK_COMMAND_EXTRA_ACTIONS[client]?.[command] ?? []) bundled.add(extra);
    }
    const declared = new Set(functionGrants(f, arns).filter((g) => g.by === 'code').flatMap((g) => g.actions));
    const notCalled = BUNDLED_NOT_CALLED[f] ?? {};
    for (const a of declared) assert.ok(bundled.has(a), `${f}: grants ${a}, but its bundle has no SDK command needing it`);
    for (const a of bundled) assert.ok(declared.has(a) || notCalled[a], `${f}: its bundle can call ${a}, which it is not granted (grant it, or list why it is never called)`);
    for (const a of Object.keys(notCalled)) assert.ok(bundled.has(a) && !declared.has(a), `${f}: stale never-called entry ${a}`);
  }
});

test('the generator refuses wildcard actions and "*" resources AWS can narrow', () => {
  assert.throws(() => policyDocument([{ sid: 'x', actions: ['s3:*'], resources: ['arn:aws:s3:::b/*'], by: 'code' }]), /wildcard/);
  assert.throws(() => policyDocument([{ sid: 'x', actions: ['s3:Get*'], resources: ['arn:aws:s3:::b/*'], by: 'code' }]), /wildcard/);
  assert.throws(() => policyDocument([{ sid: 'x', actions: ['s3:GetObject'], resources: ['*'], by: 'code' }]), /narrower resource exists/);
  assert.throws(() => policyDocument([{ sid: 'x', actions: ['states:SendTaskSuccess', 'states:StartExecution'], resources: ['*'], by: 'code' }]), /StartExecution/);
  assert.throws(() => policyDocument([{ sid: 'x', actions: ['s3:GetObject'], resources: [], by: 'code' }]), /no resource/);
  const ok = policyDocument([{ sid: 'Complete tasks', actions: ['states:SendTaskSuccess'], resources: ['*'], by: 'code' }]);
  assert.deepEqual(ok, { Version: '2012-10-17', Statement: [{ Sid: 'Completetasks', Effect: 'Allow', Action: ['states:SendTaskSuccess'], Resource: ['*'] }] });
});

test("'*' resources in all function policies are exactly the documented exceptions", () => {
  const used = new Set<string>();
  for (const f of deployedLambdas(cfg)) {
    for (const g of functionGrants(f, arns)) if (g.resources.includes('*')) g.actions.forEach((a) => used.add(a));
  }
  assert.deepEqual([...used].sort(), ['states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  for (const a of used) assert.ok(WILDCARD_RESOURCE_ACTIONS[a]!.length > 20, `${a} has a reason`);
});

test('configuration validation names every problem', () => {
  const bad = { ...sentinelConfig('dev'), stage: 'Dev_1', region: 'mars', pipelines: [{ name: 'x', specFile: 'p.yaml', retrainSchedule: 'every day' }], watchEverySeconds: 5, jobRetention: 'forever' };
  assert.throws(() => validateConfig(bad), (e: Error) => /stage "Dev_1"/.test(e.message) && /region "mars"/.test(e.message) && /retrainSchedule "every day"/.test(e.message) && /watchEverySeconds 5/.test(e.message) && /jobRetention "forever"/.test(e.message));
  assert.throws(() => sentinelConfig('dev', { cluster: { ...sentinelConfig('dev').cluster, kubernetesGroup: 'system:masters' } }), /kubernetesGroup/);
});

test('PutEvents is conditioned on source and detail-type: only the watcher may publish job-state events', () => {
  const publishers = deployedLambdas(cfg).filter((f) => functionGrants(f, arns).some((g) => g.actions.includes('events:PutEvents')));
  assert.deepEqual([...publishers].sort(), Object.keys(PUBLISHED_EVENTS).sort(), 'every publisher declares what it publishes');
  const jobEvents: string[] = [];
  for (const f of publishers) {
    const statement = functionPolicy(f, arns).Statement.find((s) => s.Action.includes('events:PutEvents'))!;
    const declared = PUBLISHED_EVENTS[f as keyof typeof PUBLISHED_EVENTS];
    assert.deepEqual(statement.Condition, { StringEquals: { 'events:source': [declared.source], 'events:detail-type': [...declared.detailTypes] } }, f);
    assert.deepEqual(statement.Action, ['events:PutEvents'], `${f}: PutEvents alone under its condition`);
    if (statement.Condition!.StringEquals!['events:source']!.includes(JOB_EVENT_SOURCE)) jobEvents.push(f);
  }
  assert.deepEqual(jobEvents, ['watch-jobs']);
  assert.deepEqual(PUBLISHED_EVENTS['watch-jobs'], { source: JOB_EVENT_SOURCE, detailTypes: [JOB_EVENT_DETAIL_TYPE] });
  // The sources are distinct: no function can publish under another's. Run events (events/run-events.ts) are the one
  // shared source, and each function may put only the run-event kinds it announces.
  const sources = Object.values(PUBLISHED_EVENTS).map((p) => p.source).filter((s) => s !== RUN_EVENT_SOURCE);
  assert.equal(new Set(sources).size, sources.length);
  const runEvents = Object.fromEntries(Object.entries(PUBLISHED_EVENTS).filter(([, p]) => p.source === RUN_EVENT_SOURCE).map(([f, p]) => [f, [...p.detailTypes].sort()]));
  assert.deepEqual(runEvents, {
    'prepare-run': ['Run Started'],
    'finish-run': ['Champion Kept', 'Run Failed', 'Run Succeeded'],
    promote: ['Model Promoted'],
    'execution-ended': ['Run Failed'],
    notify: ['Model Stale'],
  });
});

test('the declared detail-types are the ones the code publishes', async () => {
  assert.equal(interruptionEvent({ action: 'handled', reason: 'spot-warning', cordoned: true, evicted: [], blocked: [], markedJobs: [] }, new Date(0))['detail-type'], PUBLISHED_EVENTS['handle-interruption'].detailTypes[0]);
  const published: BusEvent[] = [];
  const cluster = { name: 'rc', namespace: 'ns', suspended: false, owner: 'none' as const, createdAt: 0 };
  await reapIdle({
    reaper: { listRayClusters: async () => [cluster, { ...cluster, name: 'rj', owner: 'rayjob' as const }], clusterActivity: async () => [], suspend: async () => undefined, delete: async () => undefined, rayPodsInNodeGroup: async () => 0 },
    nodeGroups: { desiredSize: async () => 2, scaleToZero: async () => undefined },
    publisher: { publish: async (e) => void published.push(...e) },
    managedNodeGroups: ['ng'],
    idleMs: 0,
    now: () => new Date(10 ** 12),
  });
  const types = new Set(published.map((e) => e['detail-type']));
  assert.ok(types.size >= 2, [...types].join(', '));
  for (const e of published) {
    assert.equal(e.source, PUBLISHED_EVENTS['reap-idle'].source);
    assert.ok((PUBLISHED_EVENTS['reap-idle'].detailTypes as readonly string[]).includes(e['detail-type']), e['detail-type']);
  }
});
