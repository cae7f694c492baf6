// One RayCluster per run (issue 10 item 3), as data: the run's cluster the KubeRay adapter creates once, the RayJobs
// that select it, the spec default, the RBAC it needs, the reaper's rule for a run cluster left behind, and the two
// places a run ends (finish-run, execution-ended) calling ComputePort.endRun. The k8s suite runs the same manifests
// through the real KubeRay operator (test/k8s/operator.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rayJobFor } from '../../core/kuberay/rayjob.js';
import { quantityValue, runClusterFor, RUN_CLUSTER_WORKER_IDLE_SECONDS } from '../../core/kuberay/raycluster.js';
import { rayClusterProblems, rayJobProblems } from '../../core/kuberay/validate.js';
import { FUNCTION_RULES } from '../../core/kuberay/rbac.js';
import { networkPolicies } from '../../core/kuberay/identity.js';
import { runClusterNameFor, runLabelsFor, jobNameFor, labelsFor } from '../../core/names.js';
import { runStagesOf } from '../../core/submit-stage.js';
import { planReap } from '../../core/reaper.js';
import { finishRun } from '../../core/finish-run.js';
import { executionEnded } from '../../core/execution-ended.js';
import { validateSpec } from '../../core/spec.js';
import { runRecordUri } from '../../core/artifacts.js';
import type { JobRequest, RunEnded } from '../../core/ports.js';
import type { RunRecord } from '../../core/model.js';
import type { Stage } from '../../core/stages.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { FileTokenStore } from '../../local/token-store.js';
import { RayJobsCompute } from '../../adapters/ray/jobs-compute.js';
import { FakeCompute } from '../support/fakes.js';
import { referenceRun, referenceSpec } from '../support/reference.js';

const spec = validateSpec({
  ...referenceSpec(),
  stages: {
    ...(referenceSpec().stages as Record<string, unknown>),
    train: { ...((referenceSpec().stages as Record<string, Record<string, unknown>>).train ?? {}), numWorkers: 3, resources: { cpu: 4, memory: '8Gi', spot: true } },
    tune: { ...((referenceSpec().stages as Record<string, Record<string, unknown>>).tune ?? {}), maxConcurrent: 2, resources: { cpu: 2, memory: '3Gi', gpu: 1 } },
  },
});
const RUN = 'r0a1b2c3d4';
const request = (stage: Stage, extra: Partial<JobRequest> = {}): JobRequest => {
  const identity = { pipeline: spec.name, runId: RUN, stage, attempt: 1 };
  return {
    jobId: jobNameFor(spec.name, RUN, stage, 1),
    identity,
    module: `sentinel_jobs.${stage}`,
    input: { stage },
    resources: spec.stages[stage].resources,
    timeoutSeconds: 900,
    image: 'sentinel/jobs:1',
    cluster: { mode: 'run' },
    labels: labelsFor(identity),
    runStages: runStagesOf(spec),
    ...extra,
  };
};

test('the spec default is one cluster per run; ephemeral and existing stay', () => {
  const { cluster: _shipped, ...unsaid } = referenceSpec() as Record<string, unknown>;
  assert.deepEqual(validateSpec(unsaid).cluster, { mode: 'run' }, 'a spec that does not say');
  assert.deepEqual(validateSpec({ ...referenceSpec(), cluster: { mode: 'ephemeral' } }).cluster, { mode: 'ephemeral' });
  assert.deepEqual(validateSpec({ ...referenceSpec(), cluster: { mode: 'existing', selector: { 'ray.io/cluster': 'shared' } } }).cluster.mode, 'existing');
  assert.throws(() => validateSpec({ ...referenceSpec(), cluster: { mode: 'run', selector: {} } }), (e: Error) => e.name === 'ValidationFailed' && /cluster/.test(e.message));
});

test('every stage of a run selects the run cluster; none brings its own, none shuts it down, none is Kueue-suspended', () => {
  const name = runClusterNameFor(spec.name, RUN);
  assert.equal(name, `${spec.name}-${RUN}`);
  for (const stage of ['ingest', 'train', 'tune', 'evaluate'] as const) {
    const m = rayJobFor(request(stage), { namespace: 'ml', kueue: { queueName: 'team-a' } });
    assert.deepEqual(m.spec!.clusterSelector, { 'ray.io/cluster': name }, stage);
    assert.equal(m.spec!.rayClusterSpec, undefined);
    assert.equal(m.spec!.shutdownAfterJobFinishes, false);
    assert.equal(m.spec!.ttlSecondsAfterFinished, undefined);
    assert.equal((m.spec as { suspend?: boolean }).suspend, undefined);
    assert.equal(m.metadata.labels['kueue.x-k8s.io/queue-name'], undefined, 'the cluster is what Kueue admits');
    assert.deepEqual(rayJobProblems(m), [], stage);
  }
});

test('the run cluster: named and labelled for the run, autoscaling from 0 per stage shape, head on-demand and sized for the largest stage', () => {
  const c = runClusterFor(request('ingest'), { namespace: 'ml' });
  assert.equal(c.kind, 'RayCluster');
  assert.equal(c.metadata.name, runClusterNameFor(spec.name, RUN));
  assert.deepEqual(c.metadata.labels, runLabelsFor(spec.name, RUN));
  assert.deepEqual(rayClusterProblems(c), []);
  assert.equal(c.spec.enableInTreeAutoscaling, true);
  assert.deepEqual(c.spec.autoscalerOptions, { upscalingMode: 'Default', idleTimeoutSeconds: RUN_CLUSTER_WORKER_IDLE_SECONDS });
  // ingest and evaluate share the default shape; train (spot, 3 workers) and tune (GPU, 2 trials) have their own.
  const groups = c.spec.workerGroupSpecs.map((g) => [g.groupName, g.replicas, g.minReplicas, g.maxReplicas]);
  assert.deepEqual(groups, [['ingest-evaluate', 0, 0, 1], ['train', 0, 0, 3], ['tune', 0, 0, 2]]);
  const train = c.spec.workerGroupSpecs[1]!.template.spec;
  assert.deepEqual(train.nodeSelector, { 'karpenter.sh/capacity-type': 'spot' });
  assert.deepEqual(train.containers[0]!.resources.requests, { cpu: '4', memory: '8Gi' });
  assert.equal(c.spec.workerGroupSpecs[2]!.template.spec.containers[0]!.resources.limits['nvidia.com/gpu'], '1');
  // No logical CPUs on the head: a stage's tasks are demand for a worker group (test/k8s/autoscale.test.ts).
  assert.deepEqual(c.spec.headGroupSpec.rayStartParams, { 'num-cpus': '0' });
  assert.equal(runClusterFor(request('ingest'), { namespace: 'ml', workerIdleSeconds: 8 }).spec.autoscalerOptions.idleTimeoutSeconds, 8);
  const head = c.spec.headGroupSpec.template.spec;
  assert.deepEqual(head.nodeSelector, { 'karpenter.sh/capacity-type': 'on-demand' }, 'the head never runs on spot');
  assert.deepEqual(head.containers[0]!.resources.requests, { cpu: '4', memory: '8Gi' }, 'the largest stage cpu and memory');
  assert.equal(head.containers[0]!.resources.requests['nvidia.com/gpu' as 'cpu'], undefined);
  // Identity: the pipeline's job ServiceAccount everywhere; only the head (its autoscaler) mounts the token.
  assert.equal(head.serviceAccountName, `sentinel-job-${spec.name}`);
  assert.equal(head.automountServiceAccountToken, true);
  for (const g of c.spec.workerGroupSpecs) {
    assert.equal(g.template.spec.serviceAccountName, `sentinel-job-${spec.name}`);
    assert.equal((g.template.spec as { automountServiceAccountToken?: boolean }).automountServiceAccountToken, undefined, 'workers inherit the ServiceAccount\'s no-token');
    assert.equal(g.template.metadata.labels['sentinel.dev/role'], 'job');
  }
  // The NetworkPolicy for Ray's ports selects the run cluster's pods.
  const rayPolicy = networkPolicies('ml')[0]!.spec as { podSelector: { matchLabels: Record<string, string> } };
  for (const [k, v] of Object.entries(rayPolicy.podSelector.matchLabels)) assert.equal(c.spec.headGroupSpec.template.metadata.labels[k], v);
});

test('every stage builds the same run cluster (one spec hash: created once, AlreadyExists after)', () => {
  const hashes = new Set((['ingest', 'train', 'tune', 'evaluate'] as const).map((s) => runClusterFor(request(s, { jobId: jobNameFor(spec.name, RUN, s, 2) }), { namespace: 'ml' }).metadata.annotations['sentinel.dev/spec-hash']));
  assert.equal(hashes.size, 1);
  const other = runClusterFor(request('ingest', { image: 'sentinel/jobs:2' }), { namespace: 'ml' });
  assert.ok(!hashes.has(other.metadata.annotations['sentinel.dev/spec-hash']), 'a different image is a different cluster spec');
});

test('Kueue: the run cluster carries the queue labels and is created suspended for Kueue to admit', () => {
  const c = runClusterFor(request('train'), { namespace: 'ml', kueue: { queueName: 'team-a', priorityClass: 'batch-low' } });
  assert.equal(c.metadata.labels['kueue.x-k8s.io/queue-name'], 'team-a');
  assert.equal(c.metadata.labels['kueue.x-k8s.io/priority-class'], 'batch-low');
  assert.equal(c.spec.suspend, true);
  assert.equal(runClusterFor(request('train'), { namespace: 'ml' }).spec.suspend, undefined);
});

test('without runStages the request\'s own stage sizes the cluster; quantities compare by value', () => {
  const { runStages: _omit, ...bare } = request('train');
  const c = runClusterFor({ ...bare, input: { params: { numWorkers: 5 } } }, { namespace: 'ml' });
  assert.deepEqual(c.spec.workerGroupSpecs.map((g) => [g.groupName, g.maxReplicas]), [['workers', 5]]);
  // Stages of equal shape then still build one manifest (one spec hash: the cluster is found, not refused).
  const hash = (stage: Stage) => {
    const { runStages: _o, ...r } = request(stage);
    return runClusterFor({ ...r, resources: spec.stages.ingest.resources, input: {} }, { namespace: 'ml' }).metadata.annotations['sentinel.dev/spec-hash'];
  };
  assert.equal(hash('ingest'), hash('evaluate'));
  assert.ok(quantityValue('1Gi') > quantityValue('1000M') && quantityValue('1500Mi') > quantityValue('1Gi') && quantityValue('500m') === 0.5);
  assert.ok(Number.isNaN(quantityValue('lots')));
});

test('a run cluster name that would not be a valid RayCluster name is refused at the pipeline', () => {
  assert.throws(() => runClusterNameFor('p'.repeat(40), RUN), (e: Error) => e.name === 'ValidationFailed' && /pipeline/.test(e.message + String((e as { where?: string }).where)));
  assert.throws(() => runClusterNameFor('churn', 'not-a-run'), (e: Error) => e.name === 'ValidationFailed');
});

test('RBAC: submit-stage may create the run cluster, finish-run and execution-ended may delete it', () => {
  const can = (fn: keyof typeof FUNCTION_RULES, verb: string) => FUNCTION_RULES[fn].namespaced.some((r) => r.resources.includes('rayclusters') && r.verbs.includes(verb));
  assert.ok(can('submit-stage', 'create') && can('submit-stage', 'get'));
  assert.ok(!can('submit-stage', 'delete'));
  for (const fn of ['finish-run', 'execution-ended'] as const) assert.ok(can(fn, 'get') && can(fn, 'delete') && !can(fn, 'create'), fn);
});

test('the reaper deletes an idle run cluster its run did not delete, and keeps a busy one', () => {
  const now = Date.parse('2026-12-02T02:00:00Z');
  const cluster = (name: string) => ({ name, namespace: 'ml', suspended: false, owner: 'run' as const, createdAt: now - 3_600_000 });
  const plan = planReap({
    clusters: [cluster('a-r0000000001'), cluster('b-r0000000002')],
    activity: [{ cluster: 'b-r0000000002', state: 'RUNNING' }, { cluster: 'a-r0000000001', state: 'SUCCEEDED', endTime: now - 1_800_000 }],
    nodeGroups: [],
    idleMs: 600_000,
    now,
  });
  assert.deepEqual(plan.delete.map((c) => c.name), ['a-r0000000001']);
  assert.deepEqual(plan.suspend, []);
  assert.deepEqual(plan.kept.map((k) => k.name), ['b-r0000000002']);
});

class EndingCompute extends FakeCompute {
  readonly ended: Array<{ pipeline: string; runId: string }> = [];
  constructor(private readonly fail = false) {
    super();
  }
  async endRun(run: { pipeline: string; runId: string }): Promise<RunEnded> {
    this.ended.push(run);
    if (this.fail) throw Object.assign(new Error('API server unreachable'), { name: 'ComputeUnavailable' });
    return { deleted: [runClusterNameFor(run.pipeline, run.runId)] };
  }
}

test('finish-run ends the run\'s compute on success and on failure; an endRun error is reported, the record still written', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sentinel-run-cluster-'));
  try {
    const store = new LocalObjectStore();
    const tokens = new FileTokenStore(join(root, 'tokens'));
    const run = { ...referenceRun(), artifactRoot: join(root, 'artifacts') };
    const now = () => new Date('2026-12-02T02:00:00Z');
    const ok = new EndingCompute();
    const done = await finishRun({ run, end: { status: 'SUCCEEDED', promoted: false, reason: 'kept' } }, { store, compute: ok, tokens, now });
    assert.deepEqual(ok.ended, [{ pipeline: run.pipeline, runId: run.runId }]);
    assert.deepEqual(done.runEnded, { deleted: [runClusterNameFor(run.pipeline, run.runId)] });
    const failed = new EndingCompute();
    await finishRun({ run, end: { status: 'FAILED', error: 'RayJobFailed', cause: 'boom' } }, { store, compute: failed, tokens, now });
    assert.equal(failed.ended.length, 1);
    const broken = await finishRun({ run, end: { status: 'FAILED', error: 'RayJobFailed', cause: 'boom' } }, { store, compute: new EndingCompute(true), tokens, now });
    assert.match((broken.runEnded as { error: string }).error, /^ComputeUnavailable: /);
    assert.equal((await store.getJson<RunRecord>(runRecordUri(run.artifactRoot, run.pipeline, run.runId)))?.status, 'FAILED');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('execution-ended (ABORTED, TIMED_OUT, FAILED) ends the run\'s compute, also when run.json already says it ended', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sentinel-run-cluster-'));
  try {
    const store = new LocalObjectStore();
    const tokens = new FileTokenStore(join(root, 'tokens'));
    const run = { ...referenceRun(), artifactRoot: join(root, 'artifacts') };
    const uri = runRecordUri(run.artifactRoot, run.pipeline, run.runId);
    for (const status of ['ABORTED', 'TIMED_OUT', 'FAILED'] as const) {
      await store.putJson(uri, { pipeline: run.pipeline, runId: run.runId, status: 'RUNNING', trigger: run.trigger, datasetUri: run.datasetUri, startedAt: '2026-12-02T01:00:00Z' } satisfies RunRecord);
      const compute = new EndingCompute();
      const detail = { executionArn: 'arn:x', stateMachineArn: 'arn:y', name: `${run.pipeline}-${run.runId}`, status, input: JSON.stringify({ run }) };
      const res = await executionEnded(detail, { compute, tokens, store, artifactRoot: run.artifactRoot, now: () => new Date() });
      assert.deepEqual(compute.ended, [{ pipeline: run.pipeline, runId: run.runId }], status);
      assert.deepEqual(res.runEnded, { deleted: [runClusterNameFor(run.pipeline, run.runId)] });
      // Redelivered, after the record: the cluster is asked to go again (idempotent), the record stays.
      const again = await executionEnded(detail, { compute, tokens, store, artifactRoot: run.artifactRoot, now: () => new Date() });
      assert.equal(again.record, 'already-ended');
      assert.equal(compute.ended.length, 2);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the Ray Jobs backend has nothing per run and says so', async () => {
  const r = await new RayJobsCompute({ dashboard: { url: 'http://127.0.0.1:9' } } as ConstructorParameters<typeof RayJobsCompute>[0]).endRun();
  assert.deepEqual(r.deleted, []);
  assert.match(r.note ?? '', /shared Ray head/);
});
