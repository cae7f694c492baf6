// RunHistoryPort over a deployed stack: the runs are the state machine's Step Functions executions (ListExecutions,
// DescribeExecution, GetExecutionHistory), their records are the S3 objects the handlers write beside them
// (artifacts/<pipeline>/<run>/run.json, <stage>/result.json, <pipeline>/champion.json; core/artifacts.ts) and the
// deployed specs are pipelines/<name>.yaml in the bucket. Stages' attempts and times come from the execution history
// (TaskStateEntered / TaskScheduled / TaskFailed / TaskStateExited of each stage's state), handed to core as the jobs
// the backend saw. What Step Functions says of an execution wins over a run.json that has not caught up: an execution
// stopped (`sentinel cancel`), timed out, or failed before RecordFailure ran is not shown as RUNNING.
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  StopExecutionCommand,
  type ExecutionListItem,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ChampionRecord, RunRecord, RunState } from '../../core/model.js';
import type { JobStatus } from '../../core/job-status.js';
import { withWaitingRuns, type ControlPlaneDigest, type LiveView, type RunHistoryPort, type StoredStageResult } from '../../core/run-history.js';
import { isRunSlots, runSlotsUri } from '../../core/run-slots.js';
import { championUri, resultUri, runRecordUri, runUri, STAGE_LOG_FOLDER, stageUri } from '../../core/artifacts.js';
import { sortLogs, STAGE_LOG_NAME, type StageLog, type StageLogsPort } from '../../core/run-logs.js';
import { STAGES, stateNameFor, type Stage } from '../../core/stages.js';
import { StageResultSchema } from '../../core/contract.js';
import { parseSpec, type PipelineSpec } from '../../core/spec.js';
import { pipelineSpecUri } from '../../core/triggers.js';
import { executionNameFor, RUN_ID_PATTERN } from '../../core/run-id.js';
import { jobNameFor, labelsFor } from '../../core/names.js';
import { parseS3Uri, S3ObjectStore } from './s3-store.js';
import { executionArnFor } from './sfn.js';

export interface AwsStack {
  /** The deployment's bucket (SST output `bucket`). */
  bucket: string;
  /** The pipeline state machine (SST output `stateMachineArn`). */
  stateMachineArn: string;
}

export interface AwsRunHistoryOptions extends AwsStack {
  sfn: SFNClient;
  s3: S3Client;
  /** How many S3 reads (run.json per execution) at once. */
  concurrency?: number;
}

/** Step Functions' execution statuses (ListExecutions / DescribeExecution). */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';

/** <pipeline>-<runId> (core/run-id.ts executionNameFor) → its parts; other names are not Sentinel runs. */
export function parseExecutionName(name: string): { pipeline: string; runId: string } | undefined {
  const m = /^([a-z][a-z0-9-]*)-(r[0-9a-f]{9})$/.exec(name);
  if (!m || !RUN_ID_PATTERN.test(m[2]!)) return undefined;
  return executionNameFor(m[1]!, m[2]!) === name ? { pipeline: m[1]!, runId: m[2]! } : undefined;
}

const stageOfState = new Map<string, Stage>(STAGES.map((s) => [stateNameFor(s), s]));

/**
 * Each stage's attempts, from an execution's history: a stage state is entered once and retried in place, so every
 * TaskScheduled between its TaskStateEntered and TaskStateExited is one attempt (one Ray job,
 * <pipeline>-<run>-<stage>-<attempt>), ended by TaskSucceeded, TaskFailed or TaskTimedOut. An attempt with no end
 * yet is RUNNING while the execution runs, and STOPPED once it has ended (aborted, timed out).
 */
export function jobsFromHistory(pipeline: string, runId: string, events: HistoryEvent[], executionStatus: ExecutionStatus, stoppedAt?: number): JobStatus[] {
  const jobs: JobStatus[] = [];
  let stage: Stage | undefined;
  let attempt = 0;
  let open: JobStatus | undefined;
  const ts = (e: HistoryEvent) => (e.timestamp instanceof Date ? e.timestamp.getTime() : Number(new Date(e.timestamp as unknown as string)));
  const close = (state: JobStatus['state'], end: number, message?: string) => {
    if (!open) return;
    open.state = state;
    open.endTime = end;
    if (message) open.message = message;
    open = undefined;
  };
  for (const e of [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0))) {
    switch (e.type) {
      case 'TaskStateEntered': {
        const s = stageOfState.get(e.stateEnteredEventDetails?.name ?? '');
        stage = s;
        attempt = 0;
        break;
      }
      case 'TaskScheduled':
        if (!stage) break;
        attempt += 1;
        open = { jobId: jobNameFor(pipeline, runId, stage, attempt), state: 'RUNNING', startTime: ts(e), labels: labelsFor({ pipeline, runId, stage, attempt }) };
        jobs.push(open);
        break;
      case 'TaskSucceeded':
        close('SUCCEEDED', ts(e));
        break;
      case 'TaskFailed':
        close('FAILED', ts(e), [e.taskFailedEventDetails?.error, e.taskFailedEventDetails?.cause].filter(Boolean).join(': '));
        break;
      case 'TaskTimedOut':
        close('FAILED', ts(e), [e.taskTimedOutEventDetails?.error ?? 'States.Timeout', e.taskTimedOutEventDetails?.cause].filter(Boolean).join(': '));
        break;
      case 'TaskStateExited':
        if (stageOfState.has(e.stateExitedEventDetails?.name ?? '')) stage = undefined;
        break;
      default:
        break;
    }
  }
  if (open && executionStatus !== 'RUNNING') close('STOPPED', stoppedAt ?? Date.now(), `the execution ended ${executionStatus}`);
  return jobs;
}

/** What a run record says once Step Functions' own status is taken into account. */
export function reconcile(record: RunRecord | undefined, ex: { status: ExecutionStatus; startDate?: Date; stopDate?: Date; error?: string; cause?: string }, fallback: () => Pick<RunRecord, 'pipeline' | 'runId' | 'trigger' | 'datasetUri'>): RunRecord {
  const base: RunRecord = record ?? { ...fallback(), status: 'RUNNING', startedAt: (ex.startDate ?? new Date(0)).toISOString() };
  if (ex.status === 'RUNNING' || base.status !== 'RUNNING') return base;
  const endedAt = (ex.stopDate ?? new Date()).toISOString();
  if (ex.status === 'SUCCEEDED') return { ...base, status: 'SUCCEEDED', endedAt };
  const error = ex.error ?? (ex.status === 'ABORTED' ? 'ExecutionAborted' : ex.status === 'TIMED_OUT' ? 'ExecutionTimedOut' : 'ExecutionFailed');
  const cause =
    ex.cause ??
    (ex.status === 'ABORTED'
      ? `the execution was stopped (StopExecution, e.g. sentinel cancel) at ${endedAt}`
      : ex.status === 'TIMED_OUT'
        ? `the execution passed its TimeoutSeconds at ${endedAt}`
        : `the execution ended ${ex.status} at ${endedAt}`);
  // As the execution-ended handler records it (core/execution-ended.ts): a stop on request is CANCELLED.
  if (ex.status === 'ABORTED') return { ...base, status: 'CANCELLED', endedAt, outcome: { error, cause }, ended: { by: 'StopExecution', at: endedAt, reason: cause } };
  return { ...base, status: 'FAILED', endedAt, outcome: { error, cause } };
}

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

export class AwsRunHistory implements RunHistoryPort, StageLogsPort {
  readonly where: string;
  readonly bucketUri: string;
  readonly artifactRoot: string;
  readonly store: S3ObjectStore;
  private executions: Promise<ExecutionListItem[]> | undefined;

  constructor(private readonly o: AwsRunHistoryOptions) {
    this.bucketUri = `s3://${o.bucket}`;
    this.artifactRoot = `${this.bucketUri}/artifacts`;
    this.store = new S3ObjectStore(o.s3);
    this.where = `the deployed stack (${o.stateMachineArn}, ${this.artifactRoot})`;
  }

  /** Every execution of the state machine, newest first (ListExecutions, all pages). */
  listExecutions(): Promise<ExecutionListItem[]> {
    this.executions ??= (async () => {
      const out: ExecutionListItem[] = [];
      let nextToken: string | undefined;
      do {
        const res = await this.o.sfn.send(new ListExecutionsCommand({ stateMachineArn: this.o.stateMachineArn, maxResults: 1000, nextToken }));
        out.push(...(res.executions ?? []));
        nextToken = res.nextToken;
      } while (nextToken);
      return out;
    })();
    return this.executions;
  }

  executionArn(pipeline: string, runId: string): string {
    return executionArnFor(this.o.stateMachineArn, executionNameFor(pipeline, runId));
  }

  private async describe(arn: string) {
    return this.o.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
  }

  /** The run's context as the execution was started with it (the input start-run gave StartExecution). */
  private async inputOf(arn: string): Promise<RunState | undefined> {
    try {
      return JSON.parse((await this.describe(arn)).input ?? '') as RunState;
    } catch {
      return undefined;
    }
  }

  async listRuns(): Promise<RunRecord[]> {
    const executions = (await this.listExecutions()).filter((x) => x.name && parseExecutionName(x.name));
    const records = await pool(executions, this.o.concurrency ?? 8, async (x) => {
      const id = parseExecutionName(x.name!)!;
      const stored = await this.store.getJson<RunRecord>(runRecordUri(this.artifactRoot, id.pipeline, id.runId)).catch(() => undefined);
      const record = stored && stored.runId === id.runId && typeof stored.startedAt === 'string' ? stored : undefined;
      const status = (x.status ?? 'RUNNING') as ExecutionStatus;
      // Only what the record cannot say costs a DescribeExecution: the input of a run not recorded yet, and why an
      // execution ended (failed, stopped, timed out) that RecordFailure never recorded.
      const needsDescribe = !record || (status !== 'RUNNING' && status !== 'SUCCEEDED' && record.status === 'RUNNING');
      const described = needsDescribe && x.executionArn ? await this.describe(x.executionArn).catch(() => undefined) : undefined;
      let input: RunState | undefined;
      try {
        input = described?.input ? (JSON.parse(described.input) as RunState) : undefined;
      } catch {
        input = undefined;
      }
      return reconcile(
        record,
        {
          status,
          ...(x.startDate ? { startDate: x.startDate } : {}),
          ...(x.stopDate ? { stopDate: x.stopDate } : {}),
          ...(described?.error ? { error: described.error } : {}),
          ...(described?.cause ? { cause: described.cause } : {}),
        },
        () => ({ pipeline: id.pipeline, runId: id.runId, trigger: input?.run?.trigger ?? { kind: 'manual', requestId: '?' }, datasetUri: input?.run?.datasetUri ?? '' }),
      );
    });
    // A run waiting for a slot has a RUNNING execution and no run.json: its pipeline's run-slots.json says it waits.
    // One GET per pipeline with a run in flight (none when nothing runs).
    const inFlight = [...new Set(records.filter((r) => r.status === 'RUNNING').map((r) => r.pipeline))];
    const slots = await pool(inFlight, this.o.concurrency ?? 8, (p) => this.store.getJson<unknown>(runSlotsUri(this.artifactRoot, p)).catch(() => undefined));
    return withWaitingRuns(records, slots.filter(isRunSlots), new Date());
  }

  async stageResults(pipeline: string, runId: string): Promise<Partial<Record<Stage, StoredStageResult>>> {
    const out: Partial<Record<Stage, StoredStageResult>> = {};
    await Promise.all(
      STAGES.map(async (stage) => {
        const uri = resultUri(this.artifactRoot, pipeline, runId, stage);
        const head = await this.store.head(uri);
        if (!head) return;
        const writtenAt = head.lastModified ? new Date(head.lastModified).toISOString() : undefined;
        let raw: unknown;
        try {
          raw = await this.store.getJson(uri);
        } catch {
          raw = undefined;
        }
        const parsed = StageResultSchema.safeParse(raw);
        out[stage] = parsed.success ? { uri, result: parsed.data, ...(writtenAt ? { writtenAt } : {}) } : { uri, ...(writtenAt ? { writtenAt } : {}), problem: 'does not read as a stage result' };
      }),
    );
    return out;
  }

  champion(pipeline: string): Promise<ChampionRecord | undefined> {
    return this.store.getJson<ChampionRecord>(championUri(this.artifactRoot, pipeline));
  }

  async spec(pipeline: string): Promise<PipelineSpec | undefined> {
    const uri = pipelineSpecUri(this.bucketUri, pipeline);
    const text = await this.store.getText(uri);
    return text === undefined ? undefined : parseSpec(text, uri);
  }

  /** Deployed, the control plane's metrics are CloudWatch's (the stack's dashboard); not read here. */
  async controlPlane(_pipeline: string, _runId: string): Promise<ControlPlaneDigest | undefined> {
    return undefined;
  }

  artifactsUri(pipeline: string, runId: string): string {
    return runUri(this.artifactRoot, pipeline, runId);
  }

  /**
   * Step Functions is always "live": a RUNNING execution is running. The "dashboard" is the state machine's page in
   * the Step Functions console; the jobs are read from each execution's history (no Ray dashboard is reached).
   */
  async live(): Promise<LiveView> {
    const region = this.o.stateMachineArn.split(':')[3] ?? 'us-east-1';
    return {
      dashboardUrl: `https://${region}.console.aws.amazon.com/states/home?region=${region}#/statemachines/view/${encodeURIComponent(this.o.stateMachineArn)}`,
      dashboardAnswers: true,
    };
  }

  /** The stage attempts an execution's history shows (GetExecutionHistory, all pages). */
  async jobs(pipeline: string, runId: string): Promise<JobStatus[]> {
    const arn = this.executionArn(pipeline, runId);
    const [d, events] = await Promise.all([this.describe(arn), this.history(arn)]);
    return jobsFromHistory(pipeline, runId, events, (d.status ?? 'RUNNING') as ExecutionStatus, d.stopDate?.getTime());
  }

  async history(executionArn: string): Promise<HistoryEvent[]> {
    const out: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const res = await this.o.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken, includeExecutionData: false }));
      out.push(...(res.events ?? []));
      nextToken = res.nextToken;
    } while (nextToken);
    return out;
  }

  /** The execution's status as Step Functions has it, or undefined when there is no such execution. */
  async executionStatus(pipeline: string, runId: string): Promise<ExecutionStatus | undefined> {
    try {
      return (await this.describe(this.executionArn(pipeline, runId))).status as ExecutionStatus;
    } catch (e) {
      if ((e as Error).name === 'ExecutionDoesNotExist') return undefined;
      throw e;
    }
  }

  /**
   * Cancel = StopExecution. The run's RayJobs are deleted by the Execution Status Change (ABORTED) handler, which
   * also records the end in run.json. Stopping an execution that already ended changes nothing.
   */
  async cancel(pipeline: string, runId: string, reason: string): Promise<{ stopped: boolean; status: ExecutionStatus | undefined; executionArn: string }> {
    const executionArn = this.executionArn(pipeline, runId);
    const status = await this.executionStatus(pipeline, runId);
    if (status !== 'RUNNING') return { stopped: false, status, executionArn };
    await this.o.sfn.send(new StopExecutionCommand({ executionArn, error: 'SentinelCancelled', cause: reason.slice(0, 32_768) }));
    this.executions = undefined;
    return { stopped: true, status: 'ABORTED', executionArn };
  }

  /** Every attempt's driver log: the objects <stage>/logs/attempt-N.log the jobs write beside their results. */
  async stageLogs(pipeline: string, runId: string): Promise<StageLog[]> {
    const found = await Promise.all(
      STAGES.map(async (stage) => {
        const objects = await this.store.list(`${stageUri(this.artifactRoot, pipeline, runId, stage)}/${STAGE_LOG_FOLDER}/`);
        return objects.flatMap((o): StageLog[] => {
          const m = STAGE_LOG_NAME.exec(o.uri.slice(o.uri.lastIndexOf('/') + 1));
          return m ? [{ stage, attempt: Number(m[1]), uri: o.uri, size: o.size, ...(o.lastModified ? { modifiedAt: new Date(o.lastModified).toISOString() } : {}) }] : [];
        });
      }),
    );
    return sortLogs(found.flat());
  }

  /** The log from byte `offset` on (a ranged GetObject); empty when nothing new, undefined when there is no such log. */
  async readLog(uri: string, offset: number): Promise<Uint8Array | undefined> {
    if (!uri.startsWith(`${this.artifactRoot}/`)) return undefined; // only this stack's logs
    const { bucket, key } = parseS3Uri(uri);
    try {
      const res = await this.o.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) }));
      return (await res.Body?.transformToByteArray()) ?? new Uint8Array(0);
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'InvalidRange' || err.$metadata?.httpStatusCode === 416) return new Uint8Array(0); // nothing past offset yet
      if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) return undefined;
      throw e;
    }
  }

  /** Not used by the listing (the record wins), kept for callers that want the started input. */
  startedInput(pipeline: string, runId: string): Promise<RunState | undefined> {
    return this.inputOf(this.executionArn(pipeline, runId));
  }
}
