// The queues' message kinds (events/messages.ts) and the record parser (functions/lib/batch.ts): one parser per
// source + detail-type, covering exactly the rules that feed each queue; malformed records are named, not echoed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqsRecordSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import { isDeepStrictEqual } from 'node:util';
import { routesFor } from '../../events/routes.js';
import type { EventPattern } from '../../events/patterns.js';
import { matches } from '../../events/match.js';
import { QUEUE_MESSAGES, messageKey } from '../../events/messages.js';
import { MalformedMessage, parseMessage } from '../../functions/lib/batch.js';
import { jobStateChangeEvent } from '../../events/job-state-change.js';
import { sqsRecord } from '../../local/queue.js';
import { awsSample, delivered, ec2Event } from '../support/events.js';

const asList = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);

test("each queue's kinds are exactly the source + detail-type pairs its rules send, and each kind matches its rule", () => {
  for (const [queue, kinds] of Object.entries(QUEUE_MESSAGES)) {
    const routes = routesFor({ bucket: 'b', pipelines: [] }).filter((r) => r.target === queue);
    assert.ok(routes.length > 0, queue);
    const routed = new Set(routes.flatMap((r) => asList(r.pattern.source).flatMap((s) => asList(r.pattern['detail-type']).map((d) => messageKey(s, d)))));
    assert.deepEqual(new Set(kinds.map((k) => messageKey(k.source, k.detailType))), routed, queue);
    // A rule scoped to the deployment's bucket (stage-result-written): the kind carries its pattern without the bucket,
    // since the message table is the same for every deployment.
    const unscoped = (p: EventPattern) => {
      const detail = p.detail as EventPattern | undefined;
      if (!detail || !('bucket' in detail)) return p;
      const { bucket: _b, ...rest } = detail;
      return { ...p, detail: rest };
    };
    // A kind two rules send (stage-written: result.json and failure.json) carries their patterns as a top-level $or.
    for (const k of kinds) {
      const alternatives = '$or' in k.pattern ? (k.pattern.$or as EventPattern[]) : [k.pattern];
      for (const alt of alternatives) assert.ok(routes.some((r) => r.pattern === alt || isDeepStrictEqual(unscoped(r.pattern), alt)), `${k.kind}: its pattern is a rule of ${queue}`);
    }
    // And every rule of the queue is one of its kinds' patterns: nothing a rule sends lacks a parser that accepts it.
    for (const r of routes) {
      assert.ok(kinds.some((k) => ('$or' in k.pattern ? (k.pattern.$or as EventPattern[]) : [k.pattern]).some((alt) => r.pattern === alt || isDeepStrictEqual(unscoped(r.pattern), alt))), `${r.name}: a kind of ${queue} carries its pattern`);
    }
  }
});

test('a record of a real SQS delivery parses to its kind; the local queue builds records Powertools accepts', () => {
  const job = jobStateChangeEvent('kuberay', { jobId: 'churn-r0123456789-train-1'.replace('r0123456789', 'r012345678'), state: 'FAILED', labels: {} }, 's3://b/artifacts', new Date())!;
  const record = sqsRecord(JSON.stringify(delivered(job)));
  assert.equal(SqsRecordSchema.safeParse(record).success, true);
  const m = parseMessage(record, QUEUE_MESSAGES['completion-queue']);
  assert.equal(m.kind, 'job-state-change');
  assert.equal(m.detail.jobId, 'churn-r012345678-train-1');
  for (const [sample, kind] of [
    [awsSample('ec2-spot-instance-interruption-warning'), 'spot-warning'],
    [awsSample('ec2-instance-rebalance-recommendation'), 'rebalance'],
    [ec2Event('ec2-instance-state-change-notification', 'i-abcd1111', 'terminated'), 'state-change'],
  ] as const) {
    assert.equal(parseMessage(sqsRecord(JSON.stringify(delivered(sample))), QUEUE_MESSAGES['interruption-queue']).kind, kind);
  }
});

test('malformed records: MalformedMessage says what and where, capped, without echoing the input', () => {
  const kinds = QUEUE_MESSAGES['interruption-queue'];
  const bad = (body: string, why: RegExp) => {
    assert.throws(() => parseMessage(sqsRecord(body), kinds), (e: Error) => {
      assert.ok(e instanceof MalformedMessage, e.name);
      assert.equal(e.name, 'MalformedMessage');
      assert.match(e.message, why);
      assert.ok(e.message.length <= 1100, `${e.message.length} characters`);
      return true;
    });
  };
  const spot = delivered(awsSample('ec2-spot-instance-interruption-warning'));
  bad('not json', /record\.Records\.0\.body: Invalid JSON/);
  bad(JSON.stringify({ ...spot, 'detail-type': 'EC2 Something New' }), /no parser for source "aws\.ec2" detail-type "EC2 Something New"/);
  bad(JSON.stringify({ ...spot, detail: { 'instance-id': 'x'.repeat(100_000), 'instance-action': 'terminate' } }), /spot-warning: event\.detail\.instance-id: is not an EC2 instance id/);
  bad(JSON.stringify({ ...spot, detail: {} }), /detail\.instance-id: is required/);
  bad(JSON.stringify(delivered(ec2Event('ec2-instance-state-change-notification', 'i-abcd1111', 'running'))), /no rule of this queue sends/);
  bad(JSON.stringify({ ...spot, time: 'yyyy-mm-ddThh:mm:ssZ' }), /record\.Records\.0\.body\.time/);
  // A huge detail-type is cut, not echoed whole.
  bad(JSON.stringify({ ...spot, 'detail-type': 'y'.repeat(50_000) }), /no parser for source/);
  // The job kind is strict: an unknown field, or a run id that is not one, is malformed too.
  const job = delivered(jobStateChangeEvent('ray-jobs', { jobId: 'p-r012345678-train-1', state: 'SUCCEEDED', labels: {} }, '/r', new Date())!);
  assert.throws(() => parseMessage(sqsRecord(JSON.stringify({ ...job, detail: { ...job.detail, extra: 1 } })), QUEUE_MESSAGES['completion-queue']), /unknown field\(s\) "extra"/);
  assert.throws(() => parseMessage(sqsRecord(JSON.stringify({ ...job, detail: { ...job.detail, pipeline: '../x' } })), QUEUE_MESSAGES['completion-queue']), /detail\.pipeline: is not a pipeline name/);
  assert.equal(matches(QUEUE_MESSAGES['completion-queue'][0].pattern, { ...job, detail: { ...job.detail, state: 'RUNNING' } }), false);
});
