// Last state of every path: record how the run ended. On failure, stop any job of the run that is still going, so a
// failed run leaves no orphaned Ray job behind.
import type { BusEvent, ComputePort, EventPublisher, ObjectStore, TokenStore, TrackingPort } from './ports.js';
import { runEvent, stageMetrics } from '../events/run-events.js';
import type { ChampionRecord } from './model.js';
import { championUri } from './artifacts.js';
import { notePipelineRun } from './tracking.js';
import { promotionNoteUri, type PromotionNote } from './promote.js';
import type { RunContext, RunRecord, StageSummaries } from './model.js';
import { runRecordUri } from './artifacts.js';
import { isTerminal } from './job-status.js';
import { releaseRunSlot } from './run-slots.js';
import { endRunCompute } from './run-compute.js';

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
  /** Where `Run Succeeded` / `Run Failed` / `Champion Kept` go (events/run-events.ts); absent: no run events. */
  publisher?: EventPublisher;
}

export async function finishRun(req: { run: RunContext; stages?: StageSummaries; end: RunEnd }, deps: FinishDeps) {
  const { run } = req;
  let { end } = req;
  // The gate said promote, but promote's re-check kept the champion (another run's landed first): recorded as kept.
  if (end.status === 'SUCCEEDED' && end.promoted) {
    const note = await deps.store.getJson<PromotionNote>(promotionNoteUri(run.artifactRoot, run.pipeline, run.runId));
    if (note && !note.promoted) end = { status: 'SUCCEEDED', promoted: false, reason: note.reason };
  }
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
    ...(before?.resumeOf ? { resumeOf: before.resumeOf } : {}),
    ...(before?.queued ? { queued: before.queued } : {}),
  };
  await deps.store.putJson(uri, record);
  // The run no longer runs: its slot goes to the next queued run (a missed release frees itself, run-slots.ts).
  await releaseRunSlot(run.artifactRoot, run.pipeline, run.runId, deps).catch(() => false);
  // The run's compute goes with it (KubeRay: the run's RayCluster), on success and failure alike. After the record:
  // a failure here must not lose how the run ended; the reaper deletes a run cluster left idle.
  const runEnded = await endRunCompute(deps.compute, run);
  if (deps.publisher) await deps.publisher.publish(await endEvents(run, record, end, req.stages, deps));
  if (deps.tracking) {
    const tags: Record<string, string> = end.status === 'SUCCEEDED' ? { 'sentinel.status': 'SUCCEEDED' } : { 'sentinel.status': 'FAILED', 'sentinel.error': `${end.error}: ${end.cause}`.slice(0, 5000), ...(end.failedAt ? { 'sentinel.failedAt': end.failedAt } : {}) };
    await notePipelineRun(deps.tracking, run, tags, end.status === 'SUCCEEDED' ? 'FINISHED' : 'FAILED').catch(() => undefined);
  }
  return { status: end.status, stoppedJobs: stopped, runEnded };
}

/** The run's end as run events: Succeeded (and Champion Kept when the gate kept it) or Failed. */
async function endEvents(run: RunContext, record: RunRecord, end: RunEnd, stages: StageSummaries | undefined, deps: Pick<FinishDeps, 'store' | 'now'>): Promise<BusEvent[]> {
  const now = deps.now();
  const base = { pipeline: run.pipeline, runId: run.runId };
  if (end.status === 'FAILED') {
    return [runEvent('failed', { ...base, startedAt: record.startedAt, endedAt: record.endedAt!, error: end.error, cause: end.cause.slice(0, 2000), ...(end.failedAt ? { stage: end.failedAt } : {}) }, now)];
  }
  const metrics = stageMetrics(stages);
  const durationSeconds = Math.max(0, (Date.parse(record.endedAt!) - Date.parse(record.startedAt)) / 1000) || 0;
  const events: BusEvent[] = [runEvent('succeeded', { ...base, startedAt: record.startedAt, endedAt: record.endedAt!, durationSeconds, promoted: end.promoted, reason: end.reason, metrics }, now)];
  if (!end.promoted) {
    const c = (await deps.store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline)))?.current;
    const champion = c ? { runId: c.runId, metric: c.metric, value: c.value, promotedAt: c.promotedAt, modelUri: c.modelUri } : undefined;
    events.push(runEvent('kept', { ...base, reason: end.reason, metrics, ...(champion ? { champion } : {}) }, now));
  }
  return events;
}
