// The deployable state machine (workflows/pipeline.ts) as data: every state, where it goes, what it passes on,
// which errors it retries and how. Comments are left out: they are documentation, not behaviour. And its graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPipelineDefinition, DEFAULT_HEARTBEAT_SECONDS, DEFAULT_STAGE_TIMEOUTS, STATE_MACHINE_FUNCTIONS, WAIT_FOR_TASK_TOKEN } from '../../workflows/pipeline.js';
import { toMermaid } from '../../workflows/graph.js';
import type { StateMachineDefinition } from '../../workflows/asl.js';

const arns = Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f) => [f, `arn:fn:${f}`])) as Record<(typeof STATE_MACHINE_FUNCTIONS)[number], string>;
const withoutComments = (o: unknown): unknown =>
  Array.isArray(o) ? o.map(withoutComments) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'Comment').map(([k, v]) => [k, withoutComments(v)])) : o;

const lambda = { ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' };
const compute = { ErrorEquals: ['ComputeUnavailable'], IntervalSeconds: 5, MaxAttempts: 4, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: 'FULL' };
const spot = { ErrorEquals: ['SpotInterrupted'], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2 };
const heartbeat = { ErrorEquals: ['States.HeartbeatTimeout'], IntervalSeconds: 5, MaxAttempts: 1 };
// A queued run (no free run slot) asks again for about 24 h: 20 s, ×1.5, at most 300 s, 293 attempts.
const queued = { ErrorEquals: ['RunQueued'], IntervalSeconds: 20, BackoffRate: 1.5, MaxDelaySeconds: 300, MaxAttempts: 293 };
const catchTo = (next: string, ResultPath = '$.error') => [{ ErrorEquals: ['States.ALL'], ResultPath, Next: next }];
const stage = (name: string, stageName: string, timeout: number, next: string, beat = 600) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
  Parameters: { FunctionName: 'arn:fn:submit-stage', Payload: { 'taskToken.$': '$$.Task.Token', stage: stageName, 'run.$': '$.run', 'stages.$': '$.stages' } },
  ResultPath: `$.stages.${stageName}`,
  TimeoutSeconds: timeout,
  HeartbeatSeconds: beat,
  Retry: [lambda, compute, spot, heartbeat],
  Catch: catchTo(`${name}Failed`),
  Next: next,
});
const finish = (end: Record<string, unknown>, next: string, catches: unknown) => ({
  Type: 'Task',
  Resource: 'arn:fn:finish-run',
  Parameters: { 'run.$': '$.run', 'stages.$': '$.stages', end },
  ResultPath: '$.finish',
  Retry: [lambda],
  Next: next,
  Catch: catches,
});
const failedPass = (from: string) => ({ Type: 'Pass', Result: from, ResultPath: '$.failedAt', Next: 'RecordFailure' });

test('the whole pipeline state machine, state by state', () => {
  const d = buildPipelineDefinition({ functionArns: arns });
  assert.deepEqual(withoutComments(d), {
    QueryLanguage: 'JSONPath',
    StartAt: 'PrepareRun',
    TimeoutSeconds: 259200,
    States: {
      PrepareRun: { Type: 'Task', Resource: 'arn:fn:prepare-run', Parameters: { 'run.$': '$.run' }, Retry: [lambda, queued], Catch: catchTo('Rejected'), Next: 'Ingest' },
      Ingest: stage('Ingest', 'ingest', 3600, 'Train'),
      Train: stage('Train', 'train', 86400, 'Tune'),
      Tune: stage('Tune', 'tune', 86400, 'Evaluate'),
      Evaluate: stage('Evaluate', 'evaluate', 3600, 'Gate'),
      Gate: { Type: 'Task', Resource: 'arn:fn:evaluate-gate', Parameters: { 'run.$': '$.run', 'stages.$': '$.stages' }, ResultPath: '$.gate', Retry: [lambda], Catch: catchTo('GateFailed'), Next: 'ShouldPromote' },
      ShouldPromote: { Type: 'Choice', Choices: [{ Variable: '$.gate.promote', BooleanEquals: true, Next: 'Promote' }], Default: 'RecordNotPromoted' },
      Promote: {
        Type: 'Task',
        Resource: 'arn:fn:promote',
        Parameters: { 'run.$': '$.run', 'modelUri.$': '$.gate.candidateModelUri', 'value.$': '$.gate.candidate' },
        ResultPath: '$.promotion',
        Retry: [lambda],
        Catch: catchTo('PromoteFailed'),
        Next: 'PromotionServing',
      },
      // The promotion loop: a Choice on the step's done, a Wait of the length the step asked for, one more check.
      PromotionServing: { Type: 'Choice', Choices: [{ Variable: '$.promotion.done', BooleanEquals: true, Next: 'RecordPromoted' }], Default: 'WaitForPromotion' },
      WaitForPromotion: { Type: 'Wait', SecondsPath: '$.promotion.waitSeconds', Next: 'CheckPromotion' },
      CheckPromotion: {
        Type: 'Task',
        Resource: 'arn:fn:promote',
        Parameters: { 'run.$': '$.run', 'modelUri.$': '$.gate.candidateModelUri', 'value.$': '$.gate.candidate', 'progress.$': '$.promotion.progress' },
        ResultPath: '$.promotion',
        Retry: [lambda],
        Catch: catchTo('CheckPromotionFailed'),
        Next: 'PromotionServing',
      },
      RecordPromoted: finish({ status: 'SUCCEEDED', promoted: true, 'reason.$': '$.gate.reason' }, 'Promoted', catchTo('RecordPromotedFailed')),
      RecordNotPromoted: finish({ status: 'SUCCEEDED', promoted: false, 'reason.$': '$.gate.reason' }, 'NotPromoted', catchTo('RecordNotPromotedFailed')),
      Promoted: { Type: 'Succeed' },
      NotPromoted: { Type: 'Succeed' },
      IngestFailed: failedPass('Ingest'),
      TrainFailed: failedPass('Train'),
      TuneFailed: failedPass('Tune'),
      EvaluateFailed: failedPass('Evaluate'),
      GateFailed: failedPass('Gate'),
      PromoteFailed: failedPass('Promote'),
      CheckPromotionFailed: failedPass('CheckPromotion'),
      RecordPromotedFailed: failedPass('RecordPromoted'),
      RecordNotPromotedFailed: failedPass('RecordNotPromoted'),
      RecordFailure: finish({ status: 'FAILED', 'error.$': '$.error.Error', 'cause.$': '$.error.Cause', 'failedAt.$': '$.failedAt' }, 'Failed', catchTo('Failed', '$.recordError')),
      Failed: { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
      Rejected: { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
    },
  });
  assert.deepEqual([...STATE_MACHINE_FUNCTIONS], ['prepare-run', 'submit-stage', 'evaluate-gate', 'promote', 'finish-run']);
  assert.equal(WAIT_FOR_TASK_TOKEN, 'arn:aws:states:::lambda:invoke.waitForTaskToken');
  assert.deepEqual(DEFAULT_STAGE_TIMEOUTS, { ingest: 3600, train: 86400, tune: 86400, evaluate: 3600 });
  assert.equal(DEFAULT_HEARTBEAT_SECONDS, 600);
});

test('stage timeouts, the heartbeat and the run timeout can be set; unset stages keep their defaults', () => {
  const d = buildPipelineDefinition({ functionArns: arns, stageTimeoutSeconds: { train: 7200 }, heartbeatSeconds: 30, runTimeoutSeconds: 600 });
  assert.equal(d.TimeoutSeconds, 600);
  const task = (n: string) => d.States[n] as { TimeoutSeconds: number; HeartbeatSeconds: number };
  assert.deepEqual(['Ingest', 'Train', 'Tune', 'Evaluate'].map((n) => [task(n).TimeoutSeconds, task(n).HeartbeatSeconds]), [[3600, 30], [7200, 30], [86400, 30], [3600, 30]]);
});

test('the graph: one node per state, its edges, catches and choices, callback states marked', () => {
  const def: StateMachineDefinition = {
    StartAt: 'A',
    States: {
      A: { Type: 'Task', Resource: WAIT_FOR_TASK_TOKEN, Catch: [{ ErrorEquals: ['States.ALL', 'X'], Next: 'F' }], Next: 'C' },
      C: { Type: 'Choice', Choices: [{ Variable: '$.ok', BooleanEquals: true, Next: 'B' }], Default: 'P' },
      B: { Type: 'Task', Resource: 'arn:fn', End: true },
      P: { Type: 'Pass', Next: 'S' },
      S: { Type: 'Succeed' },
      F: { Type: 'Fail' },
    },
  };
  assert.equal(
    toMermaid(def),
    [
      'flowchart TD',
      '  start((start)) --> A',
      '  A[A]',
      '  A --> C',
      '  A -. "States.ALL, X" .-> F',
      '  class A callback',
      '  C{C}',
      '  C -- "BooleanEquals true" --> B',
      '  C -- default --> P',
      '  B[B]',
      '  P[/P/]',
      '  P --> S',
      '  S([S ✔])',
      '  F([F ✖])',
      '  classDef callback fill:#e8f1ff,stroke:#3b6fd6',
      '',
    ].join('\n'),
  );
});
