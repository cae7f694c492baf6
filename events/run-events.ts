// Run events: what Sentinel tells the world about a run and its pipeline's champion. Published on the default
// EventBridge bus (locally, the local bus) under one source, so another pipeline, a notification rule or a team's
// own tooling can trigger on them (runEventsPattern below). Schemas, builders and names in one place.
//
//   Run Started        PrepareRun recorded the run as RUNNING
//   Run Succeeded      RecordPromoted / RecordNotPromoted wrote run.json SUCCEEDED
//   Run Failed         RecordFailure wrote run.json FAILED, or the execution ended (aborted, timed out) before it
//   Model Promoted     Promote: the candidate serves behind the route and is the champion
//   Champion Kept      RecordNotPromoted: the gate kept the champion, with its reason
//   Model Rolled Back  rollback: the previous champion serves again
//   Model Stale        the champion is older than the spec's staleAfter (core/staleness.ts)
import { z } from 'zod';
import type { BusEvent } from '../core/ports.js';
import type { EventPattern } from './patterns.js';

import { RUN_EVENT_KINDS, RUN_EVENT_SOURCE, RUN_EVENT_TYPES, type RunEventKind, type RunEventType } from '../core/run-event-names.js';
export { RUN_EVENT_KINDS, RUN_EVENT_SOURCE, RUN_EVENT_TYPES, type RunEventKind, type RunEventType };

/** Run ids as records hold them (a champion promoted long ago included): checked for shape only where a run starts. */
const runId = z.string().min(1).max(64);
const iso = z.string().datetime({ offset: true });
const metrics = z.record(z.string(), z.number());

const base = { pipeline: z.string().min(1), runId };

/** The champion as the events carry it (not its serve config). */
const ChampionRef = z.object({ runId, metric: z.string(), value: z.number(), promotedAt: z.string(), modelUri: z.string().optional() }).strict();

export const RunEventDetailSchemas = {
  started: z.object({ ...base, startedAt: iso, trigger: z.enum(['manual', 's3', 'schedule']), datasetUri: z.string().min(1) }).strict(),
  succeeded: z
    .object({
      ...base,
      startedAt: iso,
      endedAt: iso,
      durationSeconds: z.number().min(0),
      promoted: z.boolean(),
      /** The gate's reason. */
      reason: z.string(),
      /** Each stage's final metrics, as `<stage>.<metric>`. */
      metrics,
    })
    .strict(),
  failed: z
    .object({
      ...base,
      startedAt: iso.optional(),
      endedAt: iso,
      error: z.string(),
      cause: z.string().max(2000),
      /** The state that failed, or how the execution ended (ABORTED, TIMED_OUT). */
      stage: z.string().optional(),
    })
    .strict(),
  promoted: z.object({ ...base, champion: ChampionRef, previousRunId: runId.optional(), endpoint: z.string() }).strict(),
  kept: z.object({ ...base, reason: z.string(), metrics, champion: ChampionRef.optional() }).strict(),
  rolledBack: z.object({ ...base, champion: ChampionRef, from: runId, reason: z.string(), at: iso }).strict(),
  stale: z.object({ ...base, champion: ChampionRef, staleAfter: z.string(), ageSeconds: z.number().min(0), at: iso }).strict(),
} as const;

export type RunEventDetail<K extends RunEventKind> = z.infer<(typeof RunEventDetailSchemas)[K]>;
export type ChampionRefDetail = z.infer<typeof ChampionRef>;

/** A run event, validated against its schema (a builder given bad data throws here, not on a consumer). */
export function runEvent<K extends RunEventKind>(kind: K, detail: RunEventDetail<K>, now: Date): BusEvent<RunEventDetail<K>> {
  const parsed = RunEventDetailSchemas[kind].parse(detail) as RunEventDetail<K>;
  return { source: RUN_EVENT_SOURCE, 'detail-type': RUN_EVENT_TYPES[kind], detail: parsed, time: now.toISOString(), resources: [`${detail.pipeline}/${detail.runId}`] };
}

export type AnyRunEvent = { [K in RunEventKind]: { kind: K; detail: RunEventDetail<K> } }[RunEventKind];

/** Back from an EventBridge envelope (or a bus event) to a typed run event; undefined when it is not one. */
export function parseRunEvent(e: { source?: unknown; 'detail-type'?: unknown; detail?: unknown }): AnyRunEvent | undefined {
  if (e.source !== RUN_EVENT_SOURCE) return undefined;
  const kind = RUN_EVENT_KINDS.find((k) => RUN_EVENT_TYPES[k] === e['detail-type']);
  if (!kind) return undefined;
  const r = RunEventDetailSchemas[kind].safeParse(e.detail);
  return r.success ? ({ kind, detail: r.data } as AnyRunEvent) : undefined;
}

/** Each stage's final metrics flattened as `<stage>.<metric>` (the same names MLflow's pipeline run carries). */
export function stageMetrics(stages: Partial<Record<string, { metrics: Record<string, number> }>> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [stage, s] of Object.entries(stages ?? {})) for (const [k, v] of Object.entries(s?.metrics ?? {})) if (Number.isFinite(v)) out[`${stage}.${k}`] = v;
  return out;
}

/**
 * A pattern another pipeline (or anything else) triggers on: run events of the named pipelines (all when none), of
 * the given kinds (all when none). Data, like every pattern in events/patterns.ts.
 */
export function runEventsPattern(o: { pipelines?: string[]; kinds?: readonly RunEventKind[] } = {}): EventPattern {
  const kinds = o.kinds?.length ? o.kinds : RUN_EVENT_KINDS;
  return {
    source: [RUN_EVENT_SOURCE],
    'detail-type': kinds.map((k) => RUN_EVENT_TYPES[k]),
    ...(o.pipelines?.length ? { detail: { pipeline: [...o.pipelines] } } : {}),
  };
}

/** E.g. retrain a downstream pipeline whenever `upstream` promotes a model. */
export const modelPromotedPattern = (pipeline: string): EventPattern => runEventsPattern({ pipelines: [pipeline], kinds: ['promoted'] });
