// The whole pipeline through KubeRay on one machine (issue 10, item 5's moonshot): the deployable state machine on
// the local interpreter with the real handlers; compute = KubeRayCompute and serving = RayServiceServing as the
// Lambdas' identity (the project's RBAC only) on a real kube-apiserver; the real KubeRay v1.7 operator creates each
// RayJob's RayCluster and the RayService's, submits the jobs and the Serve config through the head service's
// dashboard (routed to one real local Ray head), and writes every status. Real ingest, train, tune and evaluate run
// on real Ray; promotion waits for the RayService the operator reports; the served model answers POST /predict
// through the RayService's serve service; then a second promotion is a real blue/green upgrade by the operator, and
// `sentinel rollback --backend aws` (cli/rollback-aws.ts rollbackDeployed) brings the promoted run back by another
// real upgrade, with champion.json, the rollbacks/ record and Model Rolled Back on a real AWS-API server (moto in
// server mode: S3, EventBridge). Nothing here writes a RayJob or RayService status.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { repoRoot } from './harness.js';
import { predictThroughService, smallSpec, startOperatorStack, type OperatorStack } from './operator-stack.js';
import { startSimulatedKubelet, type SimulatedKubelet } from './operator.js';
import { newRunId } from './conformance.js';
import { parse as parseYaml } from 'yaml';
import type { ServeStatus } from '../../core/ports.js';
import type { ServeApplication, ServeConfig } from '../../core/serve-config.js';
import { promotionStatus } from '../../core/promotion-wait.js';
import { writeReferenceDataset } from '../../local/dataset.js';
import { requestJson } from '../../adapters/ray/http.js';
import { isNotFound } from '../../adapters/kuberay/retry.js';
import { runClusterNameFor } from '../../core/names.js';
import { jobSeconds, stageOutcome } from '../../core/job-status.js';
import { harness, referenceSpec, statesEntered } from '../support/harness.js';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { startMoto, useMotoEnv, REGION, type Moto } from '../support/moto.js';
import { championUri } from '../../core/artifacts.js';
import type { BusEvent, EventPublisher } from '../../core/ports.js';
import type { Champion, ChampionRecord } from '../../core/model.js';
import { RUN_EVENT_SOURCE, RUN_EVENT_TYPES } from '../../core/run-event-names.js';
import { S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { EventBridgePublisher } from '../../adapters/aws/eventbridge.js';
import { rollbackDeployed } from '../../cli/rollback-aws.js';

const t0 = Date.now();
const logDir = mkdtempSync(join(tmpdir(), 'sentinel-operator-pipeline-'));
const pipeline = referenceSpec().name;
const dataset = join(logDir, 'breast-cancer.csv');
let stack: OperatorStack;
let moto: Moto;
let restoreEnv: (() => void) | undefined;

before(async () => {
  [stack, moto] = await Promise.all([startOperatorStack({ logDir, pipeline }), startMoto(), writeReferenceDataset(join(repoRoot, '.venv'), dataset, 'breast-cancer')]);
});

/** The simulated kubelet that runs after the upgrade test held the pending cluster's pods back (see below). */
let kubeletAfterUpgrade: SimulatedKubelet | undefined;
/** The first run's runtime and artifacts (its models), removed once the rollback test has served the promoted one again. */
let cleanupFirstRun: (() => Promise<void>) | undefined;

after(async () => {
  await kubeletAfterUpgrade?.stop();
  await cleanupFirstRun?.();
  restoreEnv?.();
  await Promise.all([stack?.stop(), moto?.stop()]);
  console.log(`# pipeline through the KubeRay operator: wall time ${((Date.now() - t0) / 1000).toFixed(1)} s (logs in ${logDir})`);
});

/** Records what the RayService, Sentinel and Serve said whenever it changes (read-only), for a failure message. */
function watchServing(s: OperatorStack, file: string) {
  const lines: string[] = [];
  let on = true;
  const loop = (async () => {
    let last = '';
    while (on) {
      const rs = await s.kube.client('admin').get<{ status?: { conditions?: unknown; activeServiceStatus?: { rayClusterName?: string; applicationStatuses?: unknown }; pendingServiceStatus?: { rayClusterName?: string } } }>('rayservices', s.namespace, pipeline).catch(() => undefined);
      const sentinel = await s.serving.status(pipeline).catch((e: Error) => ({ error: e.message }));
      const serve = await requestJson<{ applications?: Record<string, { status?: string }> }>(s.ray.dashboard, 'GET', '/api/serve/applications/').then((x) => x.body).catch(() => undefined);
      const line = JSON.stringify({
        sentinel,
        conditions: rs?.status?.conditions,
        active: rs?.status?.activeServiceStatus?.rayClusterName,
        apps: rs?.status?.activeServiceStatus?.applicationStatuses,
        pending: rs?.status?.pendingServiceStatus?.rayClusterName,
        ray: Object.fromEntries(Object.entries(serve?.applications ?? {}).map(([k, v]) => [k, v.status])),
      });
      if (line !== last) {
        const entry = `${new Date().toISOString()} ${line}`;
        lines.push(entry);
        appendFileSync(file, `${entry}\n`);
      }
      last = line;
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return { lines, stop: async () => ((on = false), await loop) };
}

test('a full run through the real KubeRay operator on real Ray ends with a RayService serving the promoted model', async () => {
  const { compute, serving, proxy, operator, kubelet } = stack;
  const h = harness(compute, serving, { watchIntervalMs: 500 });
  const watch = watchServing(stack, join(logDir, 'serving.log'));
  try {
    const r = await h.start('through-operator', smallSpec(referenceSpec()), dataset);
    const events = r.execution.events.slice(-10).map((e) => JSON.stringify(e).slice(0, 300)).join('\n');
    assert.equal(r.outcome.status, 'SUCCEEDED', `${JSON.stringify(r.outcome)}\nlast events:\n${events}\nserving:\n${watch.lines.slice(-6).join('\n')}\noperator log:\n${operator.tail(8)}`);
    const entered = statesEntered(r.execution.events);
    assert.deepEqual(entered.slice(0, 8), ['PrepareRun', 'Ingest', 'Train', 'Tune', 'Evaluate', 'Gate', 'ShouldPromote', 'Promote'], entered.join(' '));
    assert.deepEqual(entered.slice(-2), ['RecordPromoted', 'Promoted'], entered.join(' '));

    // Every stage ran as a RayJob that the operator submitted to Ray and whose status it wrote.
    const jobs = await compute.list({ 'sentinel.dev/run': r.runId });
    assert.deepEqual(jobs.map((j) => j.labels['sentinel.dev/stage']).sort(), ['evaluate', 'ingest', 'train', 'tune']);
    assert.ok(jobs.every((j) => j.state === 'SUCCEEDED' && j.startTime && j.endTime), JSON.stringify(jobs));
    // Each stage's job time is the one the operator wrote (the RayJob's startTime/endTime: New → Initializing to the
    // terminal deployment status).
    const stages = (r.outcome.output as { stages: Record<string, { jobSeconds: number }> }).stages;
    for (const j of jobs) assert.equal(stages[j.labels['sentinel.dev/stage']!]?.jobSeconds, jobSeconds(j), `${j.jobId}: job time from the RayJob status`);
    const posted = proxy.seen.filter((s) => s.method === 'POST' && s.path === '/api/jobs/').length;
    assert.ok(posted >= 4, `the operator submitted the stage jobs (${posted} submissions)`);
    const rayJobs = (await requestJson<Array<{ submission_id?: string; status?: string }>>(stack.ray.dashboard, 'GET', '/api/jobs/')).body;
    for (const j of jobs) {
      const mine = rayJobs.find((x) => x.submission_id?.startsWith(j.jobId));
      assert.equal(mine?.status, 'SUCCEEDED', `Ray ran ${j.jobId}`);
    }
    // The default cluster mode (one RayCluster per run): every stage's RayJob selected the run's one cluster, which
    // the operator brought up once and finish-run deleted when the run ended.
    const runCluster = runClusterNameFor(pipeline, r.runId);
    assert.equal(compute.runClustersCreated, 1, 'one RayCluster creation for the run');
    assert.ok(kubelet.started.some((p) => p.startsWith(`${runCluster}-head-`)), `the run cluster's head pod was started (${kubelet.started.join(' ')})`);
    assert.ok(proxy.seen.filter((s) => s.method === 'POST' && s.path === '/api/jobs/').every((s) => s.host.startsWith(`${runCluster}-head-svc.`)), 'every job went to the run cluster\'s head service');
    const left = await stack.kube.client('admin').get<{ metadata: { deletionTimestamp?: string } }>('rayclusters', stack.namespace, runCluster).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    assert.ok(!left || left.metadata.deletionTimestamp, 'the run\'s RayCluster is deleted when the run ends');
    assert.ok(kubelet.started.some((p) => p.startsWith(`${pipeline}-`) && !p.startsWith(runCluster)), 'the RayService cluster\'s pods were started');

    // The RayService: the operator deployed our config on its cluster and reports our run serving, Ready.
    const status = await serving.status(pipeline);
    assert.deepEqual([status.state, status.runId], ['RUNNING', r.runId]);
    assert.ok(proxy.seen.some((s) => s.method === 'PUT' && s.path.startsWith('/api/serve/applications')), 'the operator PUT the Serve config');

    // The served model answers a prediction through the RayService's serve service (<name>-serve-svc:8000), as an
    // in-cluster client reaches it: through the pod network (the proxy), which sends it to Serve's HTTP proxy.
    const call = await predictThroughService(stack, pipeline, referenceSpec().serve.route);
    assert.match(call.url, new RegExp(`^http://${pipeline}-serve-svc\\.${stack.namespace}\\.svc\\.cluster\\.local:8000/`));
    assert.equal(call.status, 200, JSON.stringify(call.body));
    const body = call.body as { predictions?: unknown[] };
    assert.ok(Array.isArray(body.predictions) && body.predictions.length > 0, JSON.stringify(body));
    assert.ok(proxy.seen.some((s) => s.method === 'POST' && s.host.startsWith(`${pipeline}-serve-svc.`) && s.status === 200), 'the prediction went through the serve service');
    assert.equal((call.body as { model?: { runId?: string } }).model?.runId, r.runId, 'the promoted run\'s model answered');

    // The champion record promote wrote, for the rollback below (which serves its model again: the runtime's
    // artifacts stay until that test is done).
    const promoted = JSON.parse(readFileSync(championUri(h.artifactRoot, pipeline), 'utf8')) as ChampionRecord;
    assert.equal(promoted.current.runId, r.runId);
    upgraded = { promoted: promoted.current, ...(await blueGreenUpgrade(r.runId)) };
  } finally {
    await watch.stop();
    cleanupFirstRun = h.cleanup;
  }
});

interface RayServiceWire {
  spec: { serveConfigV2: string };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string }>; activeServiceStatus?: { rayClusterName?: string }; pendingServiceStatus?: { rayClusterName?: string } };
}

async function eventually<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, seen?: T[]): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (seen && JSON.stringify(seen.at(-1)) !== JSON.stringify(v)) seen.push(v);
    if (ok(v)) return v;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms\noperator log:\n${stack.operator.tail(12)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/**
 * A second promotion of the served pipeline, as promote applies it (the champion's Serve application with another
 * run's id: the same model, a new run), through RayServiceServing.apply. The new run on the head template changes the
 * cluster spec, so v1.7's NewCluster strategy names a pending RayCluster, keeps the serve Service on the active one
 * and switches only once the pending cluster's Serve applications are RUNNING. Everything asserted is what the
 * operator wrote, read as the lambda reads it (serving.status, core/promotion-wait.ts), and what Serve answers.
 *
 * The pending cluster's pods are held back (the simulated kubelet paused: pods still being scheduled and pulled, as on
 * a real cluster for minutes) so the upgrade's middle state is observed every time, not raced. One Ray head sits
 * behind every RayCluster here (the proxy): the pending cluster's dashboard and Serve are the active one's. So once
 * its head is up, the operator's first read of its Serve status (before it PUTs the new config) is the old
 * application RUNNING and it switches at once; the new config then rolls out on the one Serve while the active cluster
 * already is the new one, and Sentinel may say RUNNING for the new run a reconcile before Serve has replaced the old
 * replicas. Hence the last check waits for Serve itself to report the new config RUNNING before the prediction. A
 * failing config on the pending cluster while the old one keeps serving cannot happen with one shared Serve: it is
 * a unit test of the mapping on v1.7's shape (test/unit/kuberay-v17-status.test.ts).
 */
async function blueGreenUpgrade(firstRun: string): Promise<{ runId: string; serveConfig: ServeApplication; cluster: string }> {
  const started = Date.now();
  const { kube, namespace, serving } = stack;
  const admin = kube.client('admin');
  const before = await admin.get<RayServiceWire>('rayservices', namespace, pipeline);
  const oldCluster = before.status?.activeServiceStatus?.rayClusterName;
  assert.ok(oldCluster, 'an active cluster serves the first run');
  const champion = (parseYaml(before.spec.serveConfigV2) as ServeConfig).applications.find((a) => a.name === pipeline)!;
  assert.equal(champion.args.run_id, firstRun);
  const nextRun = newRunId();
  const next: ServeApplication = { ...champion, args: { ...champion.args, run_id: nextRun } };

  await stack.kubelet.stop();
  const seen: ServeStatus[] = [];
  try {
    await serving.apply(pipeline, { applications: [next] });
    // The operator named the pending cluster and created it (its spec carries the new run).
    const during = await eventually('the upgrade under way', () => serving.status(pipeline), (x) => x.pending?.runId === nextRun, 90_000, seen);
    assert.deepEqual([during.state, during.runId, during.pending?.state], ['RUNNING', firstRun, 'DEPLOYING'], JSON.stringify(during));
    const wait = promotionStatus(during, nextRun);
    assert.equal(wait.kind, 'pending', wait.detail);
    assert.ok(wait.detail.includes(firstRun), `the wait says who still serves: ${wait.detail}`);
    const mid = await admin.get<RayServiceWire>('rayservices', namespace, pipeline);
    assert.deepEqual(mid.status?.conditions?.find((c) => c.type === 'UpgradeInProgress')?.status, 'True');
    assert.equal(mid.status?.activeServiceStatus?.rayClusterName, oldCluster);
    const newCluster = mid.status?.pendingServiceStatus?.rayClusterName;
    assert.ok(newCluster && newCluster !== oldCluster, JSON.stringify(mid.status));
    // Meanwhile the old run answers, through the serve Service.
    const old = await predictThroughService(stack, pipeline, referenceSpec().serve.route);
    assert.equal(old.status, 200, JSON.stringify(old.body));
    assert.equal((old.body as { model?: { runId?: string } }).model?.runId, firstRun, 'the champion serves during the upgrade');

    // The pending cluster's pods start; the operator switches the serve Service to it.
    kubeletAfterUpgrade = startSimulatedKubelet(kube, namespace);
    const switched = await eventually('the switch', () => serving.status(pipeline), (x) => x.state === 'RUNNING' && x.runId === nextRun && !x.pending, 120_000, seen);
    assert.equal(promotionStatus(switched, nextRun).kind, 'serving');
    const afterSwitch = await admin.get<RayServiceWire>('rayservices', namespace, pipeline);
    assert.equal(afterSwitch.status?.activeServiceStatus?.rayClusterName, newCluster);
    assert.equal(afterSwitch.status?.conditions?.find((c) => c.type === 'UpgradeInProgress')?.status, 'False');
    const svc = await kube.core('admin').readNamespacedService({ name: `${pipeline}-serve-svc`, namespace });
    assert.equal(svc.spec?.selector?.['ray.io/cluster'], newCluster, 'the operator moved the serve Service to the new cluster');

    // Serve itself runs the new config (the shared head: see above), Sentinel still says so, and the new run answers.
    await eventually(
      'Serve running the new config',
      async () => (await requestJson<{ applications?: Record<string, { status?: string; deployed_app_config?: { args?: { run_id?: string } } }> }>(stack.ray.dashboard, 'GET', '/api/serve/applications/')).body?.applications?.[pipeline],
      (a) => a?.status === 'RUNNING' && a.deployed_app_config?.args?.run_id === nextRun,
      120_000,
    );
    await eventually('Sentinel after the switch', () => serving.status(pipeline), (x) => x.state === 'RUNNING' && x.runId === nextRun, 30_000, seen);
    const now = await predictThroughService(stack, pipeline, referenceSpec().serve.route);
    assert.equal(now.status, 200, JSON.stringify(now.body));
    assert.equal((now.body as { model?: { runId?: string } }).model?.runId, nextRun, 'the new run answers after the switch');
    // What Sentinel reported, in order: never anything but the old run serving (with the new one pending), then the new.
    for (const x of seen) assert.ok(x.runId === firstRun || x.runId === nextRun, JSON.stringify(seen));
    assert.ok(seen.every((x) => x.state !== 'DEPLOY_FAILED' && x.state !== 'NOT_STARTED'), JSON.stringify(seen));
    console.log(`# blue/green upgrade through the operator: ${((Date.now() - started) / 1000).toFixed(1)} s; Sentinel saw ${seen.map((x) => `${x.state}:${x.runId ?? '-'}${x.pending ? `(pending ${x.pending.state}:${x.pending.runId ?? '-'})` : ''}`).join(' → ')}`);
    return { runId: nextRun, serveConfig: next, cluster: newCluster };
  } finally {
    kubeletAfterUpgrade ??= startSimulatedKubelet(kube, namespace);
  }
}

/** What the first test left: the promoted champion, and the run the blue/green upgrade made serve (its config, cluster). */
let upgraded: { promoted: Champion; runId: string; serveConfig: ServeApplication; cluster: string } | undefined;

/** The real EventBridge publisher on moto, remembering what it put (moto keeps no record of delivered events). */
class SeenPublisher implements EventPublisher {
  readonly seen: BusEvent[] = [];
  constructor(private readonly real: EventPublisher) {}
  async publish(events: BusEvent[]) {
    await this.real.publish(events);
    this.seen.push(...events);
  }
}

test('rollback on the deployed stack after the upgrade: the previous champion serves again through the operator, champion.json swaps and records why, Model Rolled Back is published', async () => {
  assert.ok(upgraded, 'needs the promotion and the blue/green upgrade of the first test');
  const { promoted, runId: upgradedRun, serveConfig, cluster: upgradedCluster } = upgraded;
  const { kube, namespace, serving } = stack;
  const admin = kube.client('admin');
  restoreEnv = useMotoEnv(moto);
  const s3 = new S3Client({ region: REGION, forcePathStyle: true });
  const eb = new EventBridgeClient({ region: REGION });
  try {
    const bucket = 'sentinel-rollback-test';
    const root = `s3://${bucket}/artifacts`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const store = new S3ObjectStore(s3);
    // What the two promotions left: the upgraded run serving (its real Serve config), the promoted run before it.
    const current: Champion = { ...promoted, runId: upgradedRun, serveConfig, promotedAt: new Date().toISOString() };
    await store.putJson(championUri(root, pipeline), { pipeline, current, previous: promoted } satisfies ChampionRecord);
    assert.deepEqual([(await serving.status(pipeline)).state, (await serving.status(pipeline)).runId], ['RUNNING', upgradedRun]);

    const publisher = new SeenPublisher(new EventBridgePublisher(eb));
    const t1 = Date.now();
    const reason = `${upgradedRun} answers slowly in production`;
    const res = await rollbackDeployed(pipeline, reason, 'the suite', { artifactRoot: root, store, serving, publisher, where: 'moto', timeoutMs: 180_000 });
    const ms = Date.now() - t1;
    assert.ok(res.ok, `${JSON.stringify(res)}\noperator log:\n${stack.operator.tail(12)}`);
    assert.equal(res.current.runId, promoted.runId);
    assert.deepEqual(res.change, { ...res.change, action: 'rollback', from: upgradedRun, to: promoted.runId, where: 'deployed', reason, by: 'the suite' });

    // The operator switched for real. Serve runs the promoted run's config (one shared head: see blueGreenUpgrade, so
    // Sentinel may say DEPLOYING for a reconcile while Serve replaces the replicas), then Sentinel reads the promoted
    // run RUNNING with nothing pending; the RayService's spec is its config again, a third cluster is active and the
    // serve Service selects it; and it answers.
    await eventually(
      'Serve running the rolled-back config',
      async () => (await requestJson<{ applications?: Record<string, { status?: string; deployed_app_config?: { args?: { run_id?: string } } }> }>(stack.ray.dashboard, 'GET', '/api/serve/applications/')).body?.applications?.[pipeline],
      (a) => a?.status === 'RUNNING' && a.deployed_app_config?.args?.run_id === promoted.runId,
      120_000,
    );
    await eventually('Sentinel after the rollback', () => serving.status(pipeline), (x) => x.state === 'RUNNING' && x.runId === promoted.runId && !x.pending, 30_000);
    const rs = await admin.get<RayServiceWire>('rayservices', namespace, pipeline);
    assert.equal((parseYaml(rs.spec.serveConfigV2) as ServeConfig).applications.find((a) => a.name === pipeline)?.args.run_id, promoted.runId);
    const active = rs.status?.activeServiceStatus?.rayClusterName;
    assert.ok(active && active !== upgradedCluster, `a new cluster serves the rollback: ${JSON.stringify(rs.status)}`);
    assert.equal(rs.status?.conditions?.find((c) => c.type === 'UpgradeInProgress')?.status, 'False');
    const svc = await kube.core('admin').readNamespacedService({ name: `${pipeline}-serve-svc`, namespace });
    assert.equal(svc.spec?.selector?.['ray.io/cluster'], active, 'the operator moved the serve Service to the rollback\'s cluster');
    const call = await predictThroughService(stack, pipeline, referenceSpec().serve.route);
    assert.equal(call.status, 200, JSON.stringify(call.body));
    assert.equal((call.body as { model?: { runId?: string } }).model?.runId, promoted.runId, 'the previous champion answers after the rollback');

    // champion.json swapped (so a second rollback undoes this one) with the change in its history; the record; the event.
    const after = (await store.getJson<ChampionRecord>(championUri(root, pipeline)))!;
    assert.equal(after.current.runId, promoted.runId);
    assert.equal(after.previous?.runId, upgradedRun, 'so a second rollback undoes this one');
    assert.deepEqual(after.history?.map((x) => [x.action, x.from, x.to, x.where]), [['rollback', upgradedRun, promoted.runId, 'deployed']]);
    const records = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `artifacts/${pipeline}/rollbacks/` }))).Contents ?? [];
    assert.equal(records.length, 1);
    const rec = await store.getJson<{ from: string; to: string; reason: string }>(`s3://${bucket}/${records[0]!.Key}`);
    assert.deepEqual([rec?.from, rec?.to, rec?.reason], [upgradedRun, promoted.runId, reason]);
    const rolled = publisher.seen.filter((e) => e['detail-type'] === RUN_EVENT_TYPES.rolledBack);
    assert.equal(rolled.length, 1);
    assert.equal(rolled[0]!.source, RUN_EVENT_SOURCE);
    assert.equal((rolled[0]!.detail as { from: string }).from, upgradedRun);
    console.log(`# rollback through the operator + moto: ${(ms / 1000).toFixed(1)} s to serve the previous champion`);
  } finally {
    s3.destroy();
    eb.destroy();
    restoreEnv();
    restoreEnv = undefined;
    await cleanupFirstRun?.();
    cleanupFirstRun = undefined;
  }
});

test('a stage that fails in Ray fails the run through the operator: the named error and the field at fault, nothing after it runs', async () => {
  const { compute, serving } = stack;
  const h = harness(compute, serving, { watchIntervalMs: 500 });
  // The reference data with one feature value that is not a number: ingest (really run on Ray) refuses it.
  const [header, first, ...rest] = readFileSync(dataset, 'utf8').trimEnd().split('\n');
  const column = header!.split(',')[0]!;
  const bad = join(logDir, 'broken.csv');
  writeFileSync(bad, [header, ['oops', ...first!.split(',').slice(1)].join(','), ...rest].join('\n'));
  try {
    const r = await h.start('through-operator-fails', smallSpec(referenceSpec()), bad);
    assert.equal(r.outcome.status, 'FAILED', JSON.stringify(r.outcome));
    assert.equal(r.outcome.error, 'ValidationFailed');
    assert.ok(r.outcome.cause?.includes(column), `the cause names column ${column}: ${r.outcome.cause}`);
    const jobs = await compute.list({ 'sentinel.dev/run': r.runId });
    assert.deepEqual(jobs.map((j) => [j.labels['sentinel.dev/stage'], j.state]), [['ingest', 'FAILED']], 'the operator reported the ingest RayJob Failed; nothing else was submitted');
    // The RayJob's own status (v1.7: Failed, AppFailed, Ray's message with the job's "ValidationFailed: …" line) maps
    // to the same named error and field, whichever path completed the task.
    const ingest = jobs[0]!;
    assert.equal(ingest.reason, 'AppFailed');
    const outcome = stageOutcome(ingest);
    assert.equal(outcome.kind === 'failed' && outcome.error, 'ValidationFailed', JSON.stringify(ingest));
    assert.ok(outcome.kind === 'failed' && outcome.cause.includes(column), `the RayJob's message names column ${column}: ${ingest.message}`);
    const left = await stack.kube.client('admin').get<{ metadata: { deletionTimestamp?: string } }>('rayclusters', stack.namespace, runClusterNameFor(pipeline, r.runId)).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    assert.ok(!left || left.metadata.deletionTimestamp, 'a failed run\'s RayCluster is deleted too');
  } finally {
    await h.cleanup();
  }
});
