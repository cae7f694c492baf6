import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { buildPipelineDefinition, STATE_MACHINE_FUNCTIONS, WAIT_FOR_TASK_TOKEN } from '../../workflows/pipeline.js';
import type { TaskState } from '../../workflows/asl.js';
import { RETRYABLE_ERRORS, ErrorNames } from '../../core/errors.js';

const aslValidator = createRequire(import.meta.url)('asl-validator') as (d: unknown) => { isValid: boolean; errors: unknown[] };
const arns = Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f) => [f, `arn:aws:lambda:us-east-1:123456789012:function:sentinel-dev-${f}`])) as never;

test('the pipeline definition is valid ASL', () => {
  const def = buildPipelineDefinition({ functionArns: arns });
  const res = aslValidator(def);
  assert.equal(res.isValid, true, JSON.stringify(res.errors));
});

test('every Ray stage waits for a task token with timeout and heartbeat, and retries exactly the transient errors', () => {
  const def = buildPipelineDefinition({ functionArns: arns, heartbeatSeconds: 300 });
  for (const name of ['Ingest', 'Train', 'Tune', 'Evaluate']) {
    const s = def.States[name] as TaskState;
    assert.equal(s.Resource, WAIT_FOR_TASK_TOKEN);
    assert.equal((s.Parameters!.Payload as Record<string, unknown>)['taskToken.$'], '$$.Task.Token');
    assert.ok(s.TimeoutSeconds! > 0);
    assert.equal(s.HeartbeatSeconds, 300);
    const retried = s.Retry!.flatMap((r) => r.ErrorEquals);
    for (const e of RETRYABLE_ERRORS) assert.ok(retried.includes(e), `${name} retries ${e}`);
    assert.ok(!retried.includes(ErrorNames.RayJobFailed) && !retried.includes(ErrorNames.ValidationFailed) && !retried.includes('States.ALL'));
    assert.deepEqual(s.Catch, [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: `${name}Failed` }]);
  }
});

test('stages run in order and every path ends in Succeed or Fail', () => {
  const def = buildPipelineDefinition({ functionArns: arns });
  const order: string[] = [];
  let cur: string | undefined = def.StartAt;
  while (cur && !order.includes(cur)) {
    order.push(cur);
    const s: any = def.States[cur];
    cur = s.Type === 'Choice' ? s.Choices[0].Next : s.Next;
  }
  assert.deepEqual(order, ['PrepareRun', 'Ingest', 'Train', 'Tune', 'Evaluate', 'Gate', 'ShouldPromote', 'Promote', 'PromotionServing', 'RecordPromoted', 'Promoted']);
  assert.equal(def.States.Failed!.Type, 'Fail');
  assert.equal(def.QueryLanguage, 'JSONPath');
});
