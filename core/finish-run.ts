// Last state of every path: record how the run ended. On failure, stop any job of the run that is still going, so a
// failed run leaves no orphaned Ray job behind.
import type { ComputePort, ObjectStore, TokenStore, TrackingPort } from './ports.js';
import { notePipelineRun } from './tracking.js';
import type { RunContext, RunRecord, StageSummaries } from './model.js';
import { runRecordUri } from './artifacts.js';
import { isTerminal } from './job-status.js';

export type RunEnd =
  | { status: 'SUCCEEDED'; promoted: boolean; reason: string }
  | { status: 'FAILED'; error: string; cause: string; /** The state that failed. */ failedAt?: string };

export interface FinishDeps {
  store: ObjectStore;
  compute: ComputePort;
  tokens: TokenStore;
  now: () => Date;
  /** Ends the pipeline run's MLflow run with the run's outcome (best effort). */
  tracking?: TrackingPort;
}

export async function finishRun(req: { run: RunContext; stages?: StageSummaries; end: RunEnd }, deps: FinishDeps) {
  const { run, end } = req;
  const stopped: string[] = [];
  if (end.status === 'FAILED') {
    const jobs = await deps.compute.list({ 'sentinel.dev/pipeline': run.pipeline, 'sentinel.dev/run': run.runId });
    for (const job of jobs) {
      await deps.tokens.delete(job.jobId);
      // needsStop: ended for Sentinel (KubeRay's DeadlineExceeded) while its Ray job still runs.
      if (!isTerminal(job.state) || job.needsStop) {
        await deps.compute.stop(job.jobId);
        stopped.push(job.jobId);
      }
    }
  }
  const uri = runRecordUri(run.artifactRoot, run.pipeline, run.runId);
  const before = await deps.store.getJson<RunRecord>(uri);
  const record: RunRecord = {
    pipeline: run.pipeline,
    runId: run.runId,
    trigger: run.trigger,
    datasetUri: run.datasetUri,
    startedAt: before?.startedAt ?? run.requestedAt,
    endedAt: deps.now().toISOString(),
    status: end.status,
    outcome:
      end.status === 'SUCCEEDED'
        ? { promoted: end.promoted, reason: end.reason }
        : { error: end.error, cause: end.cause, ...(end.failedAt ? { stage: end.failedAt } : {}) },
    ...(req.stages ? { stages: req.stages } : {}),
    ...(run.tracking ? { tracking: run.tracking } : {}),
  };
  await deps.store.putJson(uri, record);
  if (deps.tracking) {
    const tags: Record<string, string> = end.status === 'SUCCEEDED' ? { 'sentinel.status': 'SUCCEEDED' } : { 'sentinel.status': 'FAILED', 'sentinel.error': `${end.error}: ${end.cause}`.slice(0, 5000), ...(end.failedAt ? { 'sentinel.failedAt': end.failedAt } : {}) };
    await notePipelineRun(deps.tracking, run, tags, end.status === 'SUCCEEDED' ? 'FINISHED' : 'FAILED').catch(() => undefined);
  }
  return { status: end.status, stoppedJobs: stopped };
}
