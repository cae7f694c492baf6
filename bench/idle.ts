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
import { armReaperAfterRun, armWatcher } from '../core/arming.js';
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
  const schedules: OneTimeSchedulesPort = { arm: async (name, at) => void armed.set(name, { at: at.getTime(), kind: name.endsWith('-watch') ? 'watch' : 'reap' }) };
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
    // History: finished, settled RayJobs as the watcher leaves them (status SUCCEEDED written only on a sample: the
    // list cost is in the objects' number and size, which the status barely changes).
    const t0 = Date.now();
    let created = 0;
    const WIDTH = 32;
    while (created < TARGET_JOBS && Date.now() - t0 < CREATE_BUDGET_MS) {
      const n = Math.min(WIDTH * 8, TARGET_JOBS - created);
      await Promise.all(Array.from({ length: WIDTH }, async (_, w) => {
        for (let i = w; i < n; i += WIDTH) {
          const m = rayJobFor(conformanceRequest(newRunId(), 'train'), { namespace: ns });
          m.metadata.labels[IN_FLIGHT_LABEL] = SETTLED;
          await admin.create('rayjobs', ns, m);
        }
      }));
      created += n;
    }
    const createMs = Date.now() - t0;
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
    const o = await measure(old);
    const n = await measure(compute);
    return { created, createMs, old: o, new: n };
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
  line('EKS API calls per idle hour', 0 * (perHour + play.armedAtEnd));
  line('after a 4-stage run (10 min/stage): watcher ticks', play.invocations.watch);
  line('  reaper ticks after the run (idle time, then job retention)', play.invocations.reap);
  line('  last invocation, minutes after the run ended', play.quietAfterMin.toFixed(1));
  line('  finished RayJobs left after retention', play.jobsLeft);

  console.log(`== watcher tick with finished RayJobs in the namespace (real kube-apiserver) ==`);
  const w = await watcherAtScale();
  line('finished RayJobs created', `${w.created} in ${(w.createMs / 1000).toFixed(1)} s${w.created < TARGET_JOBS ? ` (target ${TARGET_JOBS}: creation budget ${CREATE_BUDGET_MS / 1000} s reached)` : ''}`);
  line('old tick (list every managed RayJob): listed / token lookups', `${w.old.listed} / ${w.old.lookups}`);
  line('  API requests, list time measured (ms)', `${w.old.apiCalls}, ${w.old.ms.toFixed(0)}`);
  line(`  + token lookups modelled at ${GETITEM_MS} ms each (ms)`, (w.old.ms + w.old.lookups * GETITEM_MS).toFixed(0));
  line('new tick (in-flight label selector): listed / token lookups', `${w.new.listed} / ${w.new.lookups}`);
  line('  API requests, time measured (ms)', `${w.new.apiCalls}, ${w.new.ms.toFixed(1)}`);
  line(`  + token lookups modelled at ${GETITEM_MS} ms each (ms)`, (w.new.ms + w.new.lookups * GETITEM_MS).toFixed(1));
  line('ratio old/new, measured', (w.old.ms / w.new.ms).toFixed(1));
  line('ratio old/new, with modelled lookups', ((w.old.ms + w.old.lookups * GETITEM_MS) / (w.new.ms + w.new.lookups * GETITEM_MS)).toFixed(1));
  if (w.created < TARGET_JOBS) {
    const perJob = w.old.ms / w.old.listed;
    line(`old tick extrapolated to ${TARGET_JOBS} (list time linear in objects, ms)`, `${(perJob * TARGET_JOBS).toFixed(0)} + ${TARGET_JOBS * GETITEM_MS} lookups`);
    line(`new tick at ${TARGET_JOBS}: unchanged (lists in-flight only, ms)`, w.new.ms.toFixed(1));
  }
}

await main();
