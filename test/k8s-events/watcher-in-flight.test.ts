// The watcher's cost follows the stages in flight, not the history (issue 10 item 1), on the real API server as the
// Lambdas' identity: with hundreds of finished RayJobs in the namespace, a tick lists only the RayJobs labelled in
// flight (sentinel.dev/in-flight=true, set at creation) and looks up a token for those alone. A finished job whose
// completion was consumed (token gone) is settled (label "false") and drops out of the next tick; with nothing in
// flight the tick arms nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKube, type KubeHarness } from '../k8s/harness.js';
import { conformanceRequest, newRunId } from '../k8s/conformance.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { rayJobFor } from '../../core/kuberay/rayjob.js';
import { IN_FLIGHT_LABEL, SETTLED } from '../../core/names.js';
import { watchJobs } from '../../core/watch-jobs.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import type { RayJobStatusFields } from '../../core/kuberay/status.js';
import type { OneTimeSchedulesPort, TaskCallbacks, TokenStore } from '../../core/ports.js';
import { applyRbac, RecordingPublisher } from './support.js';

/** Enough to tell a per-history cost from a per-flight one, small enough for CI (one create each). */
const HISTORY = 120;
let kube: KubeHarness;
let admin: KubeClient;
let lambda: KubeClient;
let ns: string;

before(async () => {
  kube = await startKube();
  ns = await kube.namespace('inflight');
  await applyRbac(kube, ns);
  admin = kube.client('admin');
  lambda = kube.client('lambda');
});
after(async () => {
  admin?.close();
  lambda?.close();
  await kube?.stop();
});

const finished = (): RayJobStatusFields => ({ jobStatus: 'SUCCEEDED', jobDeploymentStatus: 'Complete', startTime: new Date(Date.now() - 600_000).toISOString(), endTime: new Date(Date.now() - 300_000).toISOString() }) as RayJobStatusFields;

/** A RayJob as KubeRayCompute creates it, optionally as history (settled, or from before the label existed). */
async function create(o: { status?: RayJobStatusFields; history?: 'settled' | 'unlabelled' }): Promise<string> {
  const m = rayJobFor(conformanceRequest(newRunId(), 'train'), { namespace: ns });
  if (o.history === 'settled') m.metadata.labels[IN_FLIGHT_LABEL] = SETTLED;
  if (o.history === 'unlabelled') delete m.metadata.labels[IN_FLIGHT_LABEL];
  await admin.create('rayjobs', ns, m);
  if (o.status) await admin.patch('rayjobs', ns, m.metadata.name, [{ op: 'add', path: '/status', value: o.status }], 'status');
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
const callbacks: TaskCallbacks = { success: async () => 'ok', failure: async () => 'ok', heartbeat: async () => 'ok' };

test(`with ${HISTORY} finished RayJobs in the namespace, a tick lists and looks up only the ones in flight`, async () => {
  const t0 = Date.now();
  // History: settled by an earlier watcher, or from before the label existed (no status written: the list cost is
  // in the objects' number, and neither kind may be listed).
  await inBatches(HISTORY, 16, (i) => create({ history: i % 3 === 0 ? 'unlabelled' : 'settled' }));
  const running = await Promise.all([0, 1].map(() => create({ status: { jobStatus: 'RUNNING', jobDeploymentStatus: 'Running' } as RayJobStatusFields })));
  const justEnded = await create({ status: finished() });
  const setupMs = Date.now() - t0;

  const tokens = new CountingTokens();
  for (const j of [...running, justEnded]) await tokens.put(j, `token-${j}`);
  const armed: string[] = [];
  const schedules: OneTimeSchedulesPort = { arm: async (name) => void armed.push(name) };
  const compute = new KubeRayCompute({ client: lambda, namespace: ns });
  const publisher = new RecordingPublisher();
  const deps = { compute, tokens, callbacks, publisher, now: () => new Date(), artifactRoot: 's3://b/artifacts', rearm: { schedules, prefix: 'sentinel-k8s', everyMs: 60_000 } };

  // What the old watcher listed: every managed RayJob.
  const everything = await compute.list({ 'app.kubernetes.io/managed-by': 'sentinel' });
  assert.equal(everything.length, HISTORY + 3);

  const calls0 = lambda.calls;
  const tick1 = await watchJobs(deps);
  assert.equal(tick1.listed, 3, 'only the RayJobs in flight');
  assert.equal(tokens.lookups, 3, 'one token lookup per job in flight, none for the history');
  assert.equal(lambda.calls - calls0, 1, 'one list request (one page), nothing else on the API server');
  assert.deepEqual([tick1.published, tick1.heartbeats, tick1.inFlight, armed], [1, 2, 3, ['sentinel-k8s-watch']]);

  // The consumer completes the ended job's task; the running ones end and their completions are pushed too.
  for (const j of [justEnded, ...running]) await tokens.delete(j);
  for (const j of running) await admin.patch('rayjobs', ns, j, [{ op: 'replace', path: '/status', value: finished() }], 'status');
  const tick2 = await watchJobs(deps);
  assert.deepEqual([tick2.listed, tick2.settled, tick2.inFlight, tick2.rearmed], [3, 3, 0, undefined]);
  const labels = (await admin.get<{ metadata: { labels: Record<string, string> } }>('rayjobs', ns, justEnded)).metadata.labels;
  assert.equal(labels[IN_FLIGHT_LABEL], SETTLED);
  assert.equal(labels['sentinel.dev/run'] !== undefined, true, 'its identity labels stay');

  // Nothing in flight: the next (late) tick lists nothing, looks up nothing, arms nothing.
  tokens.lookups = 0;
  armed.length = 0;
  const tick3 = await watchJobs(deps);
  assert.deepEqual([tick3.listed, tokens.lookups, armed], [0, 0, []]);
  process.stdout.write(`# ${HISTORY} earlier RayJobs created in ${setupMs} ms; the in-flight tick listed ${tick1.listed} of ${everything.length}\n`);
});
