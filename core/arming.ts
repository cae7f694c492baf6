// Zero idle cost: the deployed watcher and reaper run only when there is something for them to do, armed through
// one-time schedules (OneTimeSchedulesPort: EventBridge Scheduler `at(…)`, deleted once fired) instead of a
// forever-rate.
//   watcher  submit-stage arms `<prefix>-watch` for now + the watch interval after each RayJob it creates; each tick
//            re-arms it only while it still sees stages in flight. Re-arming a name replaces it: one schedule, one
//            call per arm, however many stages run.
//   reaper   finish-run and execution-ended arm `<prefix>-reap` for the run's end + the idle time; each reap re-arms
//            it only for work it left for later (a cluster not idle long enough yet, a finished job within its
//            retention, node groups draining the pods it just deleted), so after the last run it stops.
// Locally there is no port: the local runtime's own 0.5 s watcher runs for the session only.
import { z } from 'zod';
import type { OneTimeSchedulesPort } from './ports.js';

/** The schedule names (EventBridge Scheduler: ≤ 64 of [0-9A-Za-z-_.]); IAM confines the Lambdas to `<prefix>-*`. */
export const watchScheduleName = (prefix: string) => `${prefix}-watch`;
export const reapScheduleName = (prefix: string) => `${prefix}-reap`;

/** What the one-time schedules hand their targets (the watcher and reaper also accept any scheduled event). */
export const WatchTickSchema = z.object({ tick: z.literal('watch') }).strict();
export const ReapTickSchema = z.object({ tick: z.literal('reap') }).strict();
export const WATCH_TICK: z.infer<typeof WatchTickSchema> = { tick: 'watch' };
export const REAP_TICK: z.infer<typeof ReapTickSchema> = { tick: 'reap' };

export interface WatcherArming {
  schedules: OneTimeSchedulesPort;
  prefix: string;
  /** How long after an arm the watcher ticks (infra/config.ts watchEvery). */
  everyMs: number;
}

export interface ReaperArming {
  schedules: OneTimeSchedulesPort;
  prefix: string;
  /** A cluster idle this long is reaped (infra/config.ts idleTimeoutMinutes). */
  idleMs: number;
}

/** EventBridge Scheduler fires at whole seconds and not in the past: never earlier than a few seconds from now. */
const MIN_LEAD_MS = 5_000;
const notBefore = (at: number, now: number) => new Date(Math.ceil(Math.max(at, now + MIN_LEAD_MS) / 1000) * 1000);

/** Arms (or re-arms) the watcher for now + its interval; the time armed. */
export async function armWatcher(a: WatcherArming, now: Date): Promise<{ name: string; at: string }> {
  const name = watchScheduleName(a.prefix);
  const at = notBefore(now.getTime() + a.everyMs, now.getTime());
  await a.schedules.arm(name, at, WATCH_TICK);
  return { name, at: at.toISOString() };
}

/** Arms (or re-arms) the reaper for `at` (a run's end + the idle time, or the reaper's own next work). */
export async function armReaper(a: Pick<ReaperArming, 'schedules' | 'prefix'>, at: Date, now: Date): Promise<{ name: string; at: string }> {
  const name = reapScheduleName(a.prefix);
  const when = notBefore(at.getTime(), now.getTime());
  await a.schedules.arm(name, when, REAP_TICK);
  return { name, at: when.toISOString() };
}

/** After a run ended at `endedAt`: the reaper comes when that run's clusters have been idle long enough. */
export const armReaperAfterRun = (a: ReaperArming, endedAt: Date, now: Date) => armReaper(a, new Date(endedAt.getTime() + a.idleMs), now);

/** What arming did, for a handler's result: the schedule armed, or why it was not (arming is best effort). */
export type Armed = { name: string; at: string } | { error: string };

/**
 * Best effort: the step that arms has already done its work (the job exists, the run is recorded); a schedule that
 * could not be armed is reported in the result and logged, not a failed step. The pushed completion and the task's
 * heartbeat timeout still end a stage whose watcher never came.
 */
export async function tryArm(arm: () => Promise<{ name: string; at: string }>): Promise<Armed> {
  try {
    return await arm();
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}
