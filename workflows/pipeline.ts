// The pipeline state machine, generated once here and used by infra (deploy), the local runtime and the tests.
// JSONPath dialect, so aws-local-stepfunctions runs exactly what deploys.
//
//   PrepareRun → Ingest → Train → Tune → Evaluate → Gate → ShouldPromote ─┬→ Promote → PromotionServing ─┬→ RecordPromoted → Promoted
//                                                                         │   (Wait ↔ CheckPromotion loop)  ┘
//                  (each stage: Ray job, callback with task token)         └→ RecordNotPromoted → NotPromoted
//   any failure after PrepareRun → <Stage>Failed → RecordFailure → Failed
import { ErrorNames } from '../core/errors.js';
import { STAGES, stateNameFor, type Stage } from '../core/stages.js';
import type { Catcher, Retrier, State, StateMachineDefinition, TaskState } from './asl.js';

/** The Lambda functions the state machine invokes, by logical name. */
export const STATE_MACHINE_FUNCTIONS = ['prepare-run', 'submit-stage', 'evaluate-gate', 'promote', 'finish-run'] as const;
export type StateMachineFunction = (typeof STATE_MACHINE_FUNCTIONS)[number];

export const WAIT_FOR_TASK_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

export interface PipelineWorkflowOptions {
  functionArns: Record<StateMachineFunction, string>;
  /** Upper bound per stage; a job's own deadline (spec timeoutSeconds) is usually shorter. */
  stageTimeoutSeconds?: Partial<Record<Stage, number>>;
  /** The watcher heartbeats running jobs' tasks; a task not heard from for this long fails (lost job). */
  heartbeatSeconds?: number;
  runTimeoutSeconds?: number;
}

export const DEFAULT_STAGE_TIMEOUTS: Record<Stage, number> = { ingest: 3600, train: 24 * 3600, tune: 24 * 3600, evaluate: 3600 };
export const DEFAULT_HEARTBEAT_SECONDS = 600;

/**
 * A queued run (core/run-slots.ts: the pipeline's maxConcurrentRuns are taken) asks again: 20 s, growing by 1.5 to
 * at most 300 s, for about 24 h. Each attempt is one state transition: a full day's wait costs RUN_QUEUED_MAX_ATTEMPTS.
 */
export const RUN_QUEUED_RETRY = { IntervalSeconds: 20, BackoffRate: 1.5, MaxDelaySeconds: 300, waitSeconds: 24 * 3600 } as const;
/** Attempts whose pauses (20, 30, 45, … capped at 300 s) add up to RUN_QUEUED_RETRY.waitSeconds. */
export const RUN_QUEUED_MAX_ATTEMPTS = (() => {
  const { IntervalSeconds, BackoffRate, MaxDelaySeconds, waitSeconds } = RUN_QUEUED_RETRY;
  let n = 0;
  for (let total = 0, d = IntervalSeconds; total < waitSeconds; n++, d *= BackoffRate) total += Math.min(d, MaxDelaySeconds);
  return n;
})();
const runQueued: Retrier = {
  ErrorEquals: [ErrorNames.RunQueued],
  IntervalSeconds: RUN_QUEUED_RETRY.IntervalSeconds,
  BackoffRate: RUN_QUEUED_RETRY.BackoffRate,
  MaxDelaySeconds: RUN_QUEUED_RETRY.MaxDelaySeconds,
  MaxAttempts: RUN_QUEUED_MAX_ATTEMPTS,
};

/** Lambda's own transient failures: always worth a retry. */
const lambdaTransient: Retrier = {
  ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
  IntervalSeconds: 2,
  MaxAttempts: 3,
  BackoffRate: 2,
  JitterStrategy: 'FULL',
};
const computeTransient: Retrier = { ErrorEquals: [ErrorNames.ComputeUnavailable], IntervalSeconds: 5, MaxAttempts: 4, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: 'FULL' };
/** A reclaimed spot node: run the stage again; train and tune resume from their latest checkpoint. */
const spotRetry: Retrier = { ErrorEquals: [ErrorNames.SpotInterrupted], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2 };
/** A lost job (no heartbeat): one more attempt before giving up. */
const heartbeatRetry: Retrier = { ErrorEquals: ['States.HeartbeatTimeout'], IntervalSeconds: 5, MaxAttempts: 1 };

const failedStateFor = (state: string) => `${state}Failed`;
const catchTo = (state: string): Catcher[] => [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: failedStateFor(state) }];

export function buildPipelineDefinition(opts: PipelineWorkflowOptions): StateMachineDefinition {
  const arn = opts.functionArns;
  const timeouts = { ...DEFAULT_STAGE_TIMEOUTS, ...opts.stageTimeoutSeconds };
  const heartbeat = opts.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS;
  const states: Record<string, State> = {};
  const failedFrom: string[] = [];

  states.PrepareRun = {
    Type: 'Task',
    Comment: 'Validate the input and the dataset; record the run. Fails before any compute on bad input.',
    Resource: arn['prepare-run'],
    Parameters: { 'run.$': '$.run' },
    // The handler returns the run's initial state ({ run, stages: {} }); with no ResultPath (default "$") it
    // replaces the raw input. An explicit "$" means the same in AWS but aws-local-stepfunctions mishandles it.
    // A run whose pipeline has no free run slot waits here (RunQueued), in priority order, before anything starts.
    Retry: [lambdaTransient, runQueued],
    // Nothing was started or recorded yet: fail straight away with the validation error (or a day-long queue).
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rejected' }],
    Next: stateNameFor(STAGES[0]),
  };

  STAGES.forEach((stage, i) => {
    const name = stateNameFor(stage);
    const task: TaskState = {
      Type: 'Task',
      Comment: `Run the ${stage} Ray job; the completion consumer returns its summary with the task token.`,
      Resource: WAIT_FOR_TASK_TOKEN,
      Parameters: {
        FunctionName: arn['submit-stage'],
        Payload: { 'taskToken.$': '$$.Task.Token', stage, 'run.$': '$.run', 'stages.$': '$.stages' },
      },
      ResultPath: `$.stages.${stage}`,
      TimeoutSeconds: timeouts[stage],
      HeartbeatSeconds: heartbeat,
      Retry: [lambdaTransient, computeTransient, spotRetry, heartbeatRetry],
      Catch: catchTo(name),
      Next: i + 1 < STAGES.length ? stateNameFor(STAGES[i + 1]!) : 'Gate',
    };
    states[name] = task;
    failedFrom.push(name);
  });

  states.Gate = {
    Type: 'Task',
    Comment: 'Candidate vs champion on the same held-out split; decides whether to promote and says why.',
    Resource: arn['evaluate-gate'],
    Parameters: { 'run.$': '$.run', 'stages.$': '$.stages' },
    ResultPath: '$.gate',
    Retry: [lambdaTransient],
    Catch: catchTo('Gate'),
    Next: 'ShouldPromote',
  };
  failedFrom.push('Gate');

  states.ShouldPromote = {
    Type: 'Choice',
    Choices: [{ Variable: '$.gate.promote', BooleanEquals: true, Next: 'Promote' }],
    Default: 'RecordNotPromoted',
  };

  // Promotion does not block a Lambda: Promote applies the config and looks once; until serving runs it, the state
  // machine waits (the wait the handler returns grows to the spec's promotionTimeout) and CheckPromotion looks again,
  // at most MAX_PROMOTION_POLLS times (core/promotion-wait.ts). A timeout fails the run; the champion keeps serving.
  const promoteParameters = { 'run.$': '$.run', 'modelUri.$': '$.gate.candidateModelUri', 'value.$': '$.gate.candidate' };
  states.Promote = {
    Type: 'Task',
    Comment: 'Update the serve config (zero-downtime) and look once; records the champion if it serves already.',
    Resource: arn.promote,
    Parameters: promoteParameters,
    ResultPath: '$.promotion',
    Retry: [lambdaTransient],
    Catch: catchTo('Promote'),
    Next: 'PromotionServing',
  };
  failedFrom.push('Promote');
  states.PromotionServing = {
    Type: 'Choice',
    Comment: 'Done (champion recorded, or kept by the promote-time re-check), or wait and check again.',
    Choices: [{ Variable: '$.promotion.done', BooleanEquals: true, Next: 'RecordPromoted' }],
    Default: 'WaitForPromotion',
  };
  states.WaitForPromotion = { Type: 'Wait', Comment: 'The pause the last check asked for (it grows towards the timeout).', SecondsPath: '$.promotion.waitSeconds', Next: 'CheckPromotion' };
  states.CheckPromotion = {
    Type: 'Task',
    Comment: "Read the serving status: serving records the champion; pending waits again; failed or past promotionTimeout puts the champion's config back and fails.",
    Resource: arn.promote,
    Parameters: { ...promoteParameters, 'progress.$': '$.promotion.progress' },
    ResultPath: '$.promotion',
    Retry: [lambdaTransient],
    Catch: catchTo('CheckPromotion'),
    Next: 'PromotionServing',
  };
  failedFrom.push('CheckPromotion');

  const finish = (end: Record<string, unknown>, next: string): TaskState => ({
    Type: 'Task',
    Resource: arn['finish-run'],
    Parameters: { 'run.$': '$.run', 'stages.$': '$.stages', end },
    ResultPath: '$.finish',
    Retry: [lambdaTransient],
    Next: next,
  });
  states.RecordPromoted = { ...finish({ status: 'SUCCEEDED', promoted: true, 'reason.$': '$.gate.reason' }, 'Promoted'), Catch: catchTo('RecordPromoted') };
  states.RecordNotPromoted = { ...finish({ status: 'SUCCEEDED', promoted: false, 'reason.$': '$.gate.reason' }, 'NotPromoted'), Catch: catchTo('RecordNotPromoted') };
  failedFrom.push('RecordPromoted', 'RecordNotPromoted');
  states.Promoted = { Type: 'Succeed', Comment: 'The candidate serves.' };
  states.NotPromoted = { Type: 'Succeed', Comment: 'The run succeeded; the gate kept the champion (reason in $.gate.reason).' };

  // One Pass per failing state names where it failed; costs a transition only on the failure path.
  for (const from of failedFrom) {
    states[failedStateFor(from)] = { Type: 'Pass', Result: from, ResultPath: '$.failedAt', Next: 'RecordFailure' };
  }
  states.RecordFailure = {
    ...finish({ status: 'FAILED', 'error.$': '$.error.Error', 'cause.$': '$.error.Cause', 'failedAt.$': '$.failedAt' }, 'Failed'),
    // If even recording fails, still end the execution as failed with the original error.
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.recordError', Next: 'Failed' }],
  };
  states.Failed = { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' };
  states.Rejected = { Type: 'Fail', Comment: 'Bad input: nothing was started.', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' };

  return {
    Comment: 'Sentinel pipeline: ingest → train → tune → evaluate → promote-to-Serve',
    QueryLanguage: 'JSONPath',
    StartAt: 'PrepareRun',
    TimeoutSeconds: opts.runTimeoutSeconds ?? 3 * 24 * 3600,
    States: states,
  };
}
