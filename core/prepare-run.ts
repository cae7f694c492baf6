// First state of a run: re-validate the input, check the dataset is there, and record the run as RUNNING.
// Fails with ValidationFailed before any compute is asked for.
import type { EventPublisher, ObjectStore, TrackingPort } from './ports.js';
import { runEvent } from '../events/run-events.js';
import type { RunContext, RunRecord } from './model.js';
import { parseRunContext } from './run-input.js';
import { runRecordUri } from './artifacts.js';
import { validationFailed } from './errors.js';
import { STAGES } from './stages.js';
import { requireDeployedSpec, type DeployedSpecPolicy } from './deployed-spec.js';
import { acquireRunSlot } from './run-slots.js';
import { isTracked, openPipelineRun, TRACKING_OFF_NOTE } from './tracking.js';

export interface PrepareDeps {
  store: ObjectStore;
  now: () => Date;
  /** The deployment's MLflow server; absent: runs are not tracked (a note says so, it is not an error). */
  tracking?: TrackingPort;
  /** Where `Run Started` goes (events/run-events.ts); absent: no run events. */
  publisher?: EventPublisher;
  /** A deployed stack: the run's spec must be its pipeline's deployed spec (core/deployed-spec.ts); absent: local. */
  deployedSpecs?: DeployedSpecPolicy;
}

export async function prepareRun(raw: unknown, deps: PrepareDeps): Promise<RunContext> {
  const run = { ...parseRunContext(raw) };
  // StartExecution by hand reaches this state too: on AWS only the deployed spec of the run's pipeline runs.
  if (deps.deployedSpecs) run.spec = await requireDeployedSpec(run.spec, run.pipeline, deps.store, deps.deployedSpecs);
  const head = await deps.store.head(run.datasetUri);
  if (!head) throw validationFailed(`dataset not found at ${run.datasetUri}`, 'run.datasetUri');
  if (head.size === 0) throw validationFailed(`dataset at ${run.datasetUri} is empty (0 bytes)`, 'run.datasetUri');
  run.datasetEtag = head.etag;
  // A run slot (spec maxConcurrentRuns) before anything else is opened: a full pipeline throws RunQueued, retried.
  const slot = await acquireRunSlot(
    { artifactRoot: run.artifactRoot, pipeline: run.pipeline, runId: run.runId, priority: run.spec.priority, maxConcurrentRuns: run.spec.maxConcurrentRuns, trigger: run.trigger, datasetUri: run.datasetUri },
    deps,
  );
  // The pipeline run's MLflow run; a tracking server that errors leaves the run untracked, with the reason.
  if (!isTracked(run.tracking)) {
    if (!deps.tracking) run.tracking = { off: TRACKING_OFF_NOTE };
    else {
      try {
        run.tracking = await openPipelineRun(deps.tracking, run);
      } catch (e) {
        run.tracking = { off: `tracking off for this run: the MLflow server at ${deps.tracking.uri} failed (${(e as Error).message})` };
      }
    }
  }

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
      ...(slot.waited ? { queued: slot.waited } : {}),
      ...(run.tracking ? { tracking: run.tracking } : {}),
      ...(run.resume ? { resumeOf: { runId: run.resume.from, attempt: run.resume.attempt, reused: STAGES.filter((s) => run.resume!.reuse[s]) } } : {}),
    };
    await deps.store.putJson(uri, record);
    const started = runEvent('started', { pipeline: run.pipeline, runId: run.runId, startedAt: record.startedAt, trigger: run.trigger.kind, datasetUri: run.datasetUri }, deps.now());
    await deps.publisher?.publish([started]);
  }
  return run;
}
