// First state of a run: re-validate the input, check the dataset is there, and record the run as RUNNING.
// Fails with ValidationFailed before any compute is asked for.
import type { ObjectStore } from './ports.js';
import type { RunContext, RunRecord } from './model.js';
import { parseRunContext } from './run-input.js';
import { runRecordUri } from './artifacts.js';
import { validationFailed } from './errors.js';

export async function prepareRun(raw: unknown, deps: { store: ObjectStore; now: () => Date }): Promise<RunContext> {
  const run = { ...parseRunContext(raw) };
  const head = await deps.store.head(run.datasetUri);
  if (!head) throw validationFailed(`dataset not found at ${run.datasetUri}`, 'run.datasetUri');
  if (head.size === 0) throw validationFailed(`dataset at ${run.datasetUri} is empty (0 bytes)`, 'run.datasetUri');
  run.datasetEtag = head.etag;

  const uri = runRecordUri(run.artifactRoot, run.pipeline, run.runId);
  const existing = await deps.store.getJson<RunRecord>(uri);
  // A redelivered start keeps the first record; only a new run writes one.
  if (!existing) {
    const record: RunRecord = {
      pipeline: run.pipeline,
      runId: run.runId,
      status: 'RUNNING',
      trigger: run.trigger,
      datasetUri: run.datasetUri,
      startedAt: deps.now().toISOString(),
    };
    await deps.store.putJson(uri, record);
  }
  return run;
}
