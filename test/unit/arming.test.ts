// Zero idle cost (core/arming.ts): the watcher is armed by each submit and re-arms itself only while stages are in
// flight; the reaper is armed by a run's end and re-arms itself only for work it left for later (idle clusters not
// yet idle long enough, finished jobs within their retention, node groups draining). With nothing in flight and
// nothing left, no schedule is armed: an idle deployment invokes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { armReaperAfterRun, armWatcher, isSlotName, reapScheduleName, reapScheduleStem, REAP_TICK, tryArm, watchScheduleName, watchScheduleStem, WATCH_TICK } from '../../core/arming.js';
import { watchJobs } from '../../core/watch-jobs.js';
import { DRAIN_RECHECK_MS, planReap, reapIdle } from '../../core/reaper.js';
import type { CallbackResult, ClusterActivity, ComputePort, OneTimeSchedulesPort, RayClusterInfo, TokenStore } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import { createSubmitStageHandler } from '../../functions/submit-stage.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { referenceRun } from '../support/reference.js';
import { MemoryTokens } from '../support/fakes.js';

const NOW = new Date('2026-12-02T02:00:00.000Z');
const MIN = 60_000;

/** An in-memory OneTimeSchedulesPort: arming a name that exists replaces it, as EventBridge Scheduler's upsert does. */
function memorySchedules() {
  const armed = new Map<string, { at: Date; input: unknown }>();
  const calls: string[] = [];
  const port: OneTimeSchedulesPort = {
    arm: async (name, at, input) => void (calls.push(name), armed.set(name, { at, input })),
    disarm: async (name) => void armed.delete(name),
  };
  return { port, armed, calls };
}

test('schedule names and inputs: a watcher slot per interval and a reaper slot per minute, named by fire time', async () => {
  const at = (iso: string) => new Date(iso);
  assert.equal(watchScheduleName('sentinel-dev', at('2026-12-02T02:01:00Z')), 'sentinel-dev-watch-1796176860');
  assert.equal(reapScheduleName('sentinel-dev', at('2026-12-02T02:15:00Z')), 'sentinel-dev-reap-1796177700');
  assert.equal(isSlotName(watchScheduleStem('sentinel-dev'), 'sentinel-dev-watch-1796176860'), true);
  assert.equal(isSlotName(watchScheduleStem('sentinel-dev'), 'sentinel-dev-watch'), false);
  assert.equal(isSlotName(watchScheduleStem('sentinel-dev'), 'sentinel-dev-watch-12x'), false);
  assert.equal(isSlotName(reapScheduleStem('sentinel-dev'), 'sentinel-dev-watch-1796176860'), false);
  const s = memorySchedules();
  const w = await armWatcher({ schedules: s.port, prefix: 'sentinel-dev', everyMs: MIN }, NOW);
  assert.deepEqual(w, { name: 'sentinel-dev-watch-1796176860', at: '2026-12-02T02:01:00.000Z' });
  assert.deepEqual(s.armed.get(w.name), { at: at('2026-12-02T02:01:00.000Z'), input: WATCH_TICK });
  // Every arm within one interval is the same slot: still one schedule, one tick.
  const again = await armWatcher({ schedules: s.port, prefix: 'sentinel-dev', everyMs: MIN }, new Date(NOW.getTime() - 20_000));
  assert.deepEqual(again, w);
  // Half an interval later: the next slot boundary at least one interval away.
  const later = await armWatcher({ schedules: s.port, prefix: 'sentinel-dev', everyMs: MIN }, new Date(NOW.getTime() + 30_500));
  assert.deepEqual(later, { name: 'sentinel-dev-watch-1796176920', at: '2026-12-02T02:02:00.000Z' });
  // The reaper: the run's end + the idle time, to the minute; never in the past (a late call arms the next minute).
  const r = await armReaperAfterRun({ schedules: s.port, prefix: 'sentinel-dev', idleMs: 15 * MIN }, NOW, NOW);
  assert.deepEqual(r, { name: 'sentinel-dev-reap-1796177700', at: '2026-12-02T02:15:00.000Z' });
  assert.deepEqual(s.armed.get(r.name)!.input, REAP_TICK);
  const odd = await armReaperAfterRun({ schedules: s.port, prefix: 'sentinel-dev', idleMs: 15 * MIN }, new Date(NOW.getTime() + 1_000), NOW);
  assert.equal(odd.at, '2026-12-02T02:16:00.000Z', 'rounded up to the minute');
  const late = await armReaperAfterRun({ schedules: s.port, prefix: 'p', idleMs: MIN }, new Date(NOW.getTime() - 60 * MIN), NOW);
  assert.equal(late.at, '2026-12-02T02:01:00.000Z');
  // Best effort: a refused arm is reported with its error name, not thrown.
  const refused = await tryArm(() => Promise.reject(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' })));
  assert.deepEqual(refused, { error: 'AccessDeniedException: not authorized' });
});

test('the re-arm race: an arm made while a tick fires never names the firing schedule, so its deletion loses nothing', async () => {
  // Scheduler deletes an at() schedule after it has invoked its target. Play every arm time around a firing: a
  // submit-stage arming at the firing instant, just before it, or just after, and the tick re-arming itself.
  const everyMs = MIN;
  const s = memorySchedules();
  const first = await armWatcher({ schedules: s.port, prefix: 'sentinel-dev', everyMs }, NOW);
  const firesAt = Date.parse(first.at);
  for (const offset of [-everyMs + 5_001, -5_000, -1, 0, 1, 999, 30_000]) {
    const armed = await armWatcher({ schedules: s.port, prefix: 'sentinel-dev', everyMs }, new Date(firesAt + offset));
    assert.notEqual(armed.name, first.name, `an arm at firing ${offset >= 0 ? '+' : ''}${offset} ms names another schedule`);
    assert.ok(Date.parse(armed.at) >= firesAt + offset + 5_000, 'and fires after the lead');
  }
  // The firing one is deleted after it fired: what was armed meanwhile is all still there.
  s.armed.delete(first.name);
  assert.ok(s.armed.size >= 1);
  assert.ok([...s.armed.keys()].every((n) => isSlotName(watchScheduleStem('sentinel-dev'), n)));
  // An arm earlier than an interval before the firing may share its slot: that arm is long done when it fires.
  const early = await armWatcher({ schedules: s.port, prefix: 'sentinel-dev', everyMs }, new Date(firesAt - everyMs - 1));
  assert.equal(early.name, first.name);
});

/** A compute port with in-flight listing and settling (as KubeRayCompute does through a label). */
function inFlightCompute(jobs: Array<JobStatus & { settled?: boolean }>) {
  const calls = { list: 0, listInFlight: 0, settle: [] as string[], stop: [] as string[] };
  const compute = {
    backend: 'kuberay' as const,
    list: async () => (calls.list++, jobs),
    listInFlight: async () => (calls.listInFlight++, jobs.filter((j) => !j.settled)),
    settle: async (id: string) => void (calls.settle.push(id), Object.assign(jobs.find((j) => j.jobId === id)!, { settled: true })),
    stop: async (id: string) => void (calls.stop.push(id), jobs.splice(jobs.findIndex((j) => j.jobId === id), 1)),
  } as unknown as ComputePort;
  return { compute, calls };
}
const RUN = 'r012345678';
const job = (stage: string, state: JobStatus["state"], extra: Partial<JobStatus & { settled: boolean }> = {}): JobStatus & { settled?: boolean } => ({
  jobId: `bc-${RUN}-${stage}-1`,
  state,
  labels: {},
  ...(state === 'RUNNING' || state === 'PENDING' ? {} : { endTime: NOW.getTime() - MIN }),
  ...extra,
});
const callbacks = (beats: string[] = []) => ({ heartbeat: async (t: string): Promise<CallbackResult> => (beats.push(t), 'ok'), success: async () => 'ok' as const, failure: async () => 'ok' as const });

test('the watcher lists only jobs in flight, settles ended ones nobody waits on, re-arms only while any remain', async () => {
  const jobs = [job('ingest', 'SUCCEEDED'), job('train', 'RUNNING'), job('tune', 'FAILED', { settled: true })];
  const { compute, calls } = inFlightCompute(jobs);
  const tokens = new MemoryTokens();
  await tokens.put(jobs[0]!.jobId, 'tok-ingest');
  await tokens.put(jobs[1]!.jobId, 'tok-train');
  const s = memorySchedules();
  const published: unknown[] = [];
  const deps = { compute, tokens, callbacks: callbacks(), publisher: { publish: async (e: unknown[]) => void published.push(...e) }, now: () => NOW, artifactRoot: 's3://b/artifacts', rearm: { schedules: s.port, prefix: 'sentinel-dev', everyMs: MIN } };

  // Tick 1: ingest ended with its task waiting (published, still in flight), train runs: re-armed.
  const t1 = await watchJobs(deps);
  assert.deepEqual([calls.list, calls.listInFlight], [0, 1], 'the in-flight list, never the whole history');
  assert.equal(t1.listed, 2, 'the settled tune job is not listed');
  assert.deepEqual([t1.published, t1.heartbeats, t1.settled, t1.inFlight], [1, 1, 0, 2]);
  assert.deepEqual(t1.rearmed, { name: 'sentinel-dev-watch-1796176860', at: '2026-12-02T02:01:00.000Z' });

  // The consumer completes ingest's task (drops the token); train ends and its completion is pushed too.
  await tokens.delete(jobs[0]!.jobId);
  Object.assign(jobs[1]!, { state: 'SUCCEEDED', endTime: NOW.getTime() });
  await tokens.delete(jobs[1]!.jobId);
  s.calls.length = 0;
  const t2 = await watchJobs(deps);
  assert.deepEqual([t2.published, t2.settled, t2.inFlight], [0, 2, 0]);
  assert.deepEqual(calls.settle, [jobs[0]!.jobId, jobs[1]!.jobId]);
  assert.equal(t2.rearmed, undefined, 'nothing in flight: the watcher is not armed again');
  assert.deepEqual(s.calls, []);

  // Tick 3 (a late delivery): nothing listed, nothing armed, no token looked up.
  let lookups = 0;
  const counting: TokenStore = { get: async (id: string) => (lookups++, tokens.get(id)), put: (j, t) => tokens.put(j, t), delete: (j) => tokens.delete(j) };
  const t3 = await watchJobs({ ...deps, tokens: counting });
  assert.deepEqual([t3.listed, t3.inFlight, lookups, s.calls.length], [0, 0, 0, 0]);
});

test('the watcher deletes a job its backend left running past the deadline, and does not settle it', async () => {
  const jobs = [job('train', 'STOPPED', { needsStop: true })];
  const { compute, calls } = inFlightCompute(jobs);
  const res = await watchJobs({ compute, tokens: new MemoryTokens(), callbacks: callbacks(), publisher: { publish: async () => undefined }, now: () => NOW, artifactRoot: 's3://b/a' });
  assert.deepEqual([res.stopped, calls.settle, res.rearmed], [[`bc-${RUN}-train-1`], [], undefined]);
});

test('a refused re-arm is reported, and the tick still does its work', async () => {
  const { compute } = inFlightCompute([job('train', 'RUNNING')]);
  const tokens = new MemoryTokens();
  await tokens.put(`bc-${RUN}-train-1`, 't');
  const beats: string[] = [];
  const refusing: OneTimeSchedulesPort = { arm: async () => Promise.reject(Object.assign(new Error('throttled'), { name: 'ThrottlingException' })) };
  const res = await watchJobs({ compute, tokens, callbacks: callbacks(beats), publisher: { publish: async () => undefined }, now: () => NOW, artifactRoot: 's3://b/a', rearm: { schedules: refusing, prefix: 'p', everyMs: MIN } });
  assert.deepEqual([beats, res.rearmed], [['t'], { error: 'ThrottlingException: throttled' }]);
});

const cluster = (name: string, owner: RayClusterInfo['owner'], extra: Partial<RayClusterInfo> = {}): RayClusterInfo => ({ name, namespace: 'ml', suspended: false, owner, createdAt: 0, ...extra });
const T = NOW.getTime();

test('reap plan: finished, settled jobs past their retention are deleted; the next reap is the earliest work left', () => {
  const activity: ClusterActivity[] = [
    { cluster: 'a', state: 'SUCCEEDED', endTime: T - 2 * 60 * MIN, jobId: 'old' },
    { cluster: 'b', state: 'SUCCEEDED', endTime: T - 2 * 60 * MIN, jobId: 'old' }, // the same job on a second cluster: once
    { cluster: '', state: 'FAILED', endTime: T - 50 * MIN, jobId: 'recent' },
    { cluster: '', state: 'SUCCEEDED', endTime: T - 3 * 60 * MIN, jobId: 'unsettled', inFlight: true },
    { cluster: '', state: 'RUNNING', jobId: 'running' },
    { cluster: '', state: 'STOPPED', jobId: 'no-end' },
  ];
  const plan = planReap({ clusters: [], activity, nodeGroups: [], idleMs: 15 * MIN, now: T, retentionMs: 60 * MIN });
  assert.deepEqual(plan.deleteJobs, ['old']);
  assert.equal(plan.nextAt, T + 10 * MIN, '"recent" passes its retention in 10 minutes');
  // Without a retention, no job is deleted and none keeps the reaper coming back.
  const keep = planReap({ clusters: [], activity, nodeGroups: [], idleMs: 15 * MIN, now: T });
  assert.deepEqual([keep.deleteJobs, keep.nextAt], [[], undefined]);
  // A cluster idle for 5 of 15 minutes brings the reaper back in 10; one being reaped now with a node group still
  // holding Ray pods brings it back after the drain.
  const idle = planReap({ clusters: [cluster('c', 'none', { createdAt: T - 5 * MIN })], activity: [], nodeGroups: [], idleMs: 15 * MIN, now: T });
  assert.equal(idle.nextAt, T + 10 * MIN);
  const drain = planReap({ clusters: [cluster('d', 'rayjob')], activity: [], nodeGroups: [{ name: 'ng', desiredSize: 2, rayPods: 3 }], idleMs: 15 * MIN, now: T });
  assert.deepEqual([drain.delete.map((c) => c.name), drain.nextAt], [['d'], T + DRAIN_RECHECK_MS]);
  // Nothing left to do (a busy cluster is the running run's: its end arms the reaper): not re-armed.
  const done = planReap({ clusters: [cluster('s', 'rayservice'), cluster('busy', 'none')], activity: [{ cluster: 'busy', state: 'RUNNING' }], nodeGroups: [{ name: 'ng', desiredSize: 1, rayPods: 2 }], idleMs: 15 * MIN, now: T });
  assert.equal(done.nextAt, undefined);
});

test('reapIdle deletes the expired jobs, publishes it once, and re-arms the reaper only for work left', async () => {
  const deleted: string[] = [];
  const events: Array<{ 'detail-type': string; detail: unknown }> = [];
  const s = memorySchedules();
  const activity: ClusterActivity[] = [
    { cluster: '', state: 'SUCCEEDED', endTime: T - 90 * MIN, jobId: 'j1' },
    { cluster: '', state: 'FAILED', endTime: T - 30 * MIN, jobId: 'j2' },
  ];
  const reaper = { listRayClusters: async () => [], clusterActivity: async () => activity, suspend: async () => undefined, delete: async () => undefined, rayPodsInNodeGroup: async () => 0, deleteJob: async (j: string) => void deleted.push(j) };
  const deps = { reaper, nodeGroups: { desiredSize: async () => 0, scaleToZero: async () => undefined }, publisher: { publish: async (e: typeof events) => void events.push(...e) }, managedNodeGroups: [], idleMs: 15 * MIN, now: () => NOW, retentionMs: 60 * MIN, rearm: { schedules: s.port, prefix: 'sentinel-dev' } };
  const plan = await reapIdle(deps);
  assert.deepEqual(deleted, ['j1']);
  assert.deepEqual(events.map((e) => [e['detail-type'], e.detail]), [['Ray Jobs Deleted', { jobs: 1, retentionSeconds: 3600 }]]);
  assert.deepEqual(plan.rearmed, { name: 'sentinel-dev-reap-1796178600', at: '2026-12-02T02:30:00.000Z' });
  // Once j2 is gone too, the reaper has nothing left: no schedule.
  activity.splice(0, 2);
  s.calls.length = 0;
  const after = await reapIdle(deps);
  assert.deepEqual([after.rearmed, s.calls], [undefined, []]);
});

test('submit-stage arms the watcher for each job it submits; without the arming dependency (local) it arms nothing', async () => {
  const s = memorySchedules();
  const submitted: string[] = [];
  const compute = {
    backend: 'kuberay',
    get: async () => undefined,
    submit: async (r: { jobId: string }) => (submitted.push(r.jobId), { jobId: r.jobId, created: true }),
    list: async () => [],
    stop: async () => undefined,
    logs: async () => '',
  } as unknown as ComputePort;
  const run = referenceRun();
  const store = { getJson: async () => undefined } as never;
  const submit = createSubmitStageHandler({ compute, tokens: new MemoryTokens(), store, watcher: { schedules: s.port, prefix: 'sentinel-dev', everyMs: MIN }, now: () => NOW });
  const res = (await submit({ taskToken: 'tok', stage: 'ingest', run }, lambdaContext('submit-stage'))) as { jobId: string; watcher?: unknown };
  assert.deepEqual([submitted.length, res.watcher], [1, { name: 'sentinel-dev-watch-1796176860', at: '2026-12-02T02:01:00.000Z' }]);
  assert.deepEqual(s.calls, ['sentinel-dev-watch-1796176860']);
  // Without the arming dependency (the local runtime), nothing is armed.
  const local = createSubmitStageHandler({ compute, tokens: new MemoryTokens(), store });
  const r2 = (await local({ taskToken: 'tok2', stage: 'ingest', run }, lambdaContext('submit-stage'))) as { watcher?: unknown };
  assert.equal(r2.watcher, undefined);
  assert.deepEqual(s.calls, ['sentinel-dev-watch-1796176860'], 'the local handler armed nothing');
});
