// Zero idle cost: the deployed watcher and reaper run only when there is something for them to do, armed through
// one-time schedules (OneTimeSchedulesPort: EventBridge Scheduler `at(…)`, deleted once fired) instead of a
// forever-rate.
//   watcher  submit-stage arms the watcher's next slot after each RayJob it creates; each tick arms the slot after it
//            only while it still sees stages in flight. Slots are whole watch intervals: every arm in one interval
//            names the same schedule, so one tick per interval however many stages run.
//   reaper   finish-run and execution-ended arm the reaper for the run's end + the idle time (to the minute); each
//            reap re-arms it only for work it left for later (a cluster not idle long enough yet, a finished job
//            within its retention, node groups draining the pods it just deleted), so after the last run it stops.
// A schedule's name carries its fire time (<prefix>-watch-<epoch seconds>). Arming never rewrites a schedule that
// is firing: a name for time T is only ever armed before T minus the lead, and the schedule Scheduler deletes after
// firing is that one alone. (With one name re-armed in place, an arm landing as the previous tick fired was deleted
// with it, and the watcher stopped.) Arming the same slot twice is the same schedule, so it is idempotent.
// Locally there is no port: the local runtime's own 0.5 s watcher runs for the session only.
import { z } from 'zod';
import type { OneTimeSchedulesPort } from './ports.js';

/** The schedule names (EventBridge Scheduler: ≤ 64 of [0-9A-Za-z-_.]); IAM confines the Lambdas to these stems. */
const slotName = (stem: string, at: Date) => `${stem}-${Math.floor(at.getTime() / 1000)}`;
export const watchScheduleStem = (prefix: string) => `${prefix}-watch`;
export const reapScheduleStem = (prefix: string) => `${prefix}-reap`;
/** The watcher's schedule that fires at `at`. */
export const watchScheduleName = (prefix: string, at: Date) => slotName(watchScheduleStem(prefix), at);
/** The reaper's schedule that fires at `at`. */
export const reapScheduleName = (prefix: string, at: Date) => slotName(reapScheduleStem(prefix), at);
/** Whether `name` is one of the stem's slot names (<stem>-<epoch seconds>). */
export const isSlotName = (stem: string, name: string) => name.startsWith(`${stem}-`) && /^[0-9]{1,12}$/.test(name.slice(stem.length + 1));

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
/** The reaper's slots: a minute (runs ending within one minute share one reap). */
export const REAP_SLOT_MS = 60_000;
/** `at`, not before now + the lead, rounded up to the next whole slot (slots count from the epoch). */
const slotAt = (at: number, now: number, slotMs: number) => {
  const slot = Math.max(1000, Math.round(slotMs / 1000) * 1000);
  return new Date(Math.ceil(Math.max(at, now + MIN_LEAD_MS) / slot) * slot);
};

/** Arms the watcher's next slot: the first slot boundary at least one interval from now; the name and time armed. */
export async function armWatcher(a: WatcherArming, now: Date): Promise<{ name: string; at: string }> {
  const at = slotAt(now.getTime() + a.everyMs, now.getTime(), a.everyMs);
  const name = watchScheduleName(a.prefix, at);
  await a.schedules.arm(name, at, WATCH_TICK);
  return { name, at: at.toISOString() };
}

/** Arms the reaper for `at` (a run's end + the idle time, or the reaper's own next work), rounded up to its minute. */
export async function armReaper(a: Pick<ReaperArming, 'schedules' | 'prefix'>, at: Date, now: Date): Promise<{ name: string; at: string }> {
  const when = slotAt(at.getTime(), now.getTime(), REAP_SLOT_MS);
  const name = reapScheduleName(a.prefix, when);
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
