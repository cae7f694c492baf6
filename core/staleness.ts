// Staleness: a pipeline's champion is stale once it is older than the spec's `staleAfter` (e.g. 30d). Serverless:
// nothing polls. Each promotion (and rollback) arms one one-time schedule for the new champion, named for it, at
// promotedAt + staleAfter. Its target runs checkStaleness: if the champion is still the one the schedule was armed
// for and is past its age, a `Model Stale` run event is published (and notified like any other).
//
// Named per champion, not per pipeline: Scheduler deletes a one-time schedule after it fires, so re-arming one name
// could be undone by the deletion of its fired predecessor (a promotion at the moment the old check fires would lose
// its own check). A champion's name is written once. Nothing disarms (no Lambda may DeleteSchedule,
// docs/zero-idle.md): the check of a champion since replaced fires once, finds the champion changed, and is deleted.
import { z } from 'zod';
import type { EventPublisher, ObjectStore, OneTimeSchedulesPort } from './ports.js';
import type { Champion, ChampionRecord } from './model.js';
import { championUri } from './artifacts.js';
import { validationFailed } from './errors.js';
import { DURATION, StaleAfterSchema } from './spec-notify.js';
import { runEvent } from '../events/run-events.js';

const UNIT_SECONDS = { m: 60, h: 3600, d: 86_400 } as const;

export { StaleAfterSchema };

export function durationSeconds(d: string, where = 'staleAfter'): number {
  const m = DURATION.exec(d);
  if (!m) throw validationFailed(`"${d}" is not a duration like 30d, 12h or 90m`, where);
  return Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
}

export interface Staleness {
  stale: boolean;
  ageSeconds: number;
  /** When the champion becomes (or became) stale. */
  staleAt: string;
  staleAfter: string;
}

/** How old the champion is against staleAfter (for status commands and the check). */
export function stalenessOf(champion: Pick<Champion, 'promotedAt'>, staleAfter: string, now: Date): Staleness {
  const promoted = Date.parse(champion.promotedAt);
  if (!Number.isFinite(promoted)) throw validationFailed(`promotedAt "${champion.promotedAt}" is not a time`, 'champion.promotedAt');
  const staleAtMs = promoted + durationSeconds(staleAfter) * 1000;
  return { stale: now.getTime() >= staleAtMs, ageSeconds: Math.max(0, (now.getTime() - promoted) / 1000), staleAt: new Date(staleAtMs).toISOString(), staleAfter };
}

/** Every staleness check's name starts with this (IAM: `<stem>-*`). */
export const staleScheduleStem = (prefix: string) => `${prefix}-stale`;

/**
 * One schedule per champion: `<prefix>-stale-<runId>-<pipeline>`, cut to EventBridge Scheduler's 64 characters
 * (of [0-9A-Za-z-_.]). The run id comes first, so a long pipeline name is what is cut, never the run id.
 */
export const staleScheduleName = (prefix: string, champion: { pipeline: string; runId: string }) => `${staleScheduleStem(prefix)}-${champion.runId}-${champion.pipeline}`.slice(0, 64);

/** What the one-time schedule hands its target. */
export const StaleCheckInputSchema = z.object({ check: z.literal('staleness'), pipeline: z.string().min(1), runId: z.string().regex(/^r[0-9a-f]{9}$/) }).strict();
export type StaleCheckInput = z.infer<typeof StaleCheckInputSchema>;

/** Arms the check for this champion (a champion armed again, after a rollback to it, replaces its own). */
export async function armStaleCheck(
  req: { pipeline: string; champion: Pick<Champion, 'runId' | 'promotedAt'>; staleAfter: string; schedulePrefix: string },
  schedules: OneTimeSchedulesPort,
  now: Date,
): Promise<{ name: string; at: string }> {
  const s = stalenessOf(req.champion, req.staleAfter, now);
  // A champion already past its age (a long staleAfter cut short, a clock skew) is checked a minute from now.
  const at = new Date(Math.max(Date.parse(s.staleAt), now.getTime() + 60_000));
  const name = staleScheduleName(req.schedulePrefix, { pipeline: req.pipeline, runId: req.champion.runId });
  const input: StaleCheckInput = { check: 'staleness', pipeline: req.pipeline, runId: req.champion.runId };
  await schedules.arm(name, at, input);
  return { name, at: at.toISOString() };
}

export type StaleCheckResult =
  | { stale: true; pipeline: string; runId: string; ageSeconds: number }
  | { stale: false; pipeline: string; reason: 'no champion' | 'champion changed' | 'not yet' | 'no staleAfter' };

/** The schedule's target: publishes Model Stale when the champion it was armed for is still there and past its age. */
export async function checkStaleness(
  input: StaleCheckInput,
  deps: { store: ObjectStore; artifactRoot: string; staleAfterFor: (pipeline: string) => Promise<string | undefined>; publisher: EventPublisher; now: () => Date },
): Promise<StaleCheckResult> {
  const { pipeline } = input;
  const staleAfter = await deps.staleAfterFor(pipeline);
  if (!staleAfter) return { stale: false, pipeline, reason: 'no staleAfter' };
  const record = await deps.store.getJson<ChampionRecord>(championUri(deps.artifactRoot, pipeline));
  if (!record) return { stale: false, pipeline, reason: 'no champion' };
  const c = record.current;
  // A newer promotion re-armed its own check; this one is about a model that no longer serves.
  if (c.runId !== input.runId) return { stale: false, pipeline, reason: 'champion changed' };
  const now = deps.now();
  const s = stalenessOf(c, staleAfter, now);
  if (!s.stale) return { stale: false, pipeline, reason: 'not yet' };
  await deps.publisher.publish([
    runEvent('stale', { pipeline, runId: c.runId, champion: { runId: c.runId, metric: c.metric, value: c.value, promotedAt: c.promotedAt, modelUri: c.modelUri }, staleAfter, ageSeconds: s.ageSeconds, at: now.toISOString() }, now),
  ]);
  return { stale: true, pipeline, runId: c.runId, ageSeconds: s.ageSeconds };
}
