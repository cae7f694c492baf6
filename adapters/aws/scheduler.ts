// OneTimeSchedulesPort on EventBridge Scheduler: one `at(…)` schedule per name in the stack's schedule group, which
// the service deletes after it has invoked its target (ActionAfterCompletion DELETE), so nothing stays behind.
// Arming a name that exists replaces it (ConflictException → UpdateSchedule: a full replace, every field again);
// disarming a name that is not there is fine (it already fired, or was never armed).
import { CreateScheduleCommand, DeleteScheduleCommand, UpdateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import type { OneTimeSchedulesPort } from '../../core/ports.js';
import { ErrorNames, SentinelError } from '../../core/errors.js';

export interface SchedulerTarget {
  /** The Lambda the schedule invokes. */
  arn: string;
  /** The role EventBridge Scheduler assumes to invoke it (infra/rules.ts SchedulerRole). */
  roleArn: string;
  /** Where an invocation Scheduler could not deliver goes (the undelivered-events queue). */
  deadLetterArn?: string;
}

export interface EventBridgeSchedulesOptions {
  /** The stack's schedule group (infra/rules.ts): IAM confines the Lambdas to schedule/<group>/<prefix>-*. */
  group: string;
  /** Which target a schedule name invokes (by the name's shape: <prefix>-watch, <prefix>-reap, <prefix>-stale-…). */
  targetFor: (name: string) => SchedulerTarget;
}

/** EventBridge Scheduler names: 1–64 of [0-9A-Za-z-_.]. */
const NAME = /^[0-9A-Za-z_.-]{1,64}$/;

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, to the second (Scheduler reads it in ScheduleExpressionTimezone, UTC here). */
export const atExpression = (at: Date) => {
  if (!Number.isFinite(at.getTime())) throw new SentinelError(ErrorNames.ValidationFailed, 'not a time', 'at');
  return `at(${at.toISOString().slice(0, 19)})`;
};

const errorName = (e: unknown) => (e as { name?: string }).name;

export class EventBridgeSchedules implements OneTimeSchedulesPort {
  constructor(
    private readonly client: SchedulerClient,
    private readonly o: EventBridgeSchedulesOptions,
  ) {}

  private request(name: string, at: Date, input: unknown) {
    if (!NAME.test(name)) throw new SentinelError(ErrorNames.ValidationFailed, `"${name}" is not a schedule name (1–64 of [0-9A-Za-z-_.])`, 'name');
    const t = this.o.targetFor(name);
    return {
      Name: name,
      GroupName: this.o.group,
      ScheduleExpression: atExpression(at),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' as const },
      ActionAfterCompletion: 'DELETE' as const,
      State: 'ENABLED' as const,
      Target: {
        Arn: t.arn,
        RoleArn: t.roleArn,
        Input: JSON.stringify(input),
        // A missed tick is not worth retrying for long: the next arm comes with the next submit or run end.
        RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 2 },
        ...(t.deadLetterArn ? { DeadLetterConfig: { Arn: t.deadLetterArn } } : {}),
      },
    };
  }

  async arm(name: string, at: Date, input: unknown): Promise<void> {
    const req = this.request(name, at, input);
    try {
      await this.client.send(new CreateScheduleCommand(req));
    } catch (e) {
      if (errorName(e) !== 'ConflictException') throw e;
      // Re-arming replaces: UpdateSchedule resets what it is not given, so it gets the whole request again.
      try {
        await this.client.send(new UpdateScheduleCommand(req));
      } catch (u) {
        // Fired and deleted between the two calls: create it again (once).
        if (errorName(u) !== 'ResourceNotFoundException') throw u;
        await this.client.send(new CreateScheduleCommand(req));
      }
    }
  }

  async disarm(name: string): Promise<void> {
    try {
      await this.client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.o.group }));
    } catch (e) {
      if (errorName(e) !== 'ResourceNotFoundException') throw e;
    }
  }
}
