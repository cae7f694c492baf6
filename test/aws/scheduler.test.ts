// The one-time schedules adapter (adapters/aws/scheduler.ts EventBridgeSchedules) against moto in server mode: arm
// creates an at() schedule in the stack's group with ActionAfterCompletion DELETE, FlexibleTimeWindow OFF, the target
// and role of its kind; arming the same name again replaces it (ConflictException → UpdateSchedule, one schedule);
// disarm deletes it and a missing name is fine; a bad name or a name of no known kind is refused before any call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateScheduleGroupCommand, GetScheduleCommand, ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { startMoto, useMotoEnv, ACCOUNT, REGION, type Moto } from '../support/moto.js';
import { atExpression, EventBridgeSchedules } from '../../adapters/aws/scheduler.js';
import { armReaperAfterRun, armWatcher, REAP_TICK, WATCH_TICK } from '../../core/arming.js';
import { armStaleCheck } from '../../core/staleness.js';
import { scheduleTargetFor } from '../../functions/aws/deps.js';

let moto: Moto;
let restore: () => void;
let client: SchedulerClient;
const GROUP = 'sentinel-test';
const PREFIX = 'sentinel-test';
const fn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${PREFIX}-${name}`;
const TARGETS = { watch: fn('watch-jobs'), reap: fn('reap-idle'), stale: fn('notify') };
const ROLE = `arn:aws:iam::${ACCOUNT}:role/${PREFIX}-one-time-scheduler`;
const DLQ = `arn:aws:sqs:${REGION}:${ACCOUNT}:${PREFIX}-undelivered-events`;
let schedules: EventBridgeSchedules;

before(async () => {
  moto = await startMoto();
  restore = useMotoEnv(moto);
  client = new SchedulerClient({ region: REGION });
  await client.send(new CreateScheduleGroupCommand({ Name: GROUP }));
  schedules = new EventBridgeSchedules(client, { group: GROUP, targetFor: (name) => ({ arn: scheduleTargetFor(name, PREFIX, TARGETS), roleArn: ROLE, deadLetterArn: DLQ }) });
});

after(async () => {
  client?.destroy();
  restore?.();
  await moto?.stop();
});

const get = (Name: string) => client.send(new GetScheduleCommand({ Name, GroupName: GROUP }));
const names = async () => ((await client.send(new ListSchedulesCommand({ GroupName: GROUP }))).Schedules ?? []).map((s) => s.Name).sort();

test('arm: an at() schedule in the group, deleted after it fires, no flexible window, its kind\'s target and role', async () => {
  const now = new Date('2026-12-02T02:00:00.000Z');
  const armed = await armWatcher({ schedules, prefix: PREFIX, everyMs: 60_000 }, now);
  assert.deepEqual(armed, { name: `${PREFIX}-watch-1796176860`, at: '2026-12-02T02:01:00.000Z' });
  const s = await get(armed.name);
  assert.equal(s.ScheduleExpression, 'at(2026-12-02T02:01:00)');
  assert.equal(s.ScheduleExpressionTimezone, 'UTC');
  assert.equal(s.ActionAfterCompletion, 'DELETE');
  assert.equal(s.FlexibleTimeWindow?.Mode, 'OFF');
  assert.equal(s.GroupName, GROUP);
  assert.equal(s.State, 'ENABLED');
  assert.equal(s.Target?.Arn, TARGETS.watch);
  assert.equal(s.Target?.RoleArn, ROLE);
  assert.equal(s.Target?.DeadLetterConfig?.Arn, DLQ);
  assert.deepEqual(JSON.parse(s.Target!.Input!), WATCH_TICK);
});

test('arming within one interval is the same schedule; the next interval is another, so a firing one is never rewritten', async () => {
  const before = (await names()).length;
  const a = await armWatcher({ schedules, prefix: PREFIX, everyMs: 60_000 }, new Date('2026-12-02T02:05:00.000Z'));
  const b = await armWatcher({ schedules, prefix: PREFIX, everyMs: 60_000 }, new Date('2026-12-02T02:05:00.000Z'));
  assert.deepEqual(b, a);
  assert.equal((await names()).length, before + 1, 'the same slot again: no second schedule (Create, Conflict, Update of the same request)');
  const s = await get(a.name);
  assert.equal(s.ScheduleExpression, 'at(2026-12-02T02:06:00)');
  assert.equal(s.Target?.Arn, TARGETS.watch, 'the update carries the whole request again');
  // Armed as the 02:06 tick fires (its own re-arm, or a submit at that instant): the 02:07 schedule, a new name.
  const c = await armWatcher({ schedules, prefix: PREFIX, everyMs: 60_000 }, new Date('2026-12-02T02:06:00.000Z'));
  assert.deepEqual(c, { name: `${PREFIX}-watch-${Date.parse('2026-12-02T02:07:00Z') / 1000}`, at: '2026-12-02T02:07:00.000Z' });
  // Scheduler deletes the fired one after its invocation: the next is untouched.
  await schedules.disarm(a.name);
  assert.equal((await get(c.name)).ScheduleExpression, 'at(2026-12-02T02:07:00)');
});

test('the reaper and a staleness check go to their own targets; disarm deletes, and a missing name is fine', async () => {
  const end = new Date('2026-12-02T02:10:00.000Z');
  const reap = await armReaperAfterRun({ schedules, prefix: PREFIX, idleMs: 15 * 60_000 }, end, end);
  assert.equal(reap.name, `${PREFIX}-reap-${Date.parse('2026-12-02T02:25:00Z') / 1000}`);
  const r = await get(reap.name);
  assert.deepEqual([r.ScheduleExpression, r.Target?.Arn, JSON.parse(r.Target!.Input!)], ['at(2026-12-02T02:25:00)', TARGETS.reap, REAP_TICK]);
  const stale = await armStaleCheck({ pipeline: 'breast-cancer', champion: { runId: 'r0123456ab', promotedAt: '2026-12-01T00:00:00.000Z' }, staleAfter: '30d', schedulePrefix: PREFIX }, schedules, end);
  const st = await get(stale.name);
  assert.deepEqual([st.Target?.Arn, st.ScheduleExpression], [TARGETS.stale, 'at(2026-12-31T00:00:00)']);
  assert.ok((await names()).includes(reap.name) && (await names()).includes(`${PREFIX}-stale-r0123456ab-breast-cancer`));
  // The next champion's check is its own schedule: re-arming never rewrites one Scheduler may be deleting.
  const next = await armStaleCheck({ pipeline: 'breast-cancer', champion: { runId: 'r0123456cd', promotedAt: '2026-12-02T00:00:00.000Z' }, staleAfter: '30d', schedulePrefix: PREFIX }, schedules, end);
  assert.equal((await get(next.name)).ScheduleExpression, 'at(2027-01-01T00:00:00)');
  assert.equal((await get(stale.name)).ScheduleExpression, 'at(2026-12-31T00:00:00)', 'the replaced champion\'s check is untouched');
  await schedules.disarm(reap.name);
  await schedules.disarm(reap.name); // already gone: fine
  assert.ok(!(await names()).includes(reap.name));
  await assert.rejects(get(reap.name), { name: 'ResourceNotFoundException' });
});

test('refused before any call: a name Scheduler would refuse, a name of no known kind, a time that is not one', async () => {
  const count = (await names()).length;
  await assert.rejects(schedules.arm('has space', new Date(), {}), { name: 'ValidationFailed', where: 'name' });
  await assert.rejects(schedules.arm(`${PREFIX}-other`, new Date(), {}), { name: 'ValidationFailed', where: 'name' });
  await assert.rejects(schedules.arm(`${PREFIX}-watch`, new Date(), {}), { name: 'ValidationFailed', where: 'name' }, 'the stem alone is no slot');
  assert.throws(() => atExpression(new Date(Number.NaN)), { name: 'ValidationFailed' });
  assert.equal((await names()).length, count);
  // (A group that does not exist: moto 5.2.5 answers CreateSchedule with an HTML 500, not AWS's
  // ResourceNotFoundException, so that path is not asserted here.)
});
