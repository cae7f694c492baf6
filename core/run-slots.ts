// A per-pipeline limit on concurrent runs (spec `maxConcurrentRuns`, default 1), with a visible queue ordered by the
// spec's `priority`. The record is `<root>/<pipeline>/run-slots.json`, changed only by compare-and-swap
// (ObjectStore.getJsonVersioned / putJsonIf), so concurrent PrepareRuns on AWS or on one local home agree.
//
// prepare-run takes a slot when one is free and the run is among the first waiters (priority desc, then enqueue
// time, then run id); otherwise it enqueues itself (idempotently) and fails with RunQueued, which PrepareRun's Retry
// repeats with a bounded backoff. A holder counts only while its run.json says RUNNING (or, before run.json is
// written, for HOLDER_GRACE_MS), so a run that ended, was cancelled or abandoned frees its slot by itself; a waiter
// counts only while it keeps retrying (seen within WAITER_STALE_MS). finish-run and execution-ended release.
import type { ObjectStore } from './ports.js';
import type { RunRecord, RunWaiting } from './model.js';
import type { Trigger } from './run-id.js';
import { joinUri, runRecordUri } from './artifacts.js';
import { ErrorNames, SentinelError } from './errors.js';

export const runSlotsUri = (root: string, pipeline: string) => joinUri(root, pipeline, 'run-slots.json');

/** A holder without run.json yet (taken, record not written) counts for this long. */
export const HOLDER_GRACE_MS = 120_000;
/** A waiter retries at most every MaxDelaySeconds (300 s); one not seen for twice that plus a minute has stopped. */
export const WAITER_STALE_MS = 660_000;
/** A waiter still in the queue: it asked again within WAITER_STALE_MS. */
const isLiveWaiter = (w: Pick<SlotWaiter, 'lastSeen'>, now: Date) => now.getTime() - Date.parse(w.lastSeen) <= WAITER_STALE_MS;

export interface SlotHolder {
  runId: string;
  priority: number;
  since: string;
}
export interface SlotWaiter {
  runId: string;
  priority: number;
  enqueuedAt: string;
  lastSeen: string;
  /** Runs ahead of it (waiting or holding) when it first enqueued. */
  behindAtEnqueue: string[];
  /** What started the run and what it ingests, so `runs` and `status` can show a run that has no run.json yet. */
  trigger?: Trigger;
  datasetUri?: string;
}
export interface RunSlots {
  pipeline: string;
  maxConcurrentRuns: number;
  holders: SlotHolder[];
  waiters: SlotWaiter[];
}

/** What run.json says about a run that waited for its slot. */
export interface RunQueueNote {
  enqueuedAt: string;
  takenAt: string;
  waitedMs: number;
  behindAtEnqueue: string[];
}

export type SlotDecision =
  | { kind: 'taken'; slots: RunSlots; waited?: RunQueueNote }
  | { kind: 'held'; slots: RunSlots } // already a holder (a redelivered PrepareRun)
  | { kind: 'queued'; slots: RunSlots; position: number; ahead: string[]; heldBy: string[] };

export const byPriority = (a: { priority: number; enqueuedAt: string; runId: string }, b: { priority: number; enqueuedAt: string; runId: string }) =>
  b.priority - a.priority || Date.parse(a.enqueuedAt) - Date.parse(b.enqueuedAt) || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0);

/**
 * The slot rule, pure: `liveHolders` are the holders whose runs still run. Dead holders and stale waiters are
 * dropped; the run takes a slot if its place among the live waiters is below the free slots.
 */
export function decideSlot(
  current: RunSlots | undefined,
  me: { pipeline: string; runId: string; priority: number; maxConcurrentRuns: number; trigger?: Trigger; datasetUri?: string },
  liveHolders: ReadonlySet<string>,
  now: Date,
): SlotDecision {
  const at = now.toISOString();
  const holders = (current?.holders ?? []).filter((h) => liveHolders.has(h.runId));
  const base = { pipeline: me.pipeline, maxConcurrentRuns: me.maxConcurrentRuns };
  if (holders.some((h) => h.runId === me.runId)) {
    return { kind: 'held', slots: { ...base, holders, waiters: (current?.waiters ?? []).filter((w) => w.runId !== me.runId) } };
  }
  const waiters = (current?.waiters ?? []).filter((w) => w.runId === me.runId || isLiveWaiter(w, now));
  let mine = waiters.find((w) => w.runId === me.runId);
  const fresh = !mine;
  if (!mine) {
    const ahead = [...holders.map((h) => h.runId), ...waiters.filter((w) => byPriority(w, { ...me, enqueuedAt: at }) < 0).map((w) => w.runId)];
    mine = { runId: me.runId, priority: me.priority, enqueuedAt: at, lastSeen: at, behindAtEnqueue: ahead, ...(me.trigger ? { trigger: me.trigger } : {}), ...(me.datasetUri ? { datasetUri: me.datasetUri } : {}) };
    waiters.push(mine);
  } else {
    mine.lastSeen = at;
    mine.priority = me.priority;
  }
  waiters.sort(byPriority);
  const position = waiters.findIndex((w) => w.runId === me.runId);
  const free = me.maxConcurrentRuns - holders.length;
  if (position < free) {
    const rest = waiters.filter((w) => w.runId !== me.runId);
    const slots = { ...base, holders: [...holders, { runId: me.runId, priority: me.priority, since: at }], waiters: rest };
    // Taken at the first try: it never waited (its entry was made just now).
    const waited = fresh ? undefined : { enqueuedAt: mine.enqueuedAt, takenAt: at, waitedMs: now.getTime() - Date.parse(mine.enqueuedAt), behindAtEnqueue: mine.behindAtEnqueue };
    return { kind: 'taken', slots, ...(waited ? { waited } : {}) };
  }
  return {
    kind: 'queued',
    slots: { ...base, holders, waiters },
    position: position + 1,
    ahead: waiters.slice(0, position).map((w) => w.runId),
    heldBy: holders.map((h) => h.runId),
  };
}

export interface SlotDeps {
  store: ObjectStore;
  now: () => Date;
}

async function liveHolderSet(root: string, pipeline: string, slots: RunSlots | undefined, deps: SlotDeps): Promise<Set<string>> {
  const live = new Set<string>();
  for (const h of slots?.holders ?? []) {
    const rec = await deps.store.getJson<RunRecord>(runRecordUri(root, pipeline, h.runId));
    if (rec ? rec.status === 'RUNNING' : deps.now().getTime() - Date.parse(h.since) <= HOLDER_GRACE_MS) live.add(h.runId);
  }
  return live;
}

const CAS_TRIES = 25;

/**
 * Takes a run slot for the run, or enqueues it and throws RunQueued (retryable: PrepareRun's Retry repeats it).
 * Returns how long it waited when it did.
 */
export async function acquireRunSlot(
  run: { artifactRoot: string; pipeline: string; runId: string; priority: number; maxConcurrentRuns: number; trigger?: Trigger; datasetUri?: string },
  deps: SlotDeps,
): Promise<{ waited?: RunQueueNote }> {
  const uri = runSlotsUri(run.artifactRoot, run.pipeline);
  for (let i = 0; i < CAS_TRIES; i++) {
    const read = await deps.store.getJsonVersioned<RunSlots>(uri);
    const live = await liveHolderSet(run.artifactRoot, run.pipeline, read?.value, deps);
    const d = decideSlot(read?.value, run, live, deps.now());
    const put = await deps.store.putJsonIf(uri, d.slots, read ? { ifMatch: read.version } : { ifNoneMatch: '*' });
    if (put === 'conflict') {
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (i + 1)));
      continue;
    }
    if (d.kind === 'queued') {
      const ahead = d.ahead.length ? `behind ${d.ahead.join(', ')}` : 'next';
      throw new SentinelError(
        ErrorNames.RunQueued,
        `run ${run.runId} is queued: position ${d.position}, ${ahead}; ${d.heldBy.length}/${run.maxConcurrentRuns} slots held by ${d.heldBy.join(', ') || 'nobody'}`,
        uri,
      );
    }
    return d.kind === 'taken' && d.waited ? { waited: d.waited } : {};
  }
  // Contention this high is itself a reason to wait: retried like a queued run.
  throw new SentinelError(ErrorNames.RunQueued, `run ${run.runId} could not update the run slots (${CAS_TRIES} conflicts in a row)`, uri);
}

/** Frees the run's slot and its place in the queue (idempotent, best effort: a dead holder frees itself anyway). */
export async function releaseRunSlot(root: string, pipeline: string, runId: string, deps: SlotDeps): Promise<boolean> {
  const uri = runSlotsUri(root, pipeline);
  for (let i = 0; i < CAS_TRIES; i++) {
    const read = await deps.store.getJsonVersioned<RunSlots>(uri);
    if (!read) return false;
    const s = read.value;
    if (!s.holders.some((h) => h.runId === runId) && !s.waiters.some((w) => w.runId === runId)) return false;
    const next: RunSlots = { ...s, holders: s.holders.filter((h) => h.runId !== runId), waiters: s.waiters.filter((w) => w.runId !== runId) };
    if ((await deps.store.putJsonIf(uri, next, { ifMatch: read.version })) === 'ok') return true;
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (i + 1)));
  }
  return false;
}

/** Whether what run-slots.json held reads as run slots (a listing skips one that does not). */
export const isRunSlots = (x: unknown): x is RunSlots => {
  const s = x as Partial<RunSlots> | undefined;
  return typeof s?.pipeline === 'string' && Array.isArray(s.holders) && Array.isArray(s.waiters);
};

/** The live waiters of a pipeline's run slots, in queue order, each with its place (one that stopped retrying is left out). */
export function waitingRuns(slots: RunSlots, now: Date): Array<{ waiter: SlotWaiter; waiting: RunWaiting }> {
  const waiters = slots.waiters.filter((w) => isLiveWaiter(w, now)).sort(byPriority);
  const heldBy = slots.holders.map((h) => h.runId);
  return waiters.map((w, i) => ({
    waiter: w,
    waiting: { position: i + 1, ahead: waiters.slice(0, i).map((x) => x.runId), heldBy, maxConcurrentRuns: slots.maxConcurrentRuns, priority: w.priority, enqueuedAt: w.enqueuedAt, lastSeen: w.lastSeen },
  }));
}
