// One champion at a time (issue 14): the object stores' conditional writes, promote's re-check and lease, Kueue
// labels and the reaper's Kueue rule, and object keys that cannot leave their bucket on either backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../local/object-store.js';
import { parseS3Uri, S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { checkObjectKey, keyProblem } from '../../core/object-key.js';
import { prepareRun } from '../../core/prepare-run.js';
import { promote, promotionLeaseUri, promotionNoteUri, type PromotionNote } from '../../core/promote.js';
import { gateNoteUri } from '../../core/evaluate-gate.js';
import { finishRun } from '../../core/finish-run.js';
import { championUri, runRecordUri } from '../../core/artifacts.js';
import { rayJobFor } from '../../core/kuberay/rayjob.js';
import { KUEUE_PRIORITY_LABEL, KUEUE_QUEUE_LABEL } from '../../core/kuberay/kueue.js';
import { planReap } from '../../core/reaper.js';
import { validateSpec } from '../../core/spec.js';
import type { ChampionRecord, RunRecord } from '../../core/model.js';
import type { JobRequest, ServeStatus, ServingPort } from '../../core/ports.js';
import type { ServeConfig } from '../../core/serve-config.js';
import { referenceRun, referenceSpec } from '../support/reference.js';
import { compact } from '../../cli/predict.js';

const temp = () => mkdtemp(join(tmpdir(), 'sentinel-conc-'));

test('local store: putJsonIf creates only when absent, replaces only the version read; a stale version conflicts', async () => {
  const store = new LocalObjectStore();
  const uri = join(await temp(), 'p', 'champion.json');
  assert.equal(await store.getJsonVersioned(uri), undefined);
  assert.equal(await store.putJsonIf(uri, { n: 1 }, { ifNoneMatch: '*' }), 'ok');
  assert.equal(await store.putJsonIf(uri, { n: 9 }, { ifNoneMatch: '*' }), 'conflict');
  const v1 = (await store.getJsonVersioned<{ n: number }>(uri))!;
  assert.deepEqual(v1.value, { n: 1 });
  assert.equal(await store.putJsonIf(uri, { n: 2 }, { ifMatch: v1.version }), 'ok');
  assert.equal(await store.putJsonIf(uri, { n: 3 }, { ifMatch: v1.version }), 'conflict', 'the version read is gone');
  assert.deepEqual(await store.getJson(uri), { n: 2 });
  // 20 writers from one version at once: exactly one wins.
  const v2 = (await store.getJsonVersioned(uri))!;
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.putJsonIf(uri, { n: 100 + i }, { ifMatch: v2.version })));
  assert.equal(results.filter((r) => r === 'ok').length, 1);
});

test('local store: a lock left by a dead process is taken over', async () => {
  const store = new LocalObjectStore();
  const uri = join(await temp(), 'x.json');
  await writeFile(`${uri}.lock`, '999999999 deadbeef'); // no such pid
  assert.equal(await store.putJsonIf(uri, { ok: true }, { ifNoneMatch: '*' }), 'ok');
});

test('object keys: ".." segments, absolute keys, NUL, control characters, "//" and over-long keys are refused on both backends', async () => {
  const bad = ['datasets/x/../../../../etc/passwd.csv', '/etc/passwd', 'a/\u0000b', 'a/\nb', 'a//b', './a', 'a/./b', 'a\\..\\b', 'k'.repeat(1025)];
  for (const key of bad) {
    assert.ok(keyProblem(key), key);
    assert.throws(() => checkObjectKey(key), (e: Error & { where?: string }) => e.name === 'ValidationFailed' && e.where === 'key', key.slice(0, 40));
    assert.throws(() => parseS3Uri(`s3://bkt/${key.replace(/^\//, '/')}`), (e: Error) => e.name === 'ValidationFailed', key.slice(0, 40));
  }
  for (const key of ['datasets/breast-cancer/2024 06 01.csv', 'artifacts/p/r1/train/', '', 'a/b..c/d.csv', 'ünï/çödé.csv']) assert.equal(keyProblem(key), undefined, key);
  // The S3 store refuses before any request (no client call could have been made: the client is not even real).
  const s3 = new S3ObjectStore({ send: async () => assert.fail('no request may be sent') } as never);
  await assert.rejects(s3.getText('s3://bkt/datasets/x/../../../../etc/passwd.csv'), (e: Error & { where?: string }) => e.name === 'ValidationFailed' && e.where === 'uri');
});

test('local store: a key escaping the bucket reads nothing outside it; prepare-run refuses the dataset with ValidationFailed', async () => {
  const home = await temp();
  const bucket = join(home, 'a', 'b', 'bucket');
  await mkdir(join(bucket, 'datasets', 'x'), { recursive: true });
  await writeFile(join(home, 'secret.csv'), 'root:x:0:0:secret\n');
  const escaping = `${bucket}/datasets/x/../../../../../secret.csv`;
  const store = new LocalObjectStore();
  for (const read of [() => store.getText(escaping), () => store.head(escaping), () => store.getJson(escaping), () => store.putJson(escaping, {})]) {
    await assert.rejects(read(), (e: Error & { where?: string }) => e.name === 'ValidationFailed' && e.where === 'uri' && !/secret/.test(e.message.replace(/secret\.csv/g, '')));
  }
  const run = { ...referenceRun(), artifactRoot: join(bucket, 'artifacts'), datasetUri: escaping };
  await assert.rejects(prepareRun(run, { store, now: () => new Date() }), (e: Error) => e.name === 'ValidationFailed' && !e.message.includes('root:x'));
});

/** Serving in memory; apply records who asked, status shows the last config applied. */
class Serving implements ServingPort {
  config?: ServeConfig;
  applied: string[] = [];
  async apply(_p: string, c: ServeConfig) {
    this.config = c;
    this.applied.push(String((c.applications[0]?.args as { run_id: string }).run_id));
  }
  async status(): Promise<ServeStatus> {
    const runId = (this.config?.applications[0]?.args as { run_id?: string } | undefined)?.run_id;
    return this.config ? { state: 'RUNNING', ...(runId ? { runId } : {}) } : { state: 'NOT_STARTED' };
  }
  endpoint() {
    return 'http://x/predict';
  }
}

test('promote re-checks at promote time: a champion promoted after the gate read keeps serving when the candidate does not beat it; finish-run records the run as kept, with why', async () => {
  const root = join(await temp(), 'artifacts');
  const store = new LocalObjectStore();
  const spec = validateSpec(referenceSpec());
  const serving = new Serving();
  const deps = { serving, store, clock: { now: () => Date.now(), sleep: async () => undefined }, now: () => new Date() };
  const a = { ...referenceRun(spec), runId: 'r00000000a1', artifactRoot: root };
  const b = { ...referenceRun(spec), runId: 'r00000000b2', artifactRoot: root };
  // Both gates read "no champion"; A promotes first with 0.99; B's 0.95 cleared the floor but loses to A.
  for (const r of [a, b]) await store.putJson(gateNoteUri(root, r.pipeline, r.runId), { championRunId: null });
  const pa = await promote({ run: a, modelUri: 'm/a', value: 0.99 }, deps, 1000);
  assert.equal(pa.kept, undefined);
  const pb = await promote({ run: b, modelUri: 'm/b', value: 0.95 }, deps, 1000);
  assert.equal(pb.championRunId, a.runId);
  assert.match(pb.kept!.reason, /r00000000a1/);
  assert.deepEqual(serving.applied, [a.runId], "B never went behind the route");
  const record = (await store.getJson<ChampionRecord>(championUri(root, a.pipeline)))!;
  assert.equal(record.current.runId, a.runId);
  assert.equal((await store.getJson<PromotionNote>(promotionNoteUri(root, b.pipeline, b.runId)))!.promoted, false);
  // The lease is released.
  assert.equal((await store.getJson<{ holder: string | null }>(promotionLeaseUri(root, a.pipeline)))!.holder, null);
  // The state machine went Promote → RecordPromoted for B; the record says kept.
  await finishRun({ run: b, end: { status: 'SUCCEEDED', promoted: true, reason: 'gate said promote' } }, { store, compute: { list: async () => [] } as never, tokens: {} as never, now: () => new Date() });
  const rec = (await store.getJson<RunRecord>(runRecordUri(root, b.pipeline, b.runId)))!;
  assert.deepEqual(rec.outcome && 'promoted' in rec.outcome ? rec.outcome.promoted : undefined, false);
  // A better candidate C, whose gate also saw no champion, beats A by the margin: it promotes over A.
  const c = { ...referenceRun(spec), runId: 'r00000000c3', artifactRoot: root };
  await store.putJson(gateNoteUri(root, c.pipeline, c.runId), { championRunId: null });
  const pc = await promote({ run: c, modelUri: 'm/c', value: 0.995 }, deps, 1000);
  assert.equal(pc.kept, undefined);
  assert.equal(pc.previousRunId, a.runId);
});

test('promote waits for a promotion lease held by a live promotion, and gives up naming its holder', async () => {
  const root = join(await temp(), 'artifacts');
  const store = new LocalObjectStore();
  const run = { ...referenceRun(), artifactRoot: root };
  await store.putJson(promotionLeaseUri(root, run.pipeline), { holder: 'run r0000000zz9', expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
  let slept = 0;
  const deps = { serving: new Serving(), store, clock: { now: () => Date.now(), sleep: async () => void slept++ }, now: () => new Date() };
  await assert.rejects(promote({ run, modelUri: 'm', value: 0.99 }, deps, 1), (e: Error) => e.name === 'PromotionFailed' && /r0000000zz9/.test(e.message));
  assert.ok(slept > 10);
  assert.equal(await store.getJson(championUri(root, run.pipeline)), undefined);
});

const jobRequest = (cluster: JobRequest['cluster']): JobRequest => ({
  jobId: 'churn-r0a1b2c3d4-train-1',
  identity: { pipeline: 'churn', runId: 'r0a1b2c3d4', stage: 'train', attempt: 1 },
  module: 'sentinel_jobs.train',
  input: { stage: 'train' },
  resources: { cpu: 2, memory: '4Gi', gpu: 0, spot: false },
  timeoutSeconds: 900,
  image: 'sentinel/jobs:1',
  cluster,
  labels: { 'sentinel.dev/run': 'r0a1b2c3d4' },
});

test('Kueue: RayJobs with their own cluster carry the queue and priority-class labels and are created suspended; without Kueue, neither', () => {
  const m = rayJobFor(jobRequest({ mode: 'ephemeral' }), { namespace: 'ml', kueue: { queueName: 'team-a', priorityClass: 'batch-low' } });
  assert.equal(m.metadata.labels[KUEUE_QUEUE_LABEL], 'team-a');
  assert.equal(m.metadata.labels[KUEUE_PRIORITY_LABEL], 'batch-low');
  assert.equal((m.spec as { suspend?: boolean }).suspend, true);
  assert.equal(m.metadata.labels['sentinel.dev/run'], 'r0a1b2c3d4');
  const plain = rayJobFor(jobRequest({ mode: 'ephemeral' }), { namespace: 'ml' });
  assert.equal(KUEUE_QUEUE_LABEL in plain.metadata.labels, false);
  assert.equal('suspend' in (plain.spec ?? {}), false);
  // A job on an existing cluster is not Kueue's to admit.
  const existing = rayJobFor(jobRequest({ mode: 'existing', selector: { 'ray.io/cluster': 'shared' } }), { namespace: 'ml', kueue: { queueName: 'team-a' } });
  assert.equal(KUEUE_QUEUE_LABEL in existing.metadata.labels, false);
  assert.equal('suspend' in (existing.spec ?? {}), false);
});

test('reaper: a Kueue-managed cluster is kept (Kueue owns its spec.suspend), an unmanaged idle one is suspended', () => {
  const base = { namespace: 'ml', suspended: false, owner: 'none' as const, createdAt: 0 };
  const plan = planReap({ clusters: [{ ...base, name: 'kueued', kueueManaged: true }, { ...base, name: 'plain' }], activity: [], nodeGroups: [], idleMs: 60_000, now: 10 * 60_000 });
  assert.deepEqual(plan.suspend.map((c) => c.name), ['plain']);
  assert.equal(plan.kept.find((k) => k.name === 'kueued')?.reason.includes('Kueue'), true);
});

test('the first call line never prints "undefined" for a missing or empty body', () => {
  for (const body of [undefined, null, '', {}, { predictions: undefined }]) assert.doesNotMatch(compact(body), /undefined/);
});

test('one session per home: a second session is refused with HomeBusy naming the holder and its runs, before any Ray head starts; a dead holder is taken over', async () => {
  const { spawn } = await import('node:child_process');
  const { lockHome, unlockHome, HomeBusyError, HOME_BUSY_EXIT } = await import('../../local/session-file.js');
  const { LocalSession } = await import('../../local/session.js');
  const home = await temp();
  // The holder is another process (a first `sentinel run`): it takes the lock and writes its session file.
  const code = `const m = await import(${JSON.stringify(join(import.meta.dirname, '..', '..', 'local', 'session-file.ts'))}); m.lockHome(${JSON.stringify(home)}, 'sentinel run'); const s = m.writeSessionFile(${JSON.stringify(home)}, { dashboardUrl: 'http://127.0.0.1:1', servePort: 8000 }); m.addSessionRun(${JSON.stringify(home)}, s.id, 'r1111111111'); console.log('locked'); setInterval(() => {}, 1000);`;
  const holder = spawn(join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'node'), ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((r) => holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && r()));
    assert.throws(() => lockHome(home, 'sentinel run'), (e: unknown) => e instanceof HomeBusyError && e.holder.pid === holder.pid && e.runs.includes('r1111111111'));
    // The session refuses before anything starts (a Python env that does not exist is never reached).
    await assert.rejects(LocalSession.open({ home, pythonEnv: '/nonexistent/python' } as never), (e: unknown) => e instanceof HomeBusyError && /r1111111111/.test((e as Error).message));
    assert.equal(HOME_BUSY_EXIT, 75);
  } finally {
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('exit', r));
  }
  // Its process is gone: the lock is stale and taken over.
  assert.equal(lockHome(home, 'sentinel run').pid, process.pid);
  unlockHome(home);
});
