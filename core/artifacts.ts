// Artifact layout: <root>/<pipeline>/<runId>/<stage>/… with a result.json per stage. <root> is s3://bucket/prefix
// in AWS and a local folder locally; both are plain URI strings here, joined with '/'.

export const joinUri = (...parts: string[]) =>
  parts
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .filter((p) => p.length > 0)
    .join('/');

export const runUri = (root: string, pipeline: string, runId: string) => joinUri(root, pipeline, runId);
export const stageUri = (root: string, pipeline: string, runId: string, stage: string) => joinUri(root, pipeline, runId, stage);
/** What a stage job writes last, atomically, in its stage folder: its presence means the stage finished. */
export const RESULT_FILE = 'result.json';
export const resultUri = (root: string, pipeline: string, runId: string, stage: string) =>
  joinUri(stageUri(root, pipeline, runId, stage), RESULT_FILE);
/**
 * What a stage job writes, best effort, in its stage folder when it fails (its failure record: core/contract.ts
 * StageFailureSchema): its Object Created fails the waiting task by the pushed path, without waiting for the watcher.
 */
export const FAILURE_FILE = 'failure.json';
export const failureUri = (root: string, pipeline: string, runId: string, stage: string) =>
  joinUri(stageUri(root, pipeline, runId, stage), FAILURE_FILE);
/** The artifact root's key prefix in the bucket (the deployed root is s3://<bucket>/artifacts). */
export const ARTIFACTS_PREFIX = 'artifacts/';
export const runRecordUri = (root: string, pipeline: string, runId: string) => joinUri(runUri(root, pipeline, runId), 'run.json');
/** The pipeline's serving champion and the one before it (for rollback). */
export const championUri = (root: string, pipeline: string) => joinUri(root, pipeline, 'champion.json');
/** A stage attempt's driver log, written by the job itself as it runs (jobs/src/sentinel_sdk/driver_log.py). */
export const STAGE_LOG_FOLDER = 'logs';
export const stageLogUri = (root: string, pipeline: string, runId: string, stage: string, attempt: number) =>
  joinUri(stageUri(root, pipeline, runId, stage), STAGE_LOG_FOLDER, `attempt-${attempt}.log`);
