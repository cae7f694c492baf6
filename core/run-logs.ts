// The driver logs of a run's stage attempts, as `sentinel logs` reads them. Each attempt's job writes its own log
// beside its result as it runs (<stage>/logs/attempt-N.log, core/artifacts.ts stageLogUri; the writer is
// jobs/src/sentinel_sdk/driver_log.py), so the logs outlive the Ray head and the KubeRay cluster. A log only grows
// (appended locally; rewritten whole, prefix unchanged, on S3), so a reader following it reads on from the byte it had
// reached. The port is where the logs are (a local folder, an S3 bucket); everything else here is pure.
import { STAGES, isStage, type Stage } from './stages.js';
import type { RunStatusView, StageState } from './run-history.js';

/** The file name of attempt N's log in <stage>/logs/. */
export const STAGE_LOG_NAME = /^attempt-([1-9][0-9]?)\.log$/;

export interface StageLog {
  stage: Stage;
  attempt: number;
  uri: string;
  /** Bytes so far. */
  size: number;
  modifiedAt?: string;
}

/**
 * Where a backend keeps the driver logs. Locally local/run-history.ts (files under the home's bucket); deployed, the
 * same keys in the stack's bucket (s3://<bucket>/artifacts/<pipeline>/<run>/<stage>/logs/attempt-N.log): list the
 * stage's logs/ prefix, and read with a ranged GetObject (Range: bytes=<offset>-).
 */
export interface StageLogsPort {
  /** Every attempt's log of the run (any order; `sortLogs` orders them). */
  stageLogs(pipeline: string, runId: string): Promise<StageLog[]>;
  /** The log's bytes from `offset` to its current end (empty when nothing new); undefined when it does not exist. */
  readLog(uri: string, offset: number): Promise<Uint8Array | undefined>;
}

/** Whether a run-history backend also keeps logs (an adapter opts in by implementing StageLogsPort). */
export const keepsLogs = <T extends object>(port: T): port is T & StageLogsPort =>
  typeof (port as Partial<StageLogsPort>).stageLogs === 'function' && typeof (port as Partial<StageLogsPort>).readLog === 'function';

/** Pipeline order of stages, then attempts. */
export const sortLogs = (logs: StageLog[]) => [...logs].sort((a, b) => STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage) || a.attempt - b.attempt);

export type LogProblem = 'no-logs' | 'no-stage-logs' | 'no-attempt';

export type LogSelection =
  | { logs: StageLog[]; /** Earlier attempts left out (shown when not asked for). */ older: StageLog[] }
  | { problem: LogProblem; message: string; /** What there is instead (stages with logs, or the stage's attempts). */ available: string[] };

/**
 * Which logs to show: one stage (its latest attempt, or --attempt N) or every stage in order (each its latest
 * attempt). With `allAttempts` (following a stage) every attempt of the stage, so a retry's log follows the failed one.
 */
export function selectLogs(all: StageLog[], runId: string, stage?: Stage, attempt?: number, allAttempts = false): LogSelection {
  const logs = sortLogs(all);
  const stagesWithLogs = [...new Set(logs.map((l) => l.stage))];
  if (!stage) {
    if (!logs.length) return { problem: 'no-logs', message: `run ${runId} has no driver logs`, available: [] };
    const latest = stagesWithLogs.map((s) => logs.filter((l) => l.stage === s).at(-1)!);
    return { logs: allAttempts ? logs : latest, older: allAttempts ? [] : logs.filter((l) => !latest.includes(l)) };
  }
  const mine = logs.filter((l) => l.stage === stage);
  if (!mine.length) {
    return {
      problem: 'no-stage-logs',
      message: `stage ${stage} of run ${runId} has no driver log`,
      available: stagesWithLogs,
    };
  }
  if (attempt !== undefined) {
    const one = mine.find((l) => l.attempt === attempt);
    if (!one) return { problem: 'no-attempt', message: `stage ${stage} of run ${runId} has no attempt ${attempt}`, available: mine.map((l) => String(l.attempt)) };
    return { logs: [one], older: [] };
  }
  return allAttempts ? { logs: mine, older: [] } : { logs: [mine.at(-1)!], older: mine.slice(0, -1) };
}

/** A STAGE argument: a stage name, or undefined with the stages it could be. */
export const parseStage = (text: string): Stage | undefined => (isStage(text.trim().toLowerCase()) ? (text.trim().toLowerCase() as Stage) : undefined);

const ENDED: readonly StageState[] = ['SUCCEEDED', 'NOT_RUN', 'INTERRUPTED'];

/**
 * Whether following can stop: the run no longer runs; or the stage followed has ended (succeeded, or will not run);
 * or, for one attempt, that attempt ended (failed too) or a later one started. A stage whose last attempt FAILED
 * while the run still runs is not over: Step Functions may retry it as the next attempt.
 */
export function followDone(view: Pick<RunStatusView, 'status' | 'stages'>, stage?: Stage, attempt?: number): boolean {
  if (view.status !== 'RUNNING') return true;
  if (!stage) return false;
  const s = view.stages.find((x) => x.stage === stage);
  if (!s) return false;
  if (attempt !== undefined) {
    if ((s.attempt ?? 0) > attempt) return true;
    if (s.attempt === attempt && (s.state === 'FAILED' || ENDED.includes(s.state))) return true;
  }
  return ENDED.includes(s.state);
}
