// The control plane's metrics on the local runtime: the real handlers emit EMF through Powertools, the runtime's
// sink files each line in its run's folder (<artifactRoot>/<pipeline>/<runId>/metrics.jsonl) or, outside a run, in
// <home>/metrics.jsonl, and the run summary's digest reads them back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FakeCompute, FakeServing } from '../support/fakes.js';
import { harness } from '../support/harness.js';
import { METRICS_FILE, readMetrics, runMetricsDigest, runMetricsFile, type MetricPoint } from '../../local/metrics-sink.js';
import { metricsDigestLine } from '../../cli/metrics-digest.js';
import { LOCAL_STAGE, metricsNamespace } from '../../core/metrics.js';
import { STAGES } from '../../core/stages.js';

const values = (points: MetricPoint[], name: string) => points.filter((p) => p.name === name);
const total = (points: MetricPoint[], name: string) => values(points, name).reduce((t, p) => t + p.value, 0);

test('happy path: the run folder holds its EMF lines, the digest says what happened, no task token anywhere', async () => {
  const h = harness(new FakeCompute(), new FakeServing());
  // Every token the broker mints, to look for afterwards.
  const minted: string[] = [];
  const mint = h.runtime.broker.mint.bind(h.runtime.broker);
  h.runtime.broker.mint = () => {
    const t = mint();
    minted.push(t);
    return t;
  };
  try {
    const r = await h.start('metrics-happy');
    assert.equal(r.outcome.status, 'SUCCEEDED');
    const file = runMetricsFile(h.artifactRoot, 'breast-cancer', r.runId);
    const text = readFileSync(file, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { _aws: { CloudWatchMetrics: Array<{ Namespace: string }> }; runId: string; pipeline: string });
    for (const l of lines) {
      assert.equal(l._aws.CloudWatchMetrics[0]!.Namespace, metricsNamespace(LOCAL_STAGE));
      assert.deepEqual([l.pipeline, l.runId], ['breast-cancer', r.runId], 'every line in the folder is this run’s');
    }
    const points = readMetrics(file);
    assert.deepEqual(values(points, 'StageAttempts').map((p) => p.dimensions.Stage), [...STAGES]);
    assert.deepEqual(values(points, 'StageDuration').map((p) => p.dimensions.Stage).sort(), [...STAGES].sort());
    assert.equal(values(points, 'CompletionLatency').length, 4, 'one per completed stage task');
    assert.ok(values(points, 'CompletionLatency').every((p) => p.unit === 'Seconds' && p.value >= 0 && p.value < 60));
    assert.deepEqual([total(points, 'Promotions'), total(points, 'RunsSucceeded'), total(points, 'RunsFailed'), total(points, 'StageRetries')], [1, 1, 0, 0]);
    assert.equal(values(points, 'RunDuration').length, 1);

    const digest = runMetricsDigest(file);
    assert.equal(digest.status, 'SUCCEEDED');
    assert.equal(digest.attempts, 4);
    assert.equal(digest.promoted, true);
    const line = metricsDigestLine(digest)!;
    assert.match(line, /^run \d+\.\ds · 4 stage attempts · 0 retries · completion latency mean \d+\.\ds, max \d+\.\ds · promoted$/);

    // The watcher's passes are outside any run: the runtime's own file.
    const control = readMetrics(join(h.home, METRICS_FILE));
    assert.ok(values(control, 'WatcherJobsSeen').length > 0);
    assert.ok(total(control, 'WatcherCompletionsPublished') >= 4);
    assert.ok(control.every((p) => p.runId === undefined));

    assert.equal(minted.length, 4);
    const everything = [text, readFileSync(join(h.home, METRICS_FILE), 'utf8')].join('');
    for (const t of minted) assert.ok(!everything.includes(t), 'a task token in the metrics');
  } finally {
    await h.cleanup();
  }
});

test('spot interruption: a retry named SpotInterrupted, two attempts of the stage', async () => {
  const h = harness(new FakeCompute({ tune: [{ kind: 'interrupted' }, { kind: 'succeed' }] }), new FakeServing());
  try {
    const r = await h.start('metrics-spot');
    assert.equal(r.outcome.status, 'SUCCEEDED');
    const points = readMetrics(runMetricsFile(h.artifactRoot, 'breast-cancer', r.runId));
    assert.deepEqual(values(points, 'StageRetries').map((p) => [p.dimensions.Stage, p.dimensions.ErrorName, p.value]), [['tune', 'SpotInterrupted', 1]]);
    assert.equal(values(points, 'StageAttempts').filter((p) => p.dimensions.Stage === 'tune').length, 2);
    assert.equal(values(points, 'StageDuration').filter((p) => p.dimensions.Stage === 'tune').length, 1, 'only the attempt that succeeded');
    assert.match(metricsDigestLine(runMetricsDigest(runMetricsFile(h.artifactRoot, 'breast-cancer', r.runId)))!, /5 stage attempts · 1 retry \(SpotInterrupted\)/);
  } finally {
    await h.cleanup();
  }
});

test('compute unavailable: the failed submits count as HandlerErrors of submit-stage, filed with the run', async () => {
  const h = harness(new FakeCompute({ train: [{ kind: 'unavailable' }, { kind: 'unavailable' }, { kind: 'succeed' }] }), new FakeServing());
  try {
    const r = await h.start('metrics-unavailable');
    assert.equal(r.outcome.status, 'SUCCEEDED');
    const points = readMetrics(runMetricsFile(h.artifactRoot, 'breast-cancer', r.runId));
    assert.deepEqual(values(points, 'HandlerErrors').map((p) => [p.dimensions.Function, p.dimensions.ErrorName]), [['submit-stage', 'ComputeUnavailable'], ['submit-stage', 'ComputeUnavailable']]);
    assert.match(metricsDigestLine(runMetricsDigest(runMetricsFile(h.artifactRoot, 'breast-cancer', r.runId)))!, /2 handler errors \(ComputeUnavailable ×2\)$/);
  } finally {
    await h.cleanup();
  }
});

test('a failed run and a kept champion: RunsFailed, ChampionsKept', async () => {
  const compute = new FakeCompute({ evaluate: [{ kind: 'succeed', metrics: { candidate_roc_auc: 0.96 } }] });
  const h = harness(compute, new FakeServing());
  try {
    const r1 = await h.start('metrics-champion');
    (compute as unknown as { script: object }).script = { evaluate: [{ kind: 'succeed', metrics: { candidate_roc_auc: 0.961, champion_roc_auc: 0.96 } }] };
    const r2 = await h.start('metrics-challenger');
    const kept = runMetricsDigest(runMetricsFile(h.artifactRoot, 'breast-cancer', r2.runId));
    assert.deepEqual([kept.championKept, kept.promoted, kept.status], [true, false, 'SUCCEEDED']);
    assert.match(metricsDigestLine(kept)!, /champion kept$/);
    (compute as unknown as { script: object }).script = { train: [{ kind: 'fail', message: 'ValueError: bad params' }] };
    const r3 = await h.start('metrics-fails');
    assert.equal(r3.outcome.status, 'FAILED');
    const failed = runMetricsDigest(runMetricsFile(h.artifactRoot, 'breast-cancer', r3.runId));
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.stageSeconds.train, undefined, 'a failed stage has no duration');
    // Three runs, three folders, none sharing lines.
    const folders = readdirSync(join(h.artifactRoot, 'breast-cancer')).filter((f) => existsSync(join(h.artifactRoot, 'breast-cancer', f, METRICS_FILE)));
    assert.deepEqual(folders.sort(), [r1.runId, r2.runId, r3.runId].sort());
  } finally {
    await h.cleanup();
  }
});
