// The per-pipeline run-slot rule (core/run-slots.ts) on the real local object store: priority then age, a dead
// holder frees its slot, enqueueing is idempotent, release hands the slot on, and concurrent takers never exceed
// maxConcurrentRuns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../local/object-store.js';
import { acquireRunSlot, decideSlot, releaseRunSlot, runSlotsUri, waitingRuns, HOLDER_GRACE_MS, WAITER_STALE_MS, type RunSlots } from '../../core/run-slots.js';
import { runRecordUri } from '../../core/artifacts.js';
import { ErrorNames, SentinelError } from '../../core/errors.js';
import { validateSpec } from '../../core/spec.js';
import { referenceSpec } from '../support/harness.js';

const P = 'demo';
const me = (runId: string, priority = 0, maxConcurrentRuns = 1) => ({ pipeline: P, runId, priority, maxConcurrentRuns });
const t0 = new Date('2026-12-01T10:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

function withStore(fn: (store: LocalObjectStore, root: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-slots-'));
    try {
      await fn(new LocalObjectStore(), join(dir, 'artifacts'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const queuedError = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e as SentinelError;
  }
  assert.fail('expected RunQueued');
};

test('spec: maxConcurrentRuns defaults to 1 and priority to 0; both must be integers, maxConcurrentRuns ≥ 1', () => {
  const s = validateSpec(referenceSpec());
  assert.equal(s.maxConcurrentRuns, 1);
  assert.equal(s.priority, 0);
  assert.throws(() => validateSpec({ ...referenceSpec(), maxConcurrentRuns: 0 }), (e: Error) => e.name === ErrorNames.ValidationFailed && /maxConcurrentRuns/.test(e.message));
  assert.throws(() => validateSpec({ ...referenceSpec(), priority: 1.5 }), (e: Error) => e.name === ErrorNames.ValidationFailed && /priority/.test(e.message));
});

test('decideSlot: waiters are served by priority (higher first), then by age, then run id', () => {
  let slots: RunSlots | undefined;
  const holders = new Set<string>();
  const first = decideSlot(slots, me('r-hold'), holders, at(0));
  assert.equal(first.kind, 'taken');
  slots = first.slots;
  holders.add('r-hold');
  for (const [id, prio, ms] of [['r-old-low', 0, 1], ['r-new-high', 5, 3], ['r-old-high', 5, 2], ['r-same-b', 1, 4], ['r-same-a', 1, 4]] as const) {
    const d = decideSlot(slots, me(id, prio), holders, at(ms));
    assert.equal(d.kind, 'queued');
    slots = d.slots;
  }
  assert.deepEqual(slots!.waiters.map((w) => w.runId), ['r-old-high', 'r-new-high', 'r-same-a', 'r-same-b', 'r-old-low']);
  const q = decideSlot(slots, me('r-same-b', 1), holders, at(10));
  assert.ok(q.kind === 'queued');
  assert.equal(q.position, 4);
  assert.deepEqual(q.ahead, ['r-old-high', 'r-new-high', 'r-same-a']);
  assert.deepEqual(q.heldBy, ['r-hold']);
  // The holder ends: only the first waiter may take the slot, not one further back.
  holders.delete('r-hold');
  assert.equal(decideSlot(slots, me('r-new-high', 5), holders, at(11)).kind, 'queued');
  const next = decideSlot(slots, me('r-old-high', 5), holders, at(11));
  assert.ok(next.kind === 'taken');
  assert.equal(next.waited?.enqueuedAt, at(2).toISOString());
  assert.equal(next.waited?.waitedMs, 9);
  assert.deepEqual(next.waited?.behindAtEnqueue, ['r-hold']);
});

test('decideSlot: a stale waiter (stopped retrying) no longer blocks the queue', () => {
  const a = decideSlot(undefined, me('r-a'), new Set(), at(0));
  const b = decideSlot(a.slots, me('r-b', 9), new Set(['r-a']), at(1));
  assert.equal(b.kind, 'queued');
  // r-a ended, r-b (first in the queue) went away without a release; r-c may go once r-b is stale.
  assert.equal(decideSlot(b.slots, me('r-c'), new Set(), at(2)).kind, 'queued');
  assert.equal(decideSlot(b.slots, me('r-c'), new Set(), at(2 + WAITER_STALE_MS)).kind, 'taken');
});

test('acquireRunSlot: enqueue is idempotent, a dead holder frees its slot, release hands it on', withStore(async (store, root) => {
  let now = t0;
  const deps = { store, now: () => now };
  const run = (runId: string, priority = 0) => ({ artifactRoot: root, pipeline: P, runId, priority, maxConcurrentRuns: 1 });
  assert.deepEqual(await acquireRunSlot(run('r1'), deps), {});
  await store.putJson(runRecordUri(root, P, 'r1'), { status: 'RUNNING' });
  // The same run asks again (a redelivered PrepareRun): it still holds the slot.
  assert.deepEqual(await acquireRunSlot(run('r1'), deps), {});

  for (let i = 0; i < 3; i++) {
    const e = await queuedError(acquireRunSlot(run('r2'), deps));
    assert.equal(e.name, ErrorNames.RunQueued);
    assert.match(e.message, /position 1/);
    assert.match(e.message, /r1/);
  }
  const stored = (await store.getJson<RunSlots>(runSlotsUri(root, P)))!;
  assert.deepEqual(stored.waiters.map((w) => w.runId), ['r2']);
  assert.deepEqual(stored.holders.map((h) => h.runId), ['r1']);
  assert.deepEqual(waitingRuns(stored, now).map(({ waiter, waiting }) => [waiter.runId, waiting.position, waiting.ahead, waiting.heldBy]), [['r2', 1, [], ['r1']]]);
  assert.deepEqual(waitingRuns(stored, new Date(Date.parse(stored.waiters[0]!.lastSeen) + WAITER_STALE_MS + 1)), [], 'a waiter that stopped retrying is not shown');

  // r1 dies without a release: its run.json no longer says RUNNING, so the slot is free for r2.
  await store.putJson(runRecordUri(root, P, 'r1'), { status: 'ABANDONED' });
  now = at(5000);
  const got = await acquireRunSlot(run('r2'), deps);
  assert.equal(got.waited?.waitedMs, 5000);
  assert.deepEqual(got.waited?.behindAtEnqueue, ['r1']);

  // A holder without run.json counts for the grace period only.
  const e3 = await queuedError(acquireRunSlot(run('r3'), deps));
  assert.equal(e3.name, ErrorNames.RunQueued);
  now = at(5000 + HOLDER_GRACE_MS + 1);
  assert.ok((await acquireRunSlot(run('r3'), deps)).waited);
  await store.putJson(runRecordUri(root, P, 'r3'), { status: 'RUNNING' });

  // Release hands the slot to the next waiter at its next try; releasing twice is harmless.
  await queuedError(acquireRunSlot(run('r4'), deps));
  assert.equal(await releaseRunSlot(root, P, 'r3', deps), true);
  assert.equal(await releaseRunSlot(root, P, 'r3', deps), false);
  assert.ok((await acquireRunSlot(run('r4'), deps)).waited);
}));

test('acquireRunSlot: 12 concurrent takers with maxConcurrentRuns 3 — exactly 3 hold, 9 wait, none lost', withStore(async (store, root) => {
  const deps = { store, now: () => new Date() };
  const ids = Array.from({ length: 12 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  const results = await Promise.allSettled(ids.map((runId) => acquireRunSlot({ artifactRoot: root, pipeline: P, runId, priority: 0, maxConcurrentRuns: 3 }, deps)));
  const taken = results.filter((r) => r.status === 'fulfilled').length;
  const queued = results.filter((r) => r.status === 'rejected' && (r.reason as Error).name === ErrorNames.RunQueued).length;
  assert.equal(taken, 3);
  assert.equal(queued, 9);
  const s = (await store.getJson<RunSlots>(runSlotsUri(root, P)))!;
  assert.equal(s.holders.length, 3);
  assert.deepEqual([...s.holders.map((h) => h.runId), ...s.waiters.map((w) => w.runId)].sort(), ids);
}));
