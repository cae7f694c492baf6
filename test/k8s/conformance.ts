// One ComputePort contract, run against every backend: the state machine's handlers must not be able to tell them
// apart (idempotent submit, a clash on a different spec, unknown → undefined, list by labels, stop).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ComputePort, JobRequest } from '../../core/ports.js';
import { isTerminal } from '../../core/job-status.js';
import { jobNameFor, labelsFor } from '../../core/names.js';
import type { Stage } from '../../core/stages.js';

export const newRunId = () => `r${randomBytes(5).toString('hex').slice(0, 9)}`;

/** A small request: `python -m this` runs anywhere Python does and finishes at once (on `cluster`, default ephemeral). */
export const conformanceRequest = request;
function request(runId: string, stage: Stage, input: Record<string, unknown> = { n: 1 }, cluster: JobRequest['cluster'] = { mode: 'ephemeral' }): JobRequest {
  const identity = { pipeline: 'conformance', runId, stage, attempt: 1 };
  return {
    jobId: jobNameFor('conformance', runId, stage, 1),
    identity,
    module: 'this',
    input,
    resources: { cpu: 1, memory: '1Gi', gpu: 0, spot: false },
    timeoutSeconds: 600,
    image: 'ghcr.io/sentinel-dev/sentinel-jobs:0.1.0',
    cluster,
    labels: labelsFor(identity),
  };
}

/** What Ray (`$`, `${…}`), a shell (backticks, quotes, `#`) or YAML 1.1 (NEL, LS, PS) would alter, and emoji. */
export const HOSTILE_TEXT = "price$HOME.csv ${HOME} $ $$ `id` $(id) 'single' \"double\" # not a comment \u0085 NEL \u2028 LS \u2029 PS 😀 é \\ end";

/** A stage input full of HOSTILE_TEXT: in a value (an S3 key), as a key, in a list. */
export const hostileInput = (): Record<string, unknown> => ({
  pipeline: 'conformance',
  params: { datasetUri: `s3://bucket/datasets/${HOSTILE_TEXT}.csv`, [HOSTILE_TEXT]: [HOSTILE_TEXT, `${HOSTILE_TEXT}${HOSTILE_TEXT}`] },
});

/** The fixture job that prints the stage input it decoded (test/fixtures/stage-input-echo). */
export const ECHO_MODULE = 'stage_input_echo';
export const ECHO_CODE = join(import.meta.dirname, '..', 'fixtures', 'stage-input-echo');
const ECHO_MARKER = 'SENTINEL-STAGE-INPUT-ECHO ';

/** The input the echo job printed, from its logs. */
export function echoedInput(logs: string): unknown {
  const line = logs.split('\n').find((l) => l.startsWith(ECHO_MARKER));
  assert.ok(line, `the echo job printed no input; its logs:\n${logs.slice(-2000)}`);
  return JSON.parse(line.slice(ECHO_MARKER.length)) as unknown;
}

/**
 * Stage input survives the backend: HOSTILE_TEXT goes in, a real Ray job decodes it with sentinel_sdk, and what it
 * printed equals what was sent, byte for byte. `run` submits the request on the backend and returns the job's logs.
 */
export function stageInputConformance(name: string, run: (req: JobRequest) => Promise<string>) {
  describe(`Stage input survives Ray: ${name}`, () => {
    test('$, ${…}, backticks, quotes, #, NEL, LS, PS and emoji reach the job byte for byte', async () => {
      const req: JobRequest = { ...conformanceRequest(newRunId(), 'ingest', hostileInput()), module: ECHO_MODULE, pythonPath: ECHO_CODE };
      const got = echoedInput(await run(req));
      const utf8 = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');
      assert.equal(Buffer.compare(utf8(got), utf8(req.input)), 0, `sent ${JSON.stringify(req.input)}\ngot  ${JSON.stringify(got)}`);
    });
  });
}

/** Waits for a job to end and returns its logs (it must have succeeded). */
export async function logsWhenDone(c: ComputePort, jobId: string, timeoutMs = 120_000): Promise<string> {
  const s = await eventually(`job ${jobId}`, () => c.get(jobId), (v) => v !== undefined && isTerminal(v.state), timeoutMs);
  const logs = await c.logs(jobId, 1000);
  assert.equal(s?.state, 'SUCCEEDED', `${jobId}: ${s?.message ?? ''}\n${logs.slice(-2000)}`);
  return logs;
}

async function eventually<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function computeConformance(name: string, compute: () => ComputePort, cluster: JobRequest['cluster'] = { mode: 'ephemeral' }) {
  const conformanceRequest = (runId: string, stage: Stage, input?: Record<string, unknown>) => request(runId, stage, input, cluster);
  describe(`ComputePort conformance: ${name}`, () => {
    test('submit is idempotent: the same request again is the same job (created: false)', async () => {
      const c = compute();
      const req = conformanceRequest(newRunId(), 'ingest');
      assert.deepEqual(await c.submit(req), { jobId: req.jobId, created: true });
      assert.deepEqual(await c.submit(req), { jobId: req.jobId, created: false });
      const s = await c.get(req.jobId);
      assert.ok(s, 'submitted job is found');
      assert.equal(s.jobId, req.jobId);
      for (const [k, v] of Object.entries(req.labels)) assert.equal(s.labels[k], v, `label ${k}`);
    });

    test('the same job id with a different spec is refused as ValidationFailed naming the job', async () => {
      const c = compute();
      const req = conformanceRequest(newRunId(), 'train');
      await c.submit(req);
      await assert.rejects(c.submit({ ...req, input: { n: 2 } }), (e: Error) => {
        assert.equal(e.name, 'ValidationFailed');
        assert.match(e.message, new RegExp(req.jobId));
        return true;
      });
    });

    test('get of an unknown job is undefined', async () => {
      assert.equal(await compute().get(jobNameFor('conformance', newRunId(), 'tune', 7)), undefined);
    });

    test('list returns exactly the jobs whose labels match the selector', async () => {
      const c = compute();
      const [runA, runB] = [newRunId(), newRunId()];
      const a1 = conformanceRequest(runA, 'ingest');
      const a2 = conformanceRequest(runA, 'train');
      const b1 = conformanceRequest(runB, 'ingest');
      for (const r of [a1, a2, b1]) await c.submit(r);
      const ofA = (await c.list({ 'sentinel.dev/run': runA })).map((s) => s.jobId).sort();
      assert.deepEqual(ofA, [a1.jobId, a2.jobId].sort());
      const managed = (await c.list({ 'app.kubernetes.io/managed-by': 'sentinel', 'sentinel.dev/pipeline': 'conformance' })).map((s) => s.jobId);
      for (const r of [a1, a2, b1]) assert.ok(managed.includes(r.jobId), `${r.jobId} listed as managed`);
      assert.deepEqual(await c.list({ 'sentinel.dev/run': newRunId() }), []);
    });

    test('stop is idempotent (also for unknown jobs) and leaves the job stopped or gone', async () => {
      const c = compute();
      const req = conformanceRequest(newRunId(), 'evaluate');
      await c.submit(req);
      await c.stop(req.jobId);
      await c.stop(req.jobId);
      await c.stop(jobNameFor('conformance', newRunId(), 'evaluate', 9));
      const after = await eventually('job after stop', () => c.get(req.jobId), (s) => s === undefined || isTerminal(s.state));
      if (after) assert.ok(isTerminal(after.state));
    });
  });
}
