// One promoting process of the concurrent-promotion fault test (test/paths/faults-concurrency.test.ts): it plays a
// run whose gate already decided PROMOTE against the champion it read (noted as the gate notes it), waits at a
// barrier so all workers race, then promotes through the real core/promote.ts over the given object store (the
// local folder store, or S3 at an endpoint: moto) and a serving backend shared by all workers (a file: the last
// config applied is what serves). It prints its Promotion (or its error) as one JSON line.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { validateSpec } from '../../core/spec.js';
import { promote } from '../../core/promote.js';
import { gateNoteUri, type GateNote } from '../../core/evaluate-gate.js';
import { championUri } from '../../core/artifacts.js';
import { systemClock, type ObjectStore, type ServeStatus, type ServingPort } from '../../core/ports.js';
import type { ChampionRecord } from '../../core/model.js';
import type { ServeConfig } from '../../core/serve-config.js';
import { LocalObjectStore, writeAtomic } from '../../local/object-store.js';
import { S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { referenceRun, referenceSpec } from './reference.js';

/** Serving shared by processes: apply writes the config to a file (atomically), status reads it back. */
export class FileServing implements ServingPort {
  constructor(private readonly file: string) {}
  async apply(_pipeline: string, config: ServeConfig) {
    await writeAtomic(this.file, JSON.stringify(config));
  }
  async status(): Promise<ServeStatus> {
    const text = await readFile(this.file, 'utf8').catch(() => undefined);
    if (!text) return { state: 'NOT_STARTED' };
    const app = (JSON.parse(text) as { applications: Array<{ args?: { run_id?: string } }> }).applications[0];
    return { state: 'RUNNING', ...(app?.args?.run_id ? { runId: app.args.run_id } : {}) };
  }
  endpoint() {
    return 'http://127.0.0.1:8000/predict';
  }
}

export interface WorkerArgs {
  root: string;
  runId: string;
  value: number;
  go: string;
  serving: string;
  /** S3: the endpoint; absent: the local folder store. */
  s3Endpoint?: string;
}

async function main() {
  const a = JSON.parse(process.argv[2]!) as WorkerArgs;
  const store: ObjectStore = a.s3Endpoint
    ? new S3ObjectStore(new S3Client({ endpoint: a.s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }))
    : new LocalObjectStore();
  const spec = validateSpec(referenceSpec());
  const run = { ...referenceRun(spec), runId: a.runId, artifactRoot: a.root };
  // The gate: it read the champion now (before the race) and noted which one it compared against.
  const seen = await store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline));
  await store.putJson(gateNoteUri(run.artifactRoot, run.pipeline, run.runId), { championRunId: seen?.current.runId ?? null } satisfies GateNote);
  process.stdout.write('ready\n');
  while (!existsSync(a.go)) await new Promise((r) => setTimeout(r, 5));
  try {
    const res = await promote({ run, modelUri: `${a.root}/${run.pipeline}/${a.runId}/train/model`, value: a.value }, { serving: new FileServing(a.serving), store, clock: systemClock, now: () => new Date() }, 30_000);
    process.stdout.write(`${JSON.stringify({ runId: a.runId, value: a.value, result: res })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ runId: a.runId, value: a.value, error: `${(e as Error).name}: ${(e as Error).message}` })}\n`);
  }
}

if (process.argv[2]) await main();
