// Promotion without a blocking Lambda (issue 10 item 4): the spec's promotionTimeout, the poll schedule, what a
// serving status means for the wait (KubeRay v1.7's upgrade shape included), and the begin/check steps the state
// machine runs — the champion compare-and-swap, the lease and the promote-time re-check across steps, and a timeout
// that keeps the champion serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../local/object-store.js';
import { beginPromotion, checkPromotion, promotionLeaseUri, promotionNoteUri, type PromotionLease, type PromotionNote, type PromotionStep } from '../../core/promote.js';
import { FIRST_PROMOTION_WAIT_SECONDS, MAX_PROMOTION_POLLS, promotionStatus, promotionTimeoutSeconds, promotionWaits } from '../../core/promotion-wait.js';
import { serveStatusFromRayService, type RayServiceObject, type RayServiceStatusFields } from '../../core/kuberay/status.js';
import { gateNoteUri } from '../../core/evaluate-gate.js';
import { championUri } from '../../core/artifacts.js';
import { validateSpec } from '../../core/spec.js';
import type { ChampionRecord } from '../../core/model.js';
import type { BusEvent, ServeStatus, ServingPort } from '../../core/ports.js';
import type { ServeConfig } from '../../core/serve-config.js';
import { referenceRun, referenceSpec } from '../support/reference.js';

const temp = () => mkdtemp(join(tmpdir(), 'sentinel-promo-wait-'));

test('promotionTimeout: durations 1m–2h (default 15m); anything else is ValidationFailed at spec.promotionTimeout', () => {
  assert.equal(promotionTimeoutSeconds(undefined), 900);
  assert.equal(validateSpec({ ...referenceSpec(), promotionTimeout: '30m' }).promotionTimeout, '30m');
  assert.equal(promotionTimeoutSeconds('90s'), 90);
  assert.equal(promotionTimeoutSeconds('2h'), 7200);
  for (const bad of ['15 minutes', '15', '0m', '30s', '3h', 15]) {
    assert.throws(
      () => validateSpec({ ...referenceSpec(), promotionTimeout: bad }),
      (e: Error & { where?: string }) => e.name === 'ValidationFailed' && /promotionTimeout/.test(e.message),
      `promotionTimeout ${JSON.stringify(bad)}`,
    );
  }
});

test('the wait schedule: MAX_PROMOTION_POLLS whole-second waits from 3 s, growing, adding up to the timeout', () => {
  for (const timeout of [60, 90, 300, 900, 3600, 7200]) {
    const w = promotionWaits(timeout);
    console.log(`promotionTimeout ${timeout} s → waits ${w.join(', ')} s`);
    assert.equal(w.length, MAX_PROMOTION_POLLS);
    assert.equal(w.reduce((a, b) => a + b, 0), timeout);
    assert.ok(w.every((x) => Number.isInteger(x) && x >= 1));
    for (let i = 1; i < w.length; i++) assert.ok(w[i]! >= w[i - 1]! - 1, `non-decreasing (±1 s rounding): ${w.join(',')}`);
    if (timeout >= FIRST_PROMOTION_WAIT_SECONDS * MAX_PROMOTION_POLLS * 2) {
      assert.equal(w[0], FIRST_PROMOTION_WAIT_SECONDS);
      assert.ok(w.at(-1)! > 3 * w[0]!, 'the waits grow');
    }
  }
  // Shorter than 3 s per check: equal waits.
  assert.deepEqual(promotionWaits(18), [2, 2, 2, 2, 2, 2, 2, 2, 2]);
});

const service = (status: RayServiceStatusFields): RayServiceObject => ({ apiVersion: 'ray.io/v1', kind: 'RayService', metadata: { name: 'churn' }, status });
const apps = (status: string, message?: string) => ({ applicationStatuses: { churn: { status, ...(message ? { message } : {}) } } });
const ready = { type: 'Ready', status: 'True' };
const upgrading = { type: 'UpgradeInProgress', status: 'True' };

test("status mapping: KubeRay v1.7's upgrade (old run serving, new one pending) is pending; the new run active is serving; a failed pending cluster is failed", () => {
  // v1.7 empties the active cluster's applicationStatuses while UpgradeInProgress=True; the old run still serves.
  const during = serveStatusFromRayService(service({ conditions: [ready, upgrading], activeServiceStatus: { rayClusterName: 'churn-a', applicationStatuses: {} }, pendingServiceStatus: apps('DEPLOYING') }), 'churn', 'rold', 'rnew');
  const p = promotionStatus(during, 'rnew');
  assert.equal(p.kind, 'pending');
  assert.match(p.detail, /still serving rold/);
  assert.match(p.detail, /rnew DEPLOYING on the pending cluster/);
  // The new cluster is active with the new run: serving.
  const after = serveStatusFromRayService(service({ conditions: [ready], activeServiceStatus: { rayClusterName: 'churn-b', ...apps('RUNNING') } }), 'churn', 'rnew');
  assert.deepEqual(promotionStatus(after, 'rnew'), { kind: 'serving', detail: 'RUNNING run rnew' });
  // The same status is pending for a promotion waiting on another run (the champion put back).
  assert.equal(promotionStatus(after, 'rold').kind, 'pending');
  const failed = serveStatusFromRayService(service({ conditions: [ready, upgrading], activeServiceStatus: { rayClusterName: 'churn-a', ...apps('RUNNING') }, pendingServiceStatus: apps('DEPLOY_FAILED', 'import error') }), 'churn', 'rold', 'rnew');
  const f = promotionStatus(failed, 'rnew');
  assert.equal(f.kind, 'failed');
  assert.match(f.detail, /import error/);
  // First deployment still coming up; a status read that failed; an unhealthy app (may recover): pending.
  assert.equal(promotionStatus(serveStatusFromRayService(service({ pendingServiceStatus: apps('RUNNING') }), 'churn'), 'rnew').kind, 'pending');
  assert.equal(promotionStatus({ state: 'UNKNOWN', message: 'ECONNRESET' }, 'rnew').kind, 'pending');
  assert.equal(promotionStatus({ state: 'UNHEALTHY', runId: 'rnew' }, 'rnew').kind, 'pending');
  assert.equal(promotionStatus({ state: 'RUNNING', runId: 'rnew', pending: { state: 'DEPLOY_FAILED', message: 'oom' } }, 'rnew').kind, 'failed');
});

/** Serving that goes through v1.7's upgrade shape for `slowChecks` status reads after each apply, then serves it. */
class UpgradingServing implements ServingPort {
  active?: string;
  pending?: string;
  reads = 0;
  applied: string[] = [];
  constructor(private readonly slowChecks: number, private readonly fails = false) {}
  async apply(_p: string, c: ServeConfig) {
    const runId = String((c.applications[0]!.args as { run_id: string }).run_id);
    this.applied.push(runId);
    if (runId === this.active) this.pending = undefined; // the active config again: KubeRay drops the pending cluster
    else this.pending = runId;
    this.reads = 0;
  }
  async status(): Promise<ServeStatus> {
    if (this.pending && this.reads++ >= this.slowChecks && !this.fails) {
      this.active = this.pending;
      this.pending = undefined;
    }
    const upgrade: RayServiceStatusFields = this.pending
      ? { conditions: [ready, upgrading], activeServiceStatus: { rayClusterName: 'a', applicationStatuses: {} }, pendingServiceStatus: apps(this.fails ? 'DEPLOYING' : 'DEPLOYING') }
      : { conditions: [ready], activeServiceStatus: { rayClusterName: 'b', ...apps('RUNNING') } };
    return serveStatusFromRayService(service(upgrade), 'churn', this.active, this.pending);
  }
  endpoint() {
    return 'http://x/predict';
  }
}

async function setup() {
  const root = join(await temp(), 'artifacts');
  const store = new LocalObjectStore();
  const spec = validateSpec(referenceSpec());
  const old = { ...referenceRun(spec), runId: 'r0000000a01', artifactRoot: root };
  const run = { ...referenceRun(spec), runId: 'r0000000b02', artifactRoot: root };
  let t = 1_000_000;
  const clock = { now: () => t, sleep: async (ms: number) => void (t += ms) };
  const events: BusEvent[] = [];
  const publisher = { publish: async (e: BusEvent[]) => void events.push(...e) };
  return { root, store, spec, old, run, clock, events, publisher, advance: (s: number) => void (t += s * 1000) };
}

/** Runs the steps as the state machine does: begin, then check after each wait it asks for. */
async function drive(first: () => Promise<PromotionStep>, next: (s: Extract<PromotionStep, { done: false }>) => Promise<PromotionStep>, advance: (s: number) => void) {
  const waits: number[] = [];
  let step = await first();
  while (!step.done) {
    waits.push(step.waitSeconds);
    advance(step.waitSeconds);
    step = await next(step);
  }
  return { step, waits };
}

test('begin/check: through a slow upgrade the old champion serves, then the new run is recorded; lease taken and released across steps', async () => {
  const s = await setup();
  const serving = new UpgradingServing(4);
  const deps = { serving, store: s.store, clock: s.clock, now: () => new Date(), publisher: s.publisher };
  const req0 = { run: s.old, modelUri: 'm/old', value: 0.95 };
  await s.store.putJson(gateNoteUri(s.root, s.old.pipeline, s.old.runId), { championRunId: null });
  const first = await drive(() => beginPromotion(req0, deps, { timeoutMs: 900_000, maxPolls: MAX_PROMOTION_POLLS }), (st) => checkPromotion(req0, st.progress, deps), s.advance);
  assert.equal(first.step.done && first.step.promotion.championRunId, s.old.runId);
  const req = { run: s.run, modelUri: 'm/new', value: 0.97 };
  await s.store.putJson(gateNoteUri(s.root, s.run.pipeline, s.run.runId), { championRunId: s.old.runId });
  let sawLease = false;
  const r = await drive(
    () => beginPromotion(req, deps, { timeoutMs: 900_000, maxPolls: MAX_PROMOTION_POLLS }),
    async (st) => {
      // Between steps the lease is this run's, and champion.json still names the old champion.
      const lease = await s.store.getJson<PromotionLease>(promotionLeaseUri(s.root, s.run.pipeline));
      sawLease ||= lease?.holder === `run ${s.run.runId}`;
      assert.equal((await s.store.getJson<ChampionRecord>(championUri(s.root, s.run.pipeline)))!.current.runId, s.old.runId);
      assert.match(st.progress.last!, /still serving r0000000a01/);
      return checkPromotion(req, st.progress, deps);
    },
    s.advance,
  );
  assert.ok(sawLease);
  assert.deepEqual(r.waits, promotionWaits(900).slice(0, 4), 'four checks pending: four waits, as scheduled');
  assert.ok(r.step.done);
  assert.equal(r.step.done && r.step.promotion.previousRunId, s.old.runId);
  const record = (await s.store.getJson<ChampionRecord>(championUri(s.root, s.run.pipeline)))!;
  assert.deepEqual([record.current.runId, record.previous?.runId], [s.run.runId, s.old.runId]);
  assert.equal((await s.store.getJson<PromotionLease>(promotionLeaseUri(s.root, s.run.pipeline)))!.holder, null);
  assert.deepEqual(s.events.map((e) => [e['detail-type'], (e.detail as { runId: string }).runId]), [['Model Promoted', s.old.runId], ['Model Promoted', s.run.runId]]);
});

test('begin/check: past promotionTimeout the run fails with PromotionTimedOut, the champion is not switched and its config goes back; the lease is freed', async () => {
  const s = await setup();
  const serving = new UpgradingServing(1_000);
  const deps = { serving, store: s.store, clock: s.clock, now: () => new Date(), publisher: s.publisher };
  const req0 = { run: s.old, modelUri: 'm/old', value: 0.95 };
  const fast = new UpgradingServing(0);
  await drive(() => beginPromotion(req0, { ...deps, serving: fast }, { timeoutMs: 60_000 }), (st) => checkPromotion(req0, st.progress, { ...deps, serving: fast }), s.advance);
  serving.active = s.old.runId;
  s.events.length = 0;
  const req = { run: s.run, modelUri: 'm/new', value: 0.97 };
  const waits: number[] = [];
  let step = await beginPromotion(req, deps, { timeoutMs: 900_000, maxPolls: MAX_PROMOTION_POLLS });
  await assert.rejects(
    (async () => {
      while (!step.done) {
        waits.push(step.waitSeconds);
        s.advance(step.waitSeconds);
        step = await checkPromotion(req, step.progress, deps);
      }
    })(),
    (e: Error & { where?: string }) => e.name === 'PromotionTimedOut' && e.where === s.run.pipeline && /promotionTimeout 900 s, 9 checks; last state RUNNING \(still serving r0000000a01\)/.test(e.message),
  );
  assert.equal(waits.length, MAX_PROMOTION_POLLS);
  assert.equal(waits.reduce((a, b) => a + b, 0), 900);
  assert.equal((await s.store.getJson<ChampionRecord>(championUri(s.root, s.run.pipeline)))!.current.runId, s.old.runId);
  assert.deepEqual(serving.applied, [s.run.runId, s.old.runId], "the champion's config went back behind the route");
  assert.equal((await serving.status()).runId, s.old.runId);
  assert.equal((await s.store.getJson<PromotionLease>(promotionLeaseUri(s.root, s.run.pipeline)))!.holder, null);
  assert.deepEqual(s.events, [], 'no Model Promoted');
});

test('begin/check: a lease held by another promotion makes begin wait (no apply) until it is free; the re-check then keeps a better champion that landed meanwhile', async () => {
  const s = await setup();
  const serving = new UpgradingServing(0);
  const deps = { serving, store: s.store, clock: s.clock, now: () => new Date() };
  const leaseUri = promotionLeaseUri(s.root, s.run.pipeline);
  await s.store.putJson(leaseUri, { holder: `run ${s.old.runId}`, expiresAt: new Date(Date.now() + 3_600_000).toISOString() } satisfies PromotionLease);
  await s.store.putJson(gateNoteUri(s.root, s.run.pipeline, s.run.runId), { championRunId: null });
  const req = { run: s.run, modelUri: 'm/new', value: 0.95 };
  let step = await beginPromotion(req, deps, { timeoutMs: 900_000, maxPolls: MAX_PROMOTION_POLLS });
  assert.equal(step.done, false);
  assert.equal(!step.done && step.progress.phase, 'lease');
  assert.match(!step.done ? step.progress.last! : '', /held by run r0000000a01/);
  assert.deepEqual(serving.applied, []);
  // Meanwhile the holder promotes 0.99 and frees the lease.
  const old = { run: s.old, modelUri: 'm/old', value: 0.99 };
  await s.store.putJson(gateNoteUri(s.root, s.old.pipeline, s.old.runId), { championRunId: null });
  const held = await beginPromotion(old, deps, { timeoutMs: 60_000 });
  assert.ok(held.done);
  assert.equal((await s.store.getJson<PromotionLease>(leaseUri))!.holder, null);
  step = await checkPromotion(req, (step as Extract<PromotionStep, { done: false }>).progress, deps);
  assert.ok(step.done);
  assert.equal(step.done && step.promotion.championRunId, s.old.runId);
  assert.match(step.done ? step.promotion.kept!.reason : '', /champion changed to run r0000000a01/);
  assert.deepEqual(serving.applied, [s.old.runId], 'the loser never went behind the route');
  assert.equal((await s.store.getJson<PromotionNote>(promotionNoteUri(s.root, s.run.pipeline, s.run.runId)))!.promoted, false);
  assert.equal((await s.store.getJson<PromotionLease>(leaseUri))!.holder, null);
});
