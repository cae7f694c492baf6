// npm run bench:idle — what an idle deployment costs, and what a watcher tick costs with a long history.
//   1. Lambda invocations and EKS API calls per idle hour, from what the stack really schedules: the recurring
//      schedules `sentinel render` writes (events/schedules/*.json, the same table infra deploys), plus the one-time
//      schedules still armed once runs have ended, found by playing a run's arming through the real core code
//      (core/arming.ts, core/watch-jobs.ts, core/reaper.ts) on a simulated clock until nothing is armed.
//   2. The watcher's tick with many finished RayJobs in the namespace, on the real kube-apiserver of test/k8s
//      (tools/kube): the old list-everything tick and the new in-flight tick, side by side in one run.
// Plain figures; model assumptions are printed where they are used.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderAws } from '../cli/render-aws.js';
import { rateSeconds } from '../infra/alarms.js';
import { sentinelConfig } from '../infra/config.js';
import { durationSeconds } from '../core/staleness.js';
import { watchJobs } from '../core/watch-jobs.js';
import { reapIdle } from '../core/reaper.js';
import { armReaperAfterRun, armWatcher, isSlotName, watchScheduleStem } from '../core/arming.js';
import type { CallbackResult, ClusterActivity, ComputePort, OneTimeSchedulesPort, TokenStore } from '../core/ports.js';
import type { JobStatus } from '../core/job-status.js';
import { IN_FLIGHT_LABEL, SETTLED } from '../core/names.js';
import { rayJobFor } from '../core/kuberay/rayjob.js';
import { KubeRayCompute } from '../adapters/kuberay/compute.js';
import { startKube } from '../test/k8s/harness.js';
import { conformanceRequest, newRunId } from '../test/k8s/conformance.js';
import { lambdaRbac } from '../core/kuberay/rbac.js';
import { waitForAccess } from '../test/k8s/harness.js';

const TARGET_JOBS = Number(process.env.SENTINEL_BENCH_IDLE_JOBS ?? 50_000);
const CREATE_BUDGET_MS = Number(process.env.SENTINEL_BENCH_IDLE_CREATE_MS ?? 110_000);
/** The old watcher awaited one DynamoDB GetItem per listed RayJob; modelled at this many ms each (not measured here). */
const GETITEM_MS = 4;
/** The schedules the watcher and reaper had before (infra/config.ts at ad67222). */
const OLD = { watchEvery: 'rate(1 minute)', reapEvery: 'rate(5 minutes)' };

const line = (k: string, v: string | number) => console.log(`${k.padEnd(62)} ${v}`);

async function recurring() {
  const cfg = sentinelConfig('bench');
  const out = await mkdtemp(join(tmpdir(), 'sentinel-idle-'));
  try {
    await renderAws(out, { stage: 'bench', region: cfg.region, account: '000000000000', config: cfg });
    const dir = join(out, 'events', 'schedules');
    const files = await readdir(dir).catch(() => [] as string[]);
    const schedules = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as { name: string; expression: string; target: string }));
    return { cfg, schedules };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Plays one run's arming on a simulated clock: 4 stages, 10 min each, then the reaper until nothing is armed. */
async function playRun(cfg: ReturnType<typeof sentinelConfig>) {
  let now = Date.parse('2026-12-02T00:00:00Z');
  const armed = new Map<string, { at: number; kind: 'watch' | 'reap' }>();
  const schedules: OneTimeSchedulesPort = { arm: async (name, at) => void armed.set(name, { at: at.getTime(), kind: isSlotName(watchScheduleStem(prefix), name) ? 'watch' : 'reap' }) };
  const everyMs = cfg.watchEverySeconds * 1000;
  const idleMs = cfg.idleTimeoutMinutes * 60_000;
  const retentionMs = durationSeconds(cfg.jobRetention, 'jobRetention') * 1000;
  const prefix = 'sentinel-bench';
  const jobs: Array<JobStatus & { settled?: boolean }> = [];
  const tokens = new Map<string, string>();
  const tokenStore: TokenStore = { put: async (j, t) => void tokens.set(j, t), get: async (j) => tokens.get(j), delete: async (j) => void tokens.delete(j) };
  const compute = {
    backend: 'kuberay',
    list: async () => jobs,
    listInFlight: async () => jobs.filter((j) => !j.settled),
    settle: async (id: string) => void Object.assign(jobs.find((j) => j.jobId === id)!, { settled: true }),
    stop: async () => undefined,
  } as unknown as ComputePort;
  const ok = async (): Promise<CallbackResult> => 'ok';
  const invocations = { watch: 0, reap: 0 };
  let runEnd = 0;
  const stages = ['ingest', 'train', 'tune', 'evaluate'];
  // The run: each stage submitted (arms the watcher), ends after 10 min, its completion pushed (token dropped).
  const timeline: Array<{ at: number; act: () => Promise<void> }> = [];
  stages.forEach((stage, i) => {
    const jobId = `bench-r000000001-${stage}-1`;
    timeline.push({ at: now + i * 600_000, act: async () => {
      jobs.push({ jobId, state: 'RUNNING', labels: {} });
      tokens.set(jobId, 't');
      await armWatcher({ schedules, prefix, everyMs }, new Date(now));
    } });
    timeline.push({ at: now + (i + 1) * 600_000 - 1, act: async () => {
      Object.assign(jobs.find((j) => j.jobId === jobId)!, { state: 'SUCCEEDED', endTime: now });
      tokens.delete(jobId);
    } });
  });
  timeline.push({ at: now + stages.length * 600_000, act: async () => {
    runEnd = now;
    await armReaperAfterRun({ schedules, prefix, idleMs }, new Date(now), new Date(now));
  } });
  const reaper = {
    listRayClusters: async () => [],
    clusterActivity: async (): Promise<ClusterActivity[]> => jobs.map((j) => ({ cluster: '', state: j.state, jobId: j.jobId, ...(j.endTime ? { endTime: j.endTime } : {}), ...(j.settled ? {} : { inFlight: true }) })),
    suspend: async () => undefined,
    delete: async () => undefined,
    rayPodsInNodeGroup: async () => 0,
    deleteJob: async (id: string) => void jobs.splice(jobs.findIndex((j) => j.jobId === id), 1),
  };
  let lastInvocation = 0;
  for (let guard = 0; guard < 10_000; guard++) {
    const nextSchedule = [...armed.entries()].sort((a, b) => a[1].at - b[1].at)[0];
    const nextEvent = timeline.sort((a, b) => a.at - b.at)[0];
    if (!nextSchedule && !nextEvent) break;
    if (nextEvent && (!nextSchedule || nextEvent.at <= nextSchedule[1].at)) {
      timeline.shift();
      now = nextEvent.at;
      await nextEvent.act();
      continue;
    }
    const [name, s] = nextSchedule!;
    armed.delete(name); // ActionAfterCompletion DELETE
    now = s.at;
    lastInvocation = now;
    invocations[s.kind]++;
    if (s.kind === 'watch') await watchJobs({ compute, tokens: tokenStore, callbacks: { success: ok, failure: ok, heartbeat: ok }, publisher: { publish: async () => undefined }, now: () => new Date(now), artifactRoot: 's3://b/a', rearm: { schedules, prefix, everyMs } });
    else await reapIdle({ reaper, nodeGroups: { desiredSize: async () => 0, scaleToZero: async () => undefined }, publisher: { publish: async () => undefined }, managedNodeGroups: [], idleMs, now: () => new Date(now), retentionMs, rearm: { schedules, prefix } });
  }
  return { invocations, quietAfterMin: (lastInvocation - runEnd) / 60_000, armedAtEnd: armed.size, jobsLeft: jobs.length };
}

async function watcherAtScale() {
  const kube = await startKube();
  const ns = await kube.namespace('bench-idle');
  await kube.createObjects(lambdaRbac(ns), { ignoreExisting: true });
  const admin = kube.client('admin');
  const lambda = kube.client('lambda');
  try {
    await waitForAccess(() => lambda.list('rayjobs', ns, { limit: 1 }));
    // In flight: 4 RayJobs (a run's stage each), running.
    const live: string[] = [];
    for (let i = 0; i < 4; i++) {
      const m = rayJobFor(conformanceRequest(newRunId(), 'train'), { namespace: ns });
      await admin.create('rayjobs', ns, m);
      await admin.patch('rayjobs', ns, m.metadata.name, [{ op: 'add', path: '/status', value: { jobStatus: 'RUNNING', jobDeploymentStatus: 'Running' } }], 'status');
      live.push(m.metadata.name);
    }
    const compute = new KubeRayCompute({ client: lambda, namespace: ns });
    const tokens = new Map(live.map((j) => [j, 't']));
    let lookups = 0;
    const tokenStore: TokenStore = { put: async () => undefined, get: async (j) => (lookups++, tokens.get(j)), delete: async () => undefined };
    const ok = async (): Promise<CallbackResult> => 'ok';
    const deps = { compute, tokens: tokenStore, callbacks: { success: ok, failure: ok, heartbeat: ok }, publisher: { publish: async () => undefined }, now: () => new Date(), artifactRoot: 's3://b/a' };
    // Old: every managed RayJob listed, a token looked up for each (compute without listInFlight/settle).
    const old = { backend: compute.backend, list: compute.list.bind(compute), stop: compute.stop.bind(compute), get: compute.get.bind(compute), logs: compute.logs.bind(compute), submit: compute.submit.bind(compute) } as ComputePort;
    const measure = async (c: ComputePort) => {
      lookups = 0;
      const calls = lambda.calls;
      const t = performance.now();
      const res = await watchJobs({ ...deps, compute: c });
      return { ms: performance.now() - t, listed: res.listed, lookups, apiCalls: lambda.calls - calls };
    };
    await measure(compute); // warm the connection
    // History: settled RayJobs as the watcher leaves them (no status written: the list cost is in the objects' number
    // and size). Both ticks are measured at each doubling, so the growth of each is seen, not assumed.
    const points: Array<{ history: number; old: Awaited<ReturnType<typeof measure>>; new: Awaited<ReturnType<typeof measure>> }> = [];
    let createMs = 0;
    let created = 0;
    let next = 500;
    const WIDTH = 32;
    while (created < TARGET_JOBS && createMs < CREATE_BUDGET_MS) {
      const t0 = Date.now();
      const n = Math.min(WIDTH * 8, TARGET_JOBS - created);
      await Promise.all(Array.from({ length: WIDTH }, async (_, w) => {
        for (let i = w; i < n; i += WIDTH) {
          const m = rayJobFor(conformanceRequest(newRunId(), 'train'), { namespace: ns });
          m.metadata.labels[IN_FLIGHT_LABEL] = SETTLED;
          await admin.create('rayjobs', ns, m);
        }
      }));
      created += n;
      createMs += Date.now() - t0;
      if (created >= next || created >= TARGET_JOBS || createMs >= CREATE_BUDGET_MS) {
        // The new tick is short and this machine is shared: its median of 5 (the old one, up to tens of seconds, once).
        const samples = [];
        for (let k = 0; k < 5; k++) samples.push(await measure(compute));
        samples.sort((a, b) => a.ms - b.ms);
        points.push({ history: created, old: await measure(old), new: samples[2]! });
        next *= 2;
      }
    }
    return { created, createMs, points };
  } finally {
    admin.close();
    lambda.close();
    await kube.stop();
  }
}

async function main() {
  const { cfg, schedules } = await recurring();
  const forever = schedules.filter((s) => s.expression.startsWith('rate('));
  const perHour = forever.reduce((sum, s) => sum + 3600 / (rateSeconds(s.expression) ?? Infinity), 0);
  const watchReap = schedules.filter((s) => s.target === 'watch-jobs' || s.target === 'reap-idle');
  const oldPerHour = 3600 / rateSeconds(OLD.watchEvery)! + 3600 / rateSeconds(OLD.reapEvery)!;
  console.log('== idle cost (no run active) ==');
  line('recurring schedules in the rendered stack', schedules.map((s) => `${s.name} ${s.expression}`).join('; ') || 'none');
  line('  of which watcher/reaper', watchReap.length);
  line('  cron() schedules (each starts a run: not idle)', schedules.filter((s) => s.expression.startsWith('cron(')).length);
  const play = await playRun(cfg);
  line('one-time schedules still armed once the run is over', play.armedAtEnd);
  line('Lambda invocations per idle hour (rate() schedules + armed)', perHour + play.armedAtEnd);
  line(`  before (watcher ${OLD.watchEvery}, reaper ${OLD.reapEvery})`, oldPerHour);
  line('EKS API calls per idle hour (each is a watcher/reaper invocation\'s)', perHour + play.armedAtEnd === 0 ? 0 : 'n/a: something still runs');
  line('after a 4-stage run (10 min/stage): watcher ticks', play.invocations.watch);
  line('  reaper ticks after the run (idle time, then job retention)', play.invocations.reap);
  line('  last invocation, minutes after the run ended', play.quietAfterMin.toFixed(1));
  line('  finished RayJobs left after retention', play.jobsLeft);

  console.log(`== watcher tick with finished RayJobs in the namespace (real kube-apiserver) ==`);
  const w = await watcherAtScale();
  line('finished RayJobs created', `${w.created} in ${(w.createMs / 1000).toFixed(1)} s${w.created < TARGET_JOBS ? ` (target ${TARGET_JOBS}: creation budget ${CREATE_BUDGET_MS / 1000} s reached)` : ''}`);
  console.log(`${'history'.padStart(8)} | ${'old: listed'.padStart(11)} ${'lookups'.padStart(8)} ${'API req'.padStart(8)} ${'ms'.padStart(8)} | ${'new: listed'.padStart(11)} ${'lookups'.padStart(8)} ${'API req'.padStart(8)} ${'ms (med)'.padStart(8)} | ${'ratio'.padStart(6)}`);
  for (const p of w.points) {
    console.log(`${String(p.history).padStart(8)} | ${String(p.old.listed).padStart(11)} ${String(p.old.lookups).padStart(8)} ${String(p.old.apiCalls).padStart(8)} ${p.old.ms.toFixed(0).padStart(8)} | ${String(p.new.listed).padStart(11)} ${String(p.new.lookups).padStart(8)} ${String(p.new.apiCalls).padStart(8)} ${p.new.ms.toFixed(1).padStart(8)} | ${(p.old.ms / p.new.ms).toFixed(1).padStart(6)}`);
  }
  const last = w.points.at(-1)!;
  line(`ratio old/new at ${last.history}, with token lookups modelled at ${GETITEM_MS} ms each`, ((last.old.ms + last.old.lookups * GETITEM_MS) / (last.new.ms + last.new.lookups * GETITEM_MS)).toFixed(1));
  if (w.created < TARGET_JOBS && w.points.length >= 2) {
    // Least squares over every measured point (this machine is shared, single points are noisy): the old tick as ms
    // per listed object; the new tick as a line in the history, never falling (the API server still reads every
    // object of the namespace to apply a label selector, so it grows too, only much more slowly).
    const ps = w.points;
    const oldPerObject = ps.reduce((s, p) => s + p.history * p.old.ms, 0) / ps.reduce((s, p) => s + p.history * p.history, 0);
    const mh = ps.reduce((s, p) => s + p.history, 0) / ps.length;
    const mn = ps.reduce((s, p) => s + p.new.ms, 0) / ps.length;
    const slope = Math.max(0, ps.reduce((s, p) => s + (p.history - mh) * (p.new.ms - mn), 0) / ps.reduce((s, p) => s + (p.history - mh) ** 2, 0));
    const oldMs = oldPerObject * TARGET_JOBS;
    const newMs = mn + slope * (TARGET_JOBS - mh);
    line(`extrapolated to ${TARGET_JOBS} (least squares): old list ms + ${TARGET_JOBS} lookups x ${GETITEM_MS} ms`, `${oldMs.toFixed(0)} + ${TARGET_JOBS * GETITEM_MS}`);
    line(`extrapolated to ${TARGET_JOBS} (least squares): new tick ms + 4 lookups x ${GETITEM_MS} ms`, `${newMs.toFixed(0)} + ${4 * GETITEM_MS}`);
    line(`extrapolated ratio at ${TARGET_JOBS}: list alone / with modelled lookups`, `${(oldMs / newMs).toFixed(1)} / ${((oldMs + TARGET_JOBS * GETITEM_MS) / (newMs + 4 * GETITEM_MS)).toFixed(1)}`);
  }
}

await main();
