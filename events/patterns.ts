// EventBridge event patterns, as data. The same objects become rules in infra/, routes on the local bus, and test
// fixtures; nothing else writes a pattern.
import { JOB_EVENT_DETAIL_TYPE, JOB_EVENT_SOURCE } from './job-state-change.js';
import { OBJECT_CREATED_DETAIL_TYPE, S3_EVENT_SOURCE } from './object-created.js';
import { ARTIFACTS_PREFIX, FAILURE_FILE, RESULT_FILE } from '../core/artifacts.js';
import { STAGES } from '../core/stages.js';

export type EventPattern = { [key: string]: EventPattern | readonly unknown[] };

/** Terminal Ray job states → the completion queue. Running jobs are heartbeated by the watcher instead. */
export const jobCompletedPattern = {
  source: [JOB_EVENT_SOURCE],
  'detail-type': [JOB_EVENT_DETAIL_TYPE],
  detail: { state: ['SUCCEEDED', 'FAILED', 'STOPPED'] },
} as const satisfies EventPattern;

/** The prefix under which uploads start runs: datasets/<pipeline>/<file>.csv */
export const DATASETS_PREFIX = 'datasets/';

/** S3 (bucket notifications with EventBridgeEnabled) → start-run. Folder markers and other prefixes are filtered in the handler too. */
export const datasetUploadedPattern = (bucket: string) =>
  ({
    source: [S3_EVENT_SOURCE],
    'detail-type': [OBJECT_CREATED_DETAIL_TYPE],
    detail: { bucket: { name: [bucket] }, object: { key: [{ prefix: DATASETS_PREFIX }] } },
  }) as const satisfies EventPattern;

/**
 * A stage job's own write of its result (S3 Object Created of <artifacts>/<pipeline>/<runId>/<stage>/result.json)
 * → the completion queue: the pushed completion. The watcher stays as the safety net for jobs that die without
 * writing. One wildcard per stage: `*` crosses '/', so each requires the folder before result.json to be a stage's;
 * Ray Tune's and Ray Train's own result.json files (<stage>/ray/…/<trial>/result.json) end in a trial folder and do
 * not match. Without a bucket (the completion queue's message table) it matches the shape only.
 */
export const stageResultWrittenPattern = (bucket?: string) => stageFileWrittenPattern(RESULT_FILE, bucket);

/**
 * A failing stage job's own write of its failure record (S3 Object Created of <artifacts>/<pipeline>/<runId>/<stage>/
 * failure.json: jobs/src/sentinel_sdk/stage_main.py) → the completion queue: the pushed failure. The same shape as
 * the result's, one wildcard per stage; nothing of Ray's is named failure.json, and a file of that name deeper down
 * (a trial's folder, a user's artifact) ends in a folder that is not a stage's and does not match.
 */
export const stageFailureWrittenPattern = (bucket?: string) => stageFileWrittenPattern(FAILURE_FILE, bucket);

/** S3 Object Created of <artifacts>/<pipeline>/<runId>/<stage>/<file>, one wildcard per stage (the bucket's, if named). */
function stageFileWrittenPattern(file: string, bucket?: string) {
  return {
    source: [S3_EVENT_SOURCE],
    'detail-type': [OBJECT_CREATED_DETAIL_TYPE],
    detail: {
      ...(bucket !== undefined ? { bucket: { name: [bucket] } } : {}),
      object: { key: STAGES.map((stage) => ({ wildcard: `${ARTIFACTS_PREFIX}*/r*/${stage}/${file}` })) },
    },
  } as const satisfies EventPattern;
}

/**
 * What the completion queue's one Object Created parser accepts (events/messages.ts): either rule's shape. Only the
 * consumer's check that a rule could have sent a message; never deployed as a rule itself.
 */
export const stageWrittenPattern = () => ({ $or: [stageResultWrittenPattern(), stageFailureWrittenPattern()] }) as const satisfies EventPattern;

/** EC2 spot warnings (2-minute notice) and rebalance recommendations → the interruption queue. */
export const spotInterruptionPattern = {
  source: ['aws.ec2'],
  'detail-type': ['EC2 Spot Instance Interruption Warning', 'EC2 Instance Rebalance Recommendation'],
} as const satisfies EventPattern;

/** Instances going away for any reason → the interruption queue (marks jobs whose node vanished). */
export const instanceStateChangePattern = {
  source: ['aws.ec2'],
  'detail-type': ['EC2 Instance State-change Notification'],
  detail: { state: ['stopping', 'stopped', 'shutting-down', 'terminated'] },
} as const satisfies EventPattern;

/**
 * The pipeline's state machine ended without reaching its own last state (stopped, timed out) or failed → the
 * execution-ended handler (core/execution-ended.ts): deletes the run's Ray jobs, records the end in run.json.
 */
export const executionEndedPattern = (stateMachineArn: string) =>
  ({
    source: ['aws.states'],
    'detail-type': ['Step Functions Execution Status Change'],
    detail: { status: ['ABORTED', 'TIMED_OUT', 'FAILED'], stateMachineArn: [stateMachineArn] },
  }) as const satisfies EventPattern;

/** Patterns that do not depend on deployment settings (rendered as-is by `sentinel render`). */
export const patterns = {
  jobCompleted: jobCompletedPattern,
  spotInterruption: spotInterruptionPattern,
  instanceStateChange: instanceStateChangePattern,
} as const;
