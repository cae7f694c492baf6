// Fault cases of the completion path (issue 14: forged events, poison messages, 3x shuffled delivery), each run
// against the real complete-stage handler (batch processor, parser envelopes, verification) with the local task
// broker (Step Functions' callback semantics), file token store and object store, and an in-memory compute port.
// Each case returns one row of the fault table: what was injected, what happened, what was lost and what was
// orphaned. test/paths/faults-completion.test.ts asserts on the rows; a bench can print them.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createCompleteStageHandler } from '../../functions/complete-stage.js';
import { jobStateChangeEvent } from '../../events/job-state-change.js';
import { jobNameFor, labelsFor, parseJobName } from '../../core/names.js';
import { STAGES, type Stage } from '../../core/stages.js';
import type { JobStatus } from '../../core/job-status.js';
import type { JobRequest } from '../../core/ports.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { FileTokenStore } from '../../local/token-store.js';
import { LocalTaskBroker } from '../../local/task-broker.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { FakeCompute, fakeResult } from './fakes.js';
import { delivered, sqsOf, type Deliverable } from './events.js';

export interface FaultRow {
  fault: string;
  injected: string;
  happened: string;
  /** Stage completions that should have happened and did not, or happened with another run's results. */
  lost: number;
  /** Tokens left parked with nobody to complete them, and waiting tasks never answered. */
  orphaned: number;
  /** The figures behind the row, for assertions. */
  figures: Record<string, number>;
}

const PIPELINE = 'breast-cancer';
const RUNS = ['r0000000a1', 'r0000000b2'];
const ATTACKER = 'attacker-controlled';

/** A seeded shuffle (mulberry32), so a failing order can be replayed. */
export function shuffled<T>(xs: T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Runs with every stage's job ended on the compute port, its own result written, and a task waiting on its token. */
async function world(o: { running?: Stage[] } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'sentinel-faults-'));
  const root = join(home, 'bucket', 'artifacts');
  const compute = new FakeCompute();
  const tokens = new FileTokenStore(join(home, 'tokens'));
  const broker = new LocalTaskBroker();
  const store = new LocalObjectStore();
  const h = createCompleteStageHandler({ compute, tokens, callbacks: broker, store, artifactRoot: root });
  const waiting = new Map<string, { stage: Stage; runId: string; outputs: unknown[]; errors: string[] }>();
  const writeResult = (base: string, runId: string, stage: Stage, metrics: Record<string, number>) => {
    const dir = join(base, PIPELINE, runId, stage);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'result.json'), JSON.stringify(fakeResult(stage, dir, metrics)));
  };
  for (const runId of RUNS) {
    for (const stage of STAGES) {
      const jobId = jobNameFor(PIPELINE, runId, stage, 1);
      const state: JobStatus['state'] = o.running?.includes(stage) ? 'RUNNING' : 'SUCCEEDED';
      compute.jobs.set(jobId, { jobId, state, labels: labelsFor(parseJobName(jobId)!), startTime: 1_000, ...(state === 'SUCCEEDED' ? { endTime: 2_000 } : {}), req: {} as JobRequest });
      writeResult(root, runId, stage, { own: 1 });
      // The attacker's copy, where a forged event points.
      writeResult(join(root, ATTACKER), runId, stage, { own: 0, attacker: 1 });
      const token = broker.mint();
      const w = { stage, runId, outputs: [] as unknown[], errors: [] as string[] };
      broker.wait(token, {}).then((out) => w.outputs.push(out), (e: Error) => w.errors.push(e.name));
      await tokens.put(jobId, token);
      waiting.set(jobId, w);
    }
  }
  const honest = (jobId: string) => jobStateChangeEvent('ray-jobs', { ...compute.jobs.get(jobId)!, state: 'SUCCEEDED' }, root, new Date())!;
  const forged = (jobId: string) => ({ ...honest(jobId), detail: { ...honest(jobId).detail, artifactRoot: join(root, ATTACKER) } });
  const deliver = async (event: SQSEvent) => ((await h(event, lambdaContext('complete-stage'))) as SQSBatchResponse).batchItemFailures.map((f) => f.itemIdentifier);
  const settle = () => new Promise((r) => setTimeout(r, 5)); // let the waiters' then() run
  /** Completions with the run's own results, completions with someone else's, and waiting tasks never answered. */
  const tally = async () => {
    await settle();
    let own = 0;
    let foreign = 0;
    let unanswered = 0;
    let extra = 0;
    for (const w of waiting.values()) {
      const metrics = w.outputs.map((x) => (x as { metrics: Record<string, number> }).metrics);
      own += metrics.filter((m) => m.own === 1).length;
      foreign += metrics.filter((m) => m.own !== 1).length;
      if (w.outputs.length + w.errors.length === 0) unanswered++;
      extra += Math.max(0, w.outputs.length + w.errors.length - 1);
    }
    let parked = 0;
    for (const jobId of waiting.keys()) if (await tokens.get(jobId)) parked++;
    return { own, foreign, unanswered, extra, parked };
  };
  const cleanup = () => {
    broker.abortAll('fault case done');
    rmSync(home, { recursive: true, force: true });
  };
  return { compute, waiting, honest, forged, deliver, tally, cleanup, broker };
}

type Case = { name: string; run: () => Promise<FaultRow> };

export const completionFaults: Case[] = [
  {
    name: 'forged completion events',
    run: async () => {
      // Train is still running: a forged SUCCEEDED event for it (another root), and forged copies of every ended job.
      const w = await world({ running: ['train'] });
      try {
        const jobs = [...w.waiting.keys()];
        const forgedBatch = sqsOf(...jobs.map((j) => w.forged(j)));
        const rejected = (await w.deliver(forgedBatch)).length;
        const afterForged = await w.tally();
        // Then the real completions of the ended jobs, and of train once it ends.
        const ended = jobs.filter((j) => !j.includes('-train-'));
        const ok1 = await w.deliver(sqsOf(...ended.map((j) => w.honest(j))));
        for (const j of jobs.filter((x) => x.includes('-train-'))) Object.assign(w.compute.jobs.get(j)!, { state: 'SUCCEEDED', endTime: 3_000 });
        const ok2 = await w.deliver(sqsOf(...jobs.filter((j) => j.includes('-train-')).map((j) => w.honest(j))));
        const t = await w.tally();
        return {
          fault: 'forged events',
          injected: `${jobs.length} forged SUCCEEDED events (results under ${ATTACKER}/, ${jobs.length / STAGES.length} for jobs still RUNNING)`,
          happened: `${rejected} rejected (CompletionRejected, record → DLQ), ${afterForged.own + afterForged.foreign} completions from them; then ${t.own} completions with the runs' own results`,
          lost: jobs.length - t.own + t.foreign,
          orphaned: t.unanswered + t.parked,
          figures: { injected: jobs.length, rejected, completedByForged: afterForged.own + afterForged.foreign, own: t.own, foreign: t.foreign, honestFailures: ok1.length + ok2.length, extra: t.extra },
        };
      } finally {
        w.cleanup();
      }
    },
  },
  {
    name: 'poison messages',
    run: async () => {
      const w = await world();
      try {
        const jobs = [...w.waiting.keys()];
        const good = jobs.map((j) => w.honest(j));
        const sample = good[0]!;
        const poison: Array<string | Deliverable> = [
          'not json',
          '{"truncated": ',
          JSON.stringify({ hello: 'world' }),
          { ...sample, 'detail-type': 'Ray Job Something Else' },
          { ...sample, source: 'aws.ec2' },
          { ...sample, detail: { jobId: sample.detail.jobId } },
          { ...sample, detail: { ...sample.detail, state: 'RUNNING' } },
          { ...sample, detail: { ...sample.detail, surprise: 'field' } },
          { ...sample, detail: { ...sample.detail, pipeline: '../../etc' } },
          JSON.stringify({ ...delivered(sample), time: 'yesterday' }),
        ];
        // Interleave: good, poison, good, poison, … in one batch of 10 at a time, as the event source mapping sends.
        const mixed = good.flatMap((g, i) => (poison[i] !== undefined ? [g, poison[i]!] : [g])).concat(poison.slice(good.length));
        const poisonIds = new Set<string>();
        const failedIds: string[] = [];
        for (let i = 0; i < mixed.length; i += 10) {
          const part = mixed.slice(i, i + 10);
          const batch = sqsOf(...part);
          batch.Records.forEach((r, k) => typeof part[k] === 'string' || !good.includes(part[k] as never) ? poisonIds.add(r.messageId) : undefined);
          failedIds.push(...(await w.deliver(batch)));
        }
        const t = await w.tally();
        const wrong = failedIds.filter((id) => !poisonIds.has(id)).length + [...poisonIds].filter((id) => !failedIds.includes(id)).length;
        return {
          fault: 'poison messages',
          injected: `${poison.length} malformed records (not JSON, wrong kind, bad detail, not matching the rule) among ${good.length} good ones`,
          happened: `${failedIds.length} in batchItemFailures (→ DLQ after maxReceiveCount), ${t.own} good neighbours completed`,
          lost: jobs.length - t.own,
          orphaned: t.unanswered + t.parked,
          figures: { poison: poison.length, good: good.length, failed: failedIds.length, misreported: wrong, own: t.own },
        };
      } finally {
        w.cleanup();
      }
    },
  },
  {
    name: '3x shuffled delivery',
    run: async () => {
      const w = await world();
      try {
        const jobs = [...w.waiting.keys()];
        // Every completion three times, plus a forged copy of each, shuffled, in batches of up to 10.
        const honest = jobs.flatMap((j) => [w.honest(j), w.honest(j), w.honest(j)]);
        const all = shuffled([...honest, ...jobs.map((j) => w.forged(j))], 14);
        let failed = 0;
        for (let i = 0; i < all.length; i += 10) failed += (await w.deliver(sqsOf(...all.slice(i, i + 10)))).length;
        const t = await w.tally();
        return {
          fault: '3x shuffled delivery',
          injected: `${honest.length} completion events (each of ${jobs.length} three times) and ${jobs.length} forged copies, shuffled`,
          happened: `${t.own} stages completed once each with their own results, ${t.extra} completed twice, ${failed} forged records failed`,
          lost: jobs.length - t.own + t.foreign,
          orphaned: t.unanswered + t.parked,
          figures: { events: all.length, own: t.own, foreign: t.foreign, extra: t.extra, failed, gone: w.broker.counts.gone },
        };
      } finally {
        w.cleanup();
      }
    },
  },
];
