// Small corners of core that mutation testing (npm run mutation) found no fast test for: the system clock, stage
// names, metric dimensions, EC2 states that are not interruptions, RayService failures, Prometheus on serve
// workers, submit's duplicate deliveries and attempt limit, the gate's task default, spec text that is not a mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock, type ComputePort, type TokenStore } from '../../core/ports.js';
import { isStage } from '../../core/stages.js';
import { cloudWatchDimensions } from '../../core/metrics.js';
import { parseEc2Event } from '../../core/interruption.js';
import { serveStatusFromRayService } from '../../core/kuberay/status.js';
import { rayServiceFor } from '../../core/kuberay/rayservice.js';
import { PROMETHEUS_SCRAPE_ANNOTATIONS } from '../../core/kuberay/pods.js';
import { submitStage } from '../../core/submit-stage.js';
import { parseSpecText, validateSpec } from '../../core/spec.js';
import type { JobStatus } from '../../core/job-status.js';
import type { RunContext } from '../../core/model.js';
import { ec2Event } from '../support/events.js';
import { referenceSpec, referenceRun } from '../support/reference.js';

test('the system clock tells the time and sleeps for real', async () => {
  const before = Date.now();
  const t = systemClock.now();
  assert.ok(t >= before && t <= Date.now());
  const started = performance.now();
  await systemClock.sleep(20);
  assert.ok(performance.now() - started >= 15);
});

test('stage names: the four stages are stages, nothing else is', () => {
  for (const s of ['ingest', 'train', 'tune', 'evaluate']) assert.equal(isStage(s), true, s);
  for (const s of ['gate', 'promote', '', 'Train', 1, undefined, null]) assert.equal(isStage(s), false, String(s));
});

test('CloudWatch dimensions: service first, then the metric’s own', () => {
  assert.deepEqual(cloudWatchDimensions('StageRetries'), ['service', 'Pipeline', 'Stage', 'ErrorName']);
});

test('an EC2 state change to a state that is not an interruption is unknown, naming the state', () => {
  const ID = 'i-0123456789abcdef0';
  const running = parseEc2Event(ec2Event('ec2-instance-state-change-notification', ID, 'running'));
  assert.equal(running.kind, 'unknown');
  assert.match((running as { reason: string }).reason, /running/);
  assert.deepEqual(parseEc2Event(ec2Event('ec2-spot-instance-interruption-warning', ID)), { kind: 'spot-warning', instanceId: ID });
});

test('RayService failures: KubeRay rejecting it, or the new config failing on the pending cluster while the old one serves', () => {
  const svc = (status: object) => ({ apiVersion: 'ray.io/v1', kind: 'RayService', metadata: { name: 'churn' }, status }) as never;
  const rejected = serveStatusFromRayService(svc({ conditions: [{ type: 'Ready', status: 'False', reason: 'ValidationFailed', message: 'bad spec' }] }), 'churn', 'r1');
  assert.deepEqual([rejected.state, rejected.runId], ['DEPLOY_FAILED', 'r1']);
  assert.match(rejected.message!, /bad spec/);
  const bare = serveStatusFromRayService(svc({ conditions: [{ type: 'Ready', status: 'False', reason: 'ValidationFailed' }] }), 'churn');
  assert.deepEqual([bare.state, 'runId' in bare], ['DEPLOY_FAILED', false]);
  for (const pending of ['DEPLOY_FAILED', 'UNHEALTHY']) {
    const s = serveStatusFromRayService(
      svc({ conditions: [{ type: 'UpgradeInProgress', status: 'True' }], pendingServiceStatus: { applicationStatuses: { churn: { status: pending, message: 'import error' } } }, activeServiceStatus: { applicationStatuses: { churn: { status: 'RUNNING' } } } }),
      'churn',
      'r1',
    );
    assert.deepEqual([s.state, s.runId], ['DEPLOY_FAILED', 'r1'], pending);
    assert.match(s.message!, /import error/);
  }
});

test('Prometheus annotations reach the serve workers when asked, and only then', () => {
  const config = { applications: [{ name: 'churn', route_prefix: '/predict', import_path: 'm:app', args: { run_id: 'r0a1b2c3d4' }, deployments: [] }] } as never;
  const on = rayServiceFor({ pipeline: 'churn', namespace: 'ml', image: 'img', config, prometheus: true });
  for (const g of on.spec.rayClusterConfig.workerGroupSpecs) assert.deepEqual(g.template.metadata.annotations, PROMETHEUS_SCRAPE_ANNOTATIONS);
  const off = rayServiceFor({ pipeline: 'churn', namespace: 'ml', image: 'img', config });
  for (const g of off.spec.rayClusterConfig.workerGroupSpecs) assert.equal(g.template.metadata.annotations, undefined);
});

const spec = validateSpec(referenceSpec());
const run: RunContext = referenceRun(spec);
const deps = (jobs: Map<string, JobStatus['state']>) => {
  const submitted: string[] = [];
  const tokens = new Map<string, string>();
  const compute = {
    get: async (jobId: string) => (jobs.has(jobId) ? ({ jobId, state: jobs.get(jobId)!, labels: {} } as unknown as JobStatus) : undefined),
    submit: async (r: { jobId: string }) => (submitted.push(r.jobId), { created: true }),
  } as unknown as ComputePort;
  const tokenStore: TokenStore = { put: async (j, t) => void tokens.set(j, t), get: async (j) => tokens.get(j), delete: async (j) => void tokens.delete(j) };
  const store = { getJson: async () => undefined } as never;
  return { submitted, tokens, deps: { compute, tokens: tokenStore, store } };
};

test('submit: a redelivery for a job that is running or succeeded submits nothing and parks the token on it', async () => {
  const job = `${run.pipeline}-${run.runId}-ingest-1`;
  for (const state of ['RUNNING', 'PENDING', 'SUCCEEDED'] as const) {
    const d = deps(new Map([[job, state]]));
    assert.deepEqual(await submitStage({ taskToken: 'tok', stage: 'ingest', run }, d.deps), { jobId: job, attempt: 1, created: false }, state);
    assert.deepEqual([d.submitted, d.tokens.get(job)], [[], 'tok']);
  }
});

test('submit: after twenty failed attempts there is no twenty-first; the stage fails as a Ray job failure', async () => {
  const jobs = new Map<string, JobStatus['state']>();
  for (let a = 1; a <= 20; a++) jobs.set(`${run.pipeline}-${run.runId}-ingest-${a}`, a % 2 ? 'FAILED' : 'STOPPED');
  const d = deps(jobs);
  await assert.rejects(submitStage({ taskToken: 'tok', stage: 'ingest', run }, d.deps), (e: Error & { where?: string }) => e.name === 'RayJobFailed' && /ingest/.test(e.where ?? ''));
  assert.deepEqual(d.submitted, []);
  jobs.delete(`${run.pipeline}-${run.runId}-ingest-20`);
  assert.deepEqual(await submitStage({ taskToken: 'tok', stage: 'ingest', run }, d.deps), { jobId: `${run.pipeline}-${run.runId}-ingest-20`, attempt: 20, created: true, retryOf: { jobId: `${run.pipeline}-${run.runId}-ingest-19`, error: 'RayJobFailed' } }, 'the last attempt is still allowed');
  assert.deepEqual(d.submitted, [`${run.pipeline}-${run.runId}-ingest-20`]);
});

test("the gate's metric is checked against the task, binary when the spec names none", () => {
  const { task: _t, ...raw } = referenceSpec() as Record<string, unknown>;
  const gate = (metric: string) => () => validateSpec({ ...raw, gate: { ...(raw.gate as object), metric } });
  assert.throws(gate('rmse'), (e: Error) => e.name === 'ValidationFailed' && /gate\.metric/.test(e.message));
  assert.doesNotThrow(gate('roc_auc'));
});

test('spec text that is not a mapping, or not YAML at all, fails naming where it came from', () => {
  for (const text of ['- a\n- b\n', '42', 'null', 'a: [b\n']) {
    assert.throws(() => parseSpecText(text, 'pipelines/x.yaml'), (e: Error & { where?: string }) => e.name === 'ValidationFailed' && e.where === 'pipelines/x.yaml', text);
  }
  assert.deepEqual(parseSpecText('{"name": "x"}'), { name: 'x' });
});
