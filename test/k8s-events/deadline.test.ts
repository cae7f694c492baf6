// KubeRay v1.7's DeadlineExceeded on the real API server, with the real operator and a real Ray head behind it: a
// stage still running on Ray when its activeDeadlineSeconds passes is marked by the operator
// `jobDeploymentStatus=Failed, reason=DeadlineExceeded`, with `jobStatus=RUNNING` left as it was and the Ray job left
// running (rayjob_controller.go checkActiveDeadlineAndUpdateStatusIfNeeded). The watcher (as the Lambdas' identity,
// with only the project's RBAC) publishes the job's end, then deletes the RayJob, which is what makes the operator's
// finalizer stop the Ray job. finish-run and execution-ended do the same on a failed or aborted run. Every RayJob
// status here is the operator's: the tests write none.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { createRayJob, isRunning, isSucceeded, lambdaContext, rayClusterManifest, RecordingPublisher, Releases, startOperatorWorld, until, type OperatorWorld } from './support.js';
import { newRunId } from '../k8s/conformance.js';
import { IN_FLIGHT_LABEL, SETTLED } from '../../core/names.js';
import { watchJobs } from '../../core/watch-jobs.js';
import { isSlotName, watchScheduleStem } from '../../core/arming.js';
import type { OneTimeSchedulesPort, TokenStore } from '../../core/ports.js';

/**
 * The stage timeout of the jobs that must pass it: long enough for the operator to have submitted the job to Ray
 * (within 1-4 s of its creation here, measured at load average 20; Ray may still call it PENDING then, which the
 * deadline leaves as it is too), short enough for CI. All the file's jobs are created at once, first of all, so the
 * waits overlap.
 */
const DEADLINE_S = 10;

let world: OperatorWorld;
let admin: KubeClient;
let lambda: KubeClient;
let ns: string; // the existing-cluster describe's namespace
let endedNs: string; // finish-run's and execution-ended's
let tmp: string;
const releases = new Releases();
const RAY_TERMINAL = ['SUCCEEDED', 'FAILED', 'STOPPED'];

// The jobs, created in before() (their deadlines run from then on) and awaited where they are used.
const jobs = { waiting: '', reported: '', appFailed: '', running: '', finishRun: '', ingest: '', train: '', tune: '', otherRun: '', inflightEnded: '' };
/** The in-flight describe's two running jobs, and the files that end them. */
const inflight = { running: [] as string[], release: [] as string[] };
const endedRun = newRunId();
let created = 0;

before(async () => {
  world = await startOperatorWorld({ name: 'deadline', namespaces: [{ prefix: 'deadline' }, { prefix: 'ended' }, { prefix: 'inflight' }] });
  ({ admin, lambda } = world);
  ns = world.ns.deadline!;
  endedNs = world.ns.ended!;
  tmp = await mkdtemp(join(tmpdir(), 'sentinel-deadline-'));
  // One existing RayCluster per namespace (a head the simulated kubelet starts; Ray is the one local head).
  const managed = { labels: { 'app.kubernetes.io/managed-by': 'sentinel' } };
  const spaces = [ns, endedNs, world.ns.inflight!];
  await Promise.all(spaces.map((n) => admin.create('rayclusters', n, rayClusterManifest('shared', managed))));
  const t0 = Date.now();
  await Promise.all(spaces.map((n) => world.untilClusterReady(n, 'shared')));
  process.stdout.write(`# clusters ready in ${Date.now() - t0} ms\n`);
  const runs = () => ({ runs: { release: releases.next() } });
  const job = async (n: string, o: Parameters<typeof createRayJob>[2]) => (await createRayJob(admin, n, { clusterSelector: 'shared', ...o })).name;
  const past = { behaviour: runs(), timeoutSeconds: DEADLINE_S };
  created = Date.now();
  [jobs.waiting, jobs.reported, jobs.appFailed, jobs.running, jobs.finishRun, jobs.ingest, jobs.train, jobs.tune, jobs.otherRun, jobs.inflightEnded] = await Promise.all([
    job(ns, { ...past }), // past its deadline, a task waiting on it
    job(ns, { behaviour: runs(), timeoutSeconds: DEADLINE_S }), // past its deadline, its end already reported (no token)
    job(ns, { behaviour: 'fails' }), // failed by itself: nothing to stop
    job(ns, { behaviour: runs() }), // still within its deadline
    job(endedNs, { behaviour: runs(), timeoutSeconds: DEADLINE_S }), // a failed run's job, past its deadline
    // An execution aborted mid-run: its ingest finished, its train runs, its tune passed its deadline; another run's train runs.
    job(endedNs, { runId: endedRun, stage: 'ingest' }),
    job(endedNs, { runId: endedRun, stage: 'train', behaviour: runs() }),
    job(endedNs, { runId: endedRun, stage: 'tune', behaviour: runs(), timeoutSeconds: DEADLINE_S }),
    job(endedNs, { stage: 'train', behaviour: runs() }),
    job(world.ns.inflight!, {}), // the in-flight describe's job that has just ended
  ]);
  inflight.release = [releases.next(), releases.next()];
  inflight.running = await Promise.all(inflight.release.map((release) => job(world.ns.inflight!, { behaviour: { runs: { release } } })));
});
after(async () => {
  await releases.releaseAll();
  await world?.stop();
  await releases.remove();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const pastDeadline = (s: RayJobStatusFields) => s.jobDeploymentStatus === 'Failed' && s.reason === 'DeadlineExceeded';

type RayJobMeta = { metadata: { deletionTimestamp?: string; finalizers?: string[] } };
async function meta(name: string, n = ns): Promise<RayJobMeta['metadata'] | undefined> {
  try {
    return (await admin.get<RayJobMeta>('rayjobs', n, name)).metadata;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}
/** Deleted, or (no garbage collector here to finish a Foreground deletion) marked for deletion. */
const deleted = async (name: string, n = ns) => {
  const m = await meta(name, n);
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
  const tokens = () => new FileTokenStore(join(tmp, 'tokens'));

  before(async () => {
    const { waiting, reported, appFailed, running } = jobs;
    await Promise.all([
      world.untilStatus(ns, waiting, 'past its deadline', pastDeadline),
      world.untilStatus(ns, reported, 'past its deadline', pastDeadline),
      world.untilStatus(ns, appFailed, 'failed', (s) => s.jobDeploymentStatus === 'Failed'),
      world.untilStatus(ns, running, 'running', isRunning),
    ]);
    for (const j of [waiting, appFailed, running]) await tokens().put(j, `token-${j}`);
    process.stdout.write(`# the operator's statuses for the deadline describe ${Date.now() - created} ms after the jobs were created\n`);
  });

  test('the operator gave up on it while Ray still runs it: the adapter reads STOPPED (RayJobStopped: DeadlineExceeded) that still needs stopping', async () => {
    const { waiting, appFailed, running } = jobs;
    const status = (await world.rayJob(ns, waiting)).status!;
    assert.equal(RAY_TERMINAL.includes(status.jobStatus ?? ''), false, `jobStatus left as it was: ${status.jobStatus}`);
    const ray = await world.rayRecord(waiting);
    assert.ok(ray && !RAY_TERMINAL.includes(ray.status ?? ''), `Ray still runs it: ${JSON.stringify(ray)}`);
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const s = (await compute.get(waiting))!;
    assert.equal(s.state, 'STOPPED');
    assert.equal(s.reason, 'DeadlineExceeded');
    assert.equal(s.needsStop, true);
    const outcome = stageOutcome(s);
    assert.equal(outcome.kind === 'failed' && outcome.error, 'RayJobStopped');
    const failed = (await compute.get(appFailed))!;
    assert.deepEqual([failed.state, failed.reason, failed.needsStop], ['FAILED', 'AppFailed', undefined]);
    assert.equal((await compute.get(running))!.needsStop, undefined);
  });

  test('the watcher publishes its end, then deletes it (and the reported one), and the operator stops it on Ray; the others stay', async () => {
    const { waiting, reported, appFailed, running } = jobs;
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
    // The delete is what ends it on Ray: the operator's finalizer calls the Jobs API's stop.
    await until(`Ray's record of ${waiting}`, () => world.rayRecord(waiting), (r) => r?.status === 'STOPPED', { context: () => world.operator.tail(20) });
    assert.notEqual((await world.rayRecord(running))?.status, 'STOPPED', 'the job within its deadline runs on');
  });

  test('a RayJob already being deleted is not deleted again; it reads as STOPPED', async () => {
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const s = await compute.get(jobs.waiting);
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
    const job = jobs.finishRun;
    await world.untilStatus(endedNs, job, 'past its deadline', pastDeadline);
    const compute = new KubeRayCompute({ client: lambda, namespace: endedNs });
    assert.equal((await compute.get(job))!.needsStop, true);
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
    assert.equal(await deleted(job, endedNs), true);
  });
});

describe('an execution stopped mid-run (Step Functions ABORTED): execution-ended deletes the run\'s RayJobs', () => {
  test('running and deadline-exceeded jobs of the run are deleted, finished ones and other runs\' stay; run.json says CANCELLED', async () => {
    const { createExecutionEndedHandler } = await import('../../functions/execution-ended.js');
    const { runRecordUri } = await import('../../core/artifacts.js');
    const runId = endedRun;
    const { ingest, train, tune, otherRun } = jobs;
    await Promise.all([
      world.untilStatus(endedNs, ingest, 'succeeded', isSucceeded),
      world.untilStatus(endedNs, train, 'running', isRunning),
      world.untilStatus(endedNs, tune, 'past its deadline', pastDeadline),
      world.untilStatus(endedNs, otherRun, 'running', isRunning),
    ]);
    process.stdout.write(`# the operator's statuses for the aborted run ${Date.now() - created} ms after the jobs were created\n`);
    const started = new Date(Date.now() - 10 * 60_000);
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
    const compute = new KubeRayCompute({ client: lambda, namespace: endedNs });
    const handler = createExecutionEndedHandler({ compute, tokens, store, artifactRoot: root, now: () => new Date() });
    const res = await handler(event, lambdaContext('execution-ended'));
    assert.deepEqual([...res.stoppedJobs].sort(), [train, tune].sort());
    assert.equal(await deleted(train, endedNs), true);
    assert.equal(await deleted(tune, endedNs), true);
    assert.equal(await deleted(ingest, endedNs), false);
    assert.equal(await deleted(otherRun, endedNs), false);
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
// "false") and drops out of the next tick; with nothing in flight the tick arms nothing. The jobs in flight run on
// Ray through the operator and end when the test releases them.
/** Enough to tell a per-history cost from a per-flight one, small enough for CI (one create each). */
const HISTORY = 120;
/**
 * v1.7 leaves a RayJob whose spec.managedBy names another controller alone (rayjob_controller.go: "Skipping RayJob
 * managed by a custom controller"). The history carries it so the operator does not start 120 clusters here for
 * RayJobs that, on a real cluster, it finished with long ago; the watcher reads only their labels.
 */
const LEFT_ALONE = 'kueue.x-k8s.io/multikueue';

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
  let inflightNs = '';
  before(() => {
    inflightNs = world.ns.inflight!;
  });

  test(`with ${HISTORY} earlier RayJobs in the namespace, a tick lists and looks up only the ones in flight`, async () => {
    const t0 = Date.now();
    // History: settled by an earlier watcher, or from before the label existed.
    await inBatches(HISTORY, 16, (i) =>
      createRayJob(admin, inflightNs, {
        clusterSelector: 'shared',
        edit: (m) => {
          if (i % 3 === 0) delete m.metadata.labels[IN_FLIGHT_LABEL];
          else m.metadata.labels[IN_FLIGHT_LABEL] = SETTLED;
          (m.spec as unknown as Record<string, unknown>).managedBy = LEFT_ALONE;
        },
      }),
    );
    const setupMs = Date.now() - t0;
    // In flight, created with the file's other jobs (on the namespace's existing cluster): two running, one just ended.
    const { running, release } = inflight;
    const justEnded = jobs.inflightEnded;
    await Promise.all([...running.map((j) => world.untilStatus(inflightNs, j, 'running', isRunning)), world.untilStatus(inflightNs, justEnded, 'succeeded', isSucceeded)]);

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
    assert.deepEqual([tick1.published, tick1.heartbeats, tick1.inFlight], [1, 2, 3]);
    assert.equal(armed.length, 1, 'the next watch slot armed once');
    assert.ok(isSlotName(watchScheduleStem('sentinel-k8s'), armed[0]!), `a watch slot: ${armed[0]}`);

    // The consumer completes the ended job's task; the running ones end on Ray and their completions are pushed too.
    for (const j of [justEnded, ...running]) await tokens.delete(j);
    for (const r of release) await releases.release(r);
    await Promise.all(running.map((j) => world.untilStatus(inflightNs, j, 'succeeded once released', isSucceeded)));
    const tick2 = await watchJobs(deps);
    assert.deepEqual([tick2.listed, tick2.settled, tick2.inFlight, tick2.rearmed], [3, 3, 0, undefined]);
    const labels = (await admin.get<{ metadata: { labels: Record<string, string> } }>('rayjobs', inflightNs, justEnded)).metadata.labels;
    assert.equal(labels[IN_FLIGHT_LABEL], SETTLED);
    assert.equal(labels['sentinel.dev/run'] !== undefined, true, 'its identity labels stay');
    assert.equal(((await admin.get<{ status?: unknown }>('rayjobs', inflightNs, everything.find((j) => !running.includes(j.jobId) && j.jobId !== justEnded)!.jobId)).status), undefined, 'the operator left the history alone');

    // Nothing in flight: the next (late) tick lists nothing, looks up nothing, arms nothing.
    tokens.lookups = 0;
    armed.length = 0;
    const tick3 = await watchJobs(deps);
    assert.deepEqual([tick3.listed, tokens.lookups, armed], [0, 0, []]);
    process.stdout.write(`# ${HISTORY} earlier RayJobs created in ${setupMs} ms; the in-flight tick listed ${tick1.listed} of ${everything.length}\n`);
  });
});
