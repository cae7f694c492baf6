// KubeRay v1.7's DeadlineExceeded on the real API server: the operator marks a RayJob past activeDeadlineSeconds
// `jobDeploymentStatus=Failed, reason=DeadlineExceeded` and leaves `jobStatus=RUNNING` and the Ray job running
// (rayjob_controller.go checkActiveDeadlineAndUpdateStatusIfNeeded; the status it writes is reproduced below).
// The watcher (as the Lambdas' identity, with only the project's RBAC) publishes the job's end, then deletes the
// RayJob, which is what makes the operator's finalizer stop the Ray job. finish-run does the same on a failed run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKube, type KubeHarness } from '../k8s/harness.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { createWatchJobsHandler } from '../../functions/watch-jobs.js';
import { finishRun } from '../../core/finish-run.js';
import { FileTokenStore } from '../../local/token-store.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { JOB_EVENT_DETAIL_TYPE, type JobStateChangeDetail } from '../../events/job-state-change.js';
import { stageOutcome } from '../../core/job-status.js';
import type { RayJobStatusFields } from '../../core/kuberay/status.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import type { TaskCallbacks } from '../../core/ports.js';
import { applyRbac, createRayJob, lambdaContext, rayClusterManifest, RecordingPublisher } from './support.js';
import { conformanceRequest, newRunId } from '../k8s/conformance.js';
import { rayJobFor } from '../../core/kuberay/rayjob.js';
import { IN_FLIGHT_LABEL, SETTLED } from '../../core/names.js';
import { watchJobs } from '../../core/watch-jobs.js';
import type { OneTimeSchedulesPort, TokenStore } from '../../core/ports.js';

let kube: KubeHarness;
let admin: KubeClient;
let lambda: KubeClient;
let ns: string;
let tmp: string;

before(async () => {
  kube = await startKube();
  ns = await kube.namespace('deadline');
  await applyRbac(kube, ns);
  admin = kube.client('admin');
  lambda = kube.client('lambda');
  tmp = await mkdtemp(join(tmpdir(), 'sentinel-deadline-'));
});
after(async () => {
  admin?.close();
  lambda?.close();
  await kube?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const started = new Date(Date.now() - 10 * 60_000);
/** What v1.7 writes when activeDeadlineSeconds passes while the job runs: jobStatus untouched, endTime set. */
const deadlineStatus = (jobId: string, cluster: string, deadline = 300): RayJobStatusFields =>
  ({
    jobStatus: 'RUNNING',
    jobDeploymentStatus: 'Failed',
    reason: 'DeadlineExceeded',
    message: `The RayJob has passed the activeDeadlineSeconds. StartTime: ${started.toISOString()}. ActiveDeadlineSeconds: ${deadline}`,
    jobId,
    rayClusterName: cluster,
    dashboardURL: `${cluster}-head-svc.${ns}.svc.cluster.local:8265`,
    startTime: started.toISOString(),
    endTime: new Date().toISOString(),
    failed: 1,
    succeeded: 0,
  }) as RayJobStatusFields;

type RayJobMeta = { metadata: { deletionTimestamp?: string; finalizers?: string[] } };
async function meta(name: string): Promise<RayJobMeta['metadata'] | undefined> {
  try {
    return (await admin.get<RayJobMeta>('rayjobs', ns, name)).metadata;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}
/** Deleted, or (no garbage collector here to finish a Foreground deletion) marked for deletion. */
const deleted = async (name: string) => {
  const m = await meta(name);
  return !m || Boolean(m.deletionTimestamp);
};

const heartbeats: string[] = [];
const callbacks: TaskCallbacks = {
  success: async () => 'ok',
  failure: async () => 'ok',
  heartbeat: async (t) => {
    heartbeats.push(t);
    return 'ok';
  },
};

describe('a RayJob past its deadline on an existing cluster', () => {
  let waiting: string; // past its deadline, a task waiting on it
  let reported: string; // past its deadline, its end already reported (no token)
  let appFailed: string; // failed by itself: nothing to stop
  let running: string; // still within its deadline
  const tokens = () => new FileTokenStore(join(tmp, 'tokens'));

  before(async () => {
    await admin.create('rayclusters', ns, rayClusterManifest('shared', { labels: { 'app.kubernetes.io/managed-by': 'sentinel' } }));
    waiting = (await createRayJob(admin, ns, { clusterSelector: 'shared' })).name;
    await admin.patch('rayjobs', ns, waiting, [{ op: 'add', path: '/status', value: deadlineStatus('raysubmit_w', 'shared') }], 'status');
    reported = (await createRayJob(admin, ns, { clusterSelector: 'shared' })).name;
    await admin.patch('rayjobs', ns, reported, [{ op: 'add', path: '/status', value: deadlineStatus('raysubmit_r', 'shared') }], 'status');
    appFailed = (await createRayJob(admin, ns, { clusterSelector: 'shared', status: { jobStatus: 'FAILED', jobDeploymentStatus: 'Failed', reason: 'AppFailed', message: 'exit code 1' } })).name;
    running = (await createRayJob(admin, ns, { clusterSelector: 'shared', status: { jobStatus: 'RUNNING', jobDeploymentStatus: 'Running', startTime: started.toISOString() } })).name;
    for (const j of [waiting, appFailed, running]) await tokens().put(j, `token-${j}`);
  });

  test('the adapter reads it as STOPPED (RayJobStopped: DeadlineExceeded) that still needs stopping', async () => {
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const s = (await compute.get(waiting))!;
    assert.equal(s.state, 'STOPPED');
    assert.equal(s.reason, 'DeadlineExceeded');
    assert.equal(s.needsStop, true);
    const outcome = stageOutcome(s);
    assert.equal(outcome.kind === 'failed' && outcome.error, 'RayJobStopped');
    assert.equal((await compute.get(appFailed))!.needsStop, undefined);
    assert.equal((await compute.get(running))!.needsStop, undefined);
  });

  test('the watcher publishes its end, then deletes it (and the reported one); the others stay', async () => {
    const publisher = new RecordingPublisher();
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const watch = createWatchJobsHandler({ compute, tokens: tokens(), callbacks, publisher, now: () => new Date(), artifactRoot: 's3://b/artifacts' });
    const res = await watch({}, lambdaContext('watch-jobs'));
    // Published before the delete: the task waiting on the job fails with the deadline's reason.
    const ends = publisher.events.filter((e) => e['detail-type'] === JOB_EVENT_DETAIL_TYPE).map((e) => e.detail as JobStateChangeDetail);
    assert.deepEqual(ends.map((d) => [d.jobId, d.state, d.reason]).sort(), [
      [appFailed, 'FAILED', 'AppFailed'],
      [waiting, 'STOPPED', 'DeadlineExceeded'],
    ].sort());
    assert.match(ends.find((d) => d.jobId === waiting)!.message ?? '', /activeDeadlineSeconds/);
    assert.deepEqual([...res.stopped].sort(), [reported, waiting].sort());
    assert.equal(await deleted(waiting), true);
    assert.equal(await deleted(reported), true);
    assert.equal(await deleted(appFailed), false);
    assert.equal(await deleted(running), false);
    assert.deepEqual(heartbeats, [`token-${running}`]);
  });

  test('a RayJob already being deleted is not deleted again; it reads as STOPPED', async () => {
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const s = await compute.get(waiting);
    // The Foreground deletion's finalizer keeps it here (no garbage collector runs beside this API server).
    if (s) {
      assert.equal(s.state, 'STOPPED');
      assert.equal(s.needsStop, undefined);
    }
    const publisher = new RecordingPublisher();
    const watch = createWatchJobsHandler({ compute, tokens: tokens(), callbacks, publisher, now: () => new Date(), artifactRoot: 's3://b/artifacts' });
    const res = await watch({}, lambdaContext('watch-jobs'));
    assert.deepEqual(res.stopped, []);
  });

  test('finish-run of a failed run deletes a job of the run left running past its deadline', async () => {
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const job = (await createRayJob(admin, ns, { clusterSelector: 'shared' })).name;
    await admin.patch('rayjobs', ns, job, [{ op: 'add', path: '/status', value: deadlineStatus('raysubmit_f', 'shared') }], 'status');
    const labels = (await compute.get(job))!.labels;
    const store = new LocalObjectStore();
    const root = join(tmp, 'bucket');
    const run = {
      pipeline: labels['sentinel.dev/pipeline']!,
      runId: labels['sentinel.dev/run']!,
      trigger: { kind: 'manual', requestId: 'deadline' },
      artifactRoot: root,
      datasetUri: join(root, 'd.csv'),
      requestedAt: new Date().toISOString(),
    } as never;
    const res = await finishRun({ run, end: { status: 'FAILED', error: 'RayJobStopped', cause: 'DeadlineExceeded' } }, { store, compute, tokens: tokens(), now: () => new Date() });
    assert.deepEqual(res.stoppedJobs, [job]);
    assert.equal(await deleted(job), true);
  });
});

describe('an execution stopped mid-run (Step Functions ABORTED): execution-ended deletes the run\'s RayJobs', () => {
  test('running and deadline-exceeded jobs of the run are deleted, finished ones and other runs\' stay; run.json says CANCELLED', async () => {
    const { conformanceRequest, newRunId } = await import('../k8s/conformance.js');
    const { rayJobFor } = await import('../../core/kuberay/rayjob.js');
    const { createExecutionEndedHandler } = await import('../../functions/execution-ended.js');
    const { runRecordUri } = await import('../../core/artifacts.js');
    const runId = newRunId();
    const make = async (stage: 'ingest' | 'train' | 'tune', status: RayJobStatusFields, run = runId) => {
      const m = rayJobFor(conformanceRequest(run, stage), { namespace: ns });
      await admin.create('rayjobs', ns, m);
      await admin.patch('rayjobs', ns, m.metadata.name, [{ op: 'add', path: '/status', value: status }], 'status');
      return m.metadata.name;
    };
    const ingest = await make('ingest', { jobStatus: 'SUCCEEDED', jobDeploymentStatus: 'Complete' });
    const train = await make('train', { jobStatus: 'RUNNING', jobDeploymentStatus: 'Running', startTime: started.toISOString() });
    const tune = await make('tune', deadlineStatus('raysubmit_t', `${runId}-tune`));
    const otherRun = await make('train', { jobStatus: 'RUNNING', jobDeploymentStatus: 'Running' }, newRunId());
    const tokens = new FileTokenStore(join(tmp, 'ended-tokens'));
    await tokens.put(train, 'token-train');
    const store = new LocalObjectStore();
    const root = join(tmp, 'ended-bucket', 'artifacts');
    await store.putJson(runRecordUri(root, 'conformance', runId), { pipeline: 'conformance', runId, status: 'RUNNING', trigger: { kind: 'manual', requestId: 'x' }, datasetUri: 'd', startedAt: started.toISOString() });
    const event = {
      version: '0',
      id: 'e-1',
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      account: '123456789012',
      region: 'us-east-1',
      time: new Date().toISOString(),
      resources: [`arn:aws:states:us-east-1:123456789012:execution:sentinel-dev-pipeline:conformance-${runId}`],
      detail: {
        executionArn: `arn:aws:states:us-east-1:123456789012:execution:sentinel-dev-pipeline:conformance-${runId}`,
        stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:sentinel-dev-pipeline',
        name: `conformance-${runId}`,
        status: 'ABORTED',
        startDate: started.getTime(),
        stopDate: Date.now(),
        input: JSON.stringify({ run: { pipeline: 'conformance', runId, artifactRoot: root } }),
        error: null,
        cause: null,
      },
    };
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const handler = createExecutionEndedHandler({ compute, tokens, store, artifactRoot: root, now: () => new Date() });
    const res = await handler(event, lambdaContext('execution-ended'));
    assert.deepEqual([...res.stoppedJobs].sort(), [train, tune].sort());
    assert.equal(await deleted(train), true);
    assert.equal(await deleted(tune), true);
    assert.equal(await deleted(ingest), false);
    assert.equal(await deleted(otherRun), false);
    assert.equal(await tokens.get(train), undefined);
    const rec = (await store.getJson<{ status: string; ended?: { by: string } }>(runRecordUri(root, 'conformance', runId)))!;
    assert.deepEqual([rec.status, rec.ended?.by], ['CANCELLED', 'execution-ended']);
    // Redelivered: nothing left to delete, the record stays.
    const again = await handler(event, lambdaContext('execution-ended'));
    assert.deepEqual([again.stoppedJobs, again.record], [[], 'already-ended']);
  });
});

// The watcher's cost follows the stages in flight, not the history (issue 10 item 1), on the same API server as the
// Lambdas' identity: with many earlier RayJobs in the namespace (settled by an earlier watcher, or from before the
// label existed), a tick lists only the RayJobs labelled in flight (sentinel.dev/in-flight=true, set at creation)
// and looks up a token for those alone. An ended job whose completion was consumed (token gone) is settled (label
// "false") and drops out of the next tick; with nothing in flight the tick arms nothing.
/** Enough to tell a per-history cost from a per-flight one, small enough for CI (one create each). */
const HISTORY = 120;
let inflightNs = '';
const finishedStatus = (): RayJobStatusFields => ({ jobStatus: 'SUCCEEDED', jobDeploymentStatus: 'Complete', startTime: new Date(Date.now() - 600_000).toISOString(), endTime: new Date(Date.now() - 300_000).toISOString() }) as RayJobStatusFields;

/** A RayJob as KubeRayCompute creates it, optionally as history (settled, or from before the label existed). */
async function create(o: { status?: RayJobStatusFields; history?: 'settled' | 'unlabelled' }): Promise<string> {
  const m = rayJobFor(conformanceRequest(newRunId(), 'train'), { namespace: inflightNs });
  if (o.history === 'settled') m.metadata.labels[IN_FLIGHT_LABEL] = SETTLED;
  if (o.history === 'unlabelled') delete m.metadata.labels[IN_FLIGHT_LABEL];
  await admin.create('rayjobs', inflightNs, m);
  if (o.status) await admin.patch('rayjobs', inflightNs, m.metadata.name, [{ op: 'add', path: '/status', value: o.status }], 'status');
  return m.metadata.name;
}

async function inBatches<T>(n: number, width: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += width) out.push(...(await Promise.all(Array.from({ length: Math.min(width, n - i) }, (_, k) => make(i + k)))));
  return out;
}

class CountingTokens implements TokenStore {
  readonly map = new Map<string, string>();
  lookups = 0;
  async put(j: string, t: string) {
    this.map.set(j, t);
  }
  async get(j: string) {
    this.lookups++;
    return this.map.get(j);
  }
  async delete(j: string) {
    this.map.delete(j);
  }
}
const quietCallbacks: TaskCallbacks = { success: async () => 'ok', failure: async () => 'ok', heartbeat: async () => 'ok' };

describe('the watcher follows the stages in flight, not the history', () => {
  before(async () => {
    inflightNs = await kube.namespace('inflight');
    await applyRbac(kube, inflightNs);
  });

test(`with ${HISTORY} earlier RayJobs in the namespace, a tick lists and looks up only the ones in flight`, async () => {
  const t0 = Date.now();
  // History: settled by an earlier watcher, or from before the label existed (no status written: the list cost is
  // in the objects' number, and neither kind may be listed).
  await inBatches(HISTORY, 16, (i) => create({ history: i % 3 === 0 ? 'unlabelled' : 'settled' }));
  const running = await Promise.all([0, 1].map(() => create({ status: { jobStatus: 'RUNNING', jobDeploymentStatus: 'Running' } as RayJobStatusFields })));
  const justEnded = await create({ status: finishedStatus() });
  const setupMs = Date.now() - t0;

  const tokens = new CountingTokens();
  for (const j of [...running, justEnded]) await tokens.put(j, `token-${j}`);
  const armed: string[] = [];
  const schedules: OneTimeSchedulesPort = { arm: async (name) => void armed.push(name) };
  const compute = new KubeRayCompute({ client: lambda, namespace: inflightNs });
  const publisher = new RecordingPublisher();
  const deps = { compute, tokens, callbacks: quietCallbacks, publisher, now: () => new Date(), artifactRoot: 's3://b/artifacts', rearm: { schedules, prefix: 'sentinel-k8s', everyMs: 60_000 } };

  // What the old watcher listed: every managed RayJob.
  const everything = await compute.list({ 'app.kubernetes.io/managed-by': 'sentinel' });
  assert.equal(everything.length, HISTORY + 3);

  const calls0 = lambda.calls;
  const tick1 = await watchJobs(deps);
  assert.equal(tick1.listed, 3, 'only the RayJobs in flight');
  assert.equal(tokens.lookups, 3, 'one token lookup per job in flight, none for the history');
  assert.equal(lambda.calls - calls0, 1, 'one list request (one page), nothing else on the API server');
  assert.deepEqual([tick1.published, tick1.heartbeats, tick1.inFlight, armed.map((n) => n.replace(/-[0-9]+$/, ''))], [1, 2, 3, ['sentinel-k8s-watch']], 'one watcher slot armed (<prefix>-watch-<epoch s>)');

  // The consumer completes the ended job's task; the running ones end and their completions are pushed too.
  for (const j of [justEnded, ...running]) await tokens.delete(j);
  for (const j of running) await admin.patch('rayjobs', inflightNs, j, [{ op: 'replace', path: '/status', value: finishedStatus() }], 'status');
  const tick2 = await watchJobs(deps);
  assert.deepEqual([tick2.listed, tick2.settled, tick2.inFlight, tick2.rearmed], [3, 3, 0, undefined]);
  const labels = (await admin.get<{ metadata: { labels: Record<string, string> } }>('rayjobs', inflightNs, justEnded)).metadata.labels;
  assert.equal(labels[IN_FLIGHT_LABEL], SETTLED);
  assert.equal(labels['sentinel.dev/run'] !== undefined, true, 'its identity labels stay');

  // Nothing in flight: the next (late) tick lists nothing, looks up nothing, arms nothing.
  tokens.lookups = 0;
  armed.length = 0;
  const tick3 = await watchJobs(deps);
  assert.deepEqual([tick3.listed, tokens.lookups, armed], [0, 0, []]);
  process.stdout.write(`# ${HISTORY} earlier RayJobs created in ${setupMs} ms; the in-flight tick listed ${tick1.listed} of ${everything.length}\n`);
});
});
