// Promotion as a Wait/Choice loop in the deployable ASL (issue 10 item 4), on aws-local-stepfunctions with the real
// handlers: Promote applies and returns, WaitForPromotion ↔ CheckPromotion until serving runs the new config or the
// spec's promotionTimeout passes. Transitions (StateEntered + StateRetried, as Step Functions bills them) are
// counted and printed for a normal run, a longer-training one, a slow promotion and one that times out.
// The Wait states' pauses are shortened to 5 ms (waitTimeOverrides); the loop's bound is its check count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { harness, referenceSpec, statesEntered } from '../support/harness.js';
import type { ChampionRecord, RunRecord } from '../../core/model.js';
import type { ServeStatus, ServingPort } from '../../core/ports.js';
import type { ServeConfig } from '../../core/serve-config.js';
import { serveStatusFromRayService } from '../../core/kuberay/status.js';
import { MAX_PROMOTION_POLLS } from '../../core/promotion-wait.js';
import type { ExecutionEvent } from '../../local/runtime.js';

const readJson = <T>(p: string) => JSON.parse(readFileSync(p, 'utf8')) as T;
const transitions = (events: ExecutionEvent[]) => events.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried').length;
const fastWaits = { waitTimeOverrides: { WaitForPromotion: 5 } };

/**
 * Serving as KubeRay v1.7 reports a RayService upgrade: after an apply of a new run, the old run stays active (its
 * applicationStatuses emptied, UpgradeInProgress=True) and the new one pending for `slowReads` status reads; then
 * the new cluster is active. `slowReads: Infinity` never finishes the upgrade.
 */
class UpgradingServing implements ServingPort {
  active?: string;
  pending?: string;
  reads = 0;
  readonly applied: string[] = [];
  constructor(public slowReads: number) {}
  async apply(_p: string, c: ServeConfig) {
    const runId = String((c.applications[0]!.args as { run_id: string }).run_id);
    this.applied.push(runId);
    this.pending = runId === this.active ? undefined : runId;
    this.reads = 0;
  }
  async status(pipeline: string): Promise<ServeStatus> {
    if (this.pending && (!this.active || this.reads++ >= this.slowReads)) {
      this.active = this.pending;
      this.pending = undefined;
    }
    const ready = { type: 'Ready', status: 'True' };
    const app = (status: string) => ({ applicationStatuses: { [pipeline]: { status } } });
    const status = this.pending
      ? { conditions: [ready, { type: 'UpgradeInProgress', status: 'True' }], activeServiceStatus: { rayClusterName: 'a', applicationStatuses: {} }, pendingServiceStatus: app('DEPLOYING') }
      : { conditions: [ready], activeServiceStatus: { rayClusterName: 'b', ...app('RUNNING') } };
    return serveStatusFromRayService({ apiVersion: 'ray.io/v1', kind: 'RayService', metadata: { name: pipeline }, status }, pipeline, this.active, this.pending);
  }
  endpoint(_p: string, route: string) {
    return `http://127.0.0.1:8000${route}`;
  }
}

/** A challenger's evaluate job: it beats the champion by more than the margin. */
const challenger = () => ({ evaluate: [{ kind: 'succeed' as const, metrics: { candidate_roc_auc: 0.99, champion_roc_auc: 0.96 } }] });

test('a normal run: Promote serves at once, 11 transitions, the same with 20x longer jobs (independent of training length)', async () => {
  const counts: number[] = [];
  for (const jobMs of [20, 400]) {
    const h = harness(new FakeCompute({}, jobMs), new FakeServing(), fastWaits);
    try {
      const r = await h.start(`normal-${jobMs}`);
      assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
      assert.deepEqual(statesEntered(r.execution.events).slice(-4), ['Promote', 'PromotionServing', 'RecordPromoted', 'Promoted']);
      counts.push(transitions(r.execution.events));
    } finally {
      await h.cleanup();
    }
  }
  console.log(`transitions, normal run: ${counts[0]} (jobs 20 ms), ${counts[1]} (jobs 400 ms)`);
  assert.deepEqual(counts, [11, 11]);
});

test('a slow promotion (v1.7 upgrade: old run serving, new one pending for 5 status reads): the loop waits in the state machine, then records the champion; ≤ 40 transitions', async () => {
  const serving = new UpgradingServing(5);
  const compute = new FakeCompute();
  const h = harness(compute, serving, fastWaits);
  try {
    const first = await h.start('first');
    assert.equal(first.outcome.status, 'SUCCEEDED', JSON.stringify(first.outcome));
    (compute as unknown as { script: object }).script = challenger();
    const r = await h.start('slow');
    assert.equal(r.outcome.status, 'SUCCEEDED', JSON.stringify(r.outcome));
    const entered = statesEntered(r.execution.events);
    const loop = entered.slice(entered.indexOf('Promote'));
    const checks = loop.filter((s) => s === 'CheckPromotion').length;
    assert.equal(checks, 5, "five pending reads (Promote's look and four checks); the fifth check sees the new run serving");
    assert.deepEqual(loop.slice(0, 5), ['Promote', 'PromotionServing', 'WaitForPromotion', 'CheckPromotion', 'PromotionServing']);
    assert.deepEqual(loop.slice(-3), ['PromotionServing', 'RecordPromoted', 'Promoted']);
    // Each Wait lasted what the step before it asked for (growing).
    const waits = r.execution.events.filter((e) => e.type === 'StateExited' && (e.state?.name === 'Promote' || e.state?.name === 'CheckPromotion')).map((e) => (e.state!.output as { promotion: { waitSeconds?: number } }).promotion.waitSeconds).filter((w) => w !== undefined);
    assert.equal(waits.length, 5);
    assert.ok(waits.at(-1)! > waits[0]!, `waits grow: ${waits.join(', ')}`);
    const n = transitions(r.execution.events);
    console.log(`transitions, slow promotion (${checks} checks, waits ${waits.join(', ')} s): ${n}`);
    assert.equal(n, 11 + 3 * checks);
    assert.ok(n <= 40);
    const champion = readJson<ChampionRecord>(join(h.artifactRoot, 'breast-cancer', 'champion.json'));
    assert.deepEqual([champion.current.runId, champion.previous?.runId], [r.runId, first.runId]);
    const record = readJson<RunRecord>(join(h.artifactRoot, 'breast-cancer', r.runId, 'run.json'));
    assert.deepEqual(record.outcome && 'promoted' in record.outcome ? record.outcome.promoted : undefined, true);
  } finally {
    await h.cleanup();
  }
});

test('a promotion past promotionTimeout: the run fails with PromotionTimedOut after MAX_PROMOTION_POLLS checks, records why, the old champion keeps serving; 38 transitions', async () => {
  const serving = new UpgradingServing(0);
  const compute = new FakeCompute();
  const h = harness(compute, serving, fastWaits);
  try {
    const first = await h.start('champion');
    assert.equal(first.outcome.status, 'SUCCEEDED', JSON.stringify(first.outcome));
    serving.slowReads = Infinity;
    (compute as unknown as { script: object }).script = challenger();
    const r = await h.start('never-serves', { ...referenceSpec(), promotionTimeout: '5m' });
    assert.equal(r.outcome.status, 'FAILED');
    assert.equal(r.outcome.error, 'PromotionTimedOut');
    assert.match(r.outcome.cause!, /promotionTimeout 300 s, 9 checks; last state RUNNING \(still serving r[0-9a-f]{9}\)/);
    const entered = statesEntered(r.execution.events);
    assert.equal(entered.filter((s) => s === 'CheckPromotion').length, MAX_PROMOTION_POLLS);
    assert.deepEqual(entered.slice(-4), ['CheckPromotion', 'CheckPromotionFailed', 'RecordFailure', 'Failed']);
    const n = transitions(r.execution.events);
    console.log(`transitions, promotion timed out (${MAX_PROMOTION_POLLS} checks): ${n}`);
    assert.equal(n, 11 + 3 * MAX_PROMOTION_POLLS);
    assert.ok(n <= 40);
    // The champion was not switched; its config went back behind the route and serves.
    const champion = readJson<ChampionRecord>(join(h.artifactRoot, 'breast-cancer', 'champion.json'));
    assert.equal(champion.current.runId, first.runId);
    assert.deepEqual(serving.applied.slice(-2), [r.runId, first.runId]);
    assert.equal((await serving.status('breast-cancer')).runId, first.runId);
    const record = readJson<RunRecord>(join(h.artifactRoot, 'breast-cancer', r.runId, 'run.json'));
    assert.equal(record.status, 'FAILED');
    const outcome = record.outcome as { error: string; stage: string; cause: string };
    assert.deepEqual([outcome.error, outcome.stage], ['PromotionTimedOut', 'CheckPromotion']);
    assert.match(outcome.cause, /not RUNNING after/);
    const lease = readJson<{ holder: string | null }>(join(h.artifactRoot, 'breast-cancer', 'promotion-lease.json'));
    assert.equal(lease.holder, null);
  } finally {
    await h.cleanup();
  }
});
