// Promotion: put the candidate behind the pipeline's route (zero-downtime: Serve rolls replicas over), wait until it
// answers, then record it as champion and keep the previous one for rollback.
import type { Clock, ObjectStore, ServeStatus, ServingPort, TrackingPort } from './ports.js';
import type { Champion, ChampionRecord, RunContext } from './model.js';
import { serveApplicationFor, type ServeApplication } from './serve-config.js';
import { championUri } from './artifacts.js';
import { ErrorNames, SentinelError } from './errors.js';
import { notePipelineRun, registerChampion } from './tracking.js';
import type { EventPublisher, OneTimeSchedulesPort } from './ports.js';
import { runEvent, type ChampionRefDetail } from '../events/run-events.js';
import { armStaleCheck } from './staleness.js';

export interface PromoteDeps {
  serving: ServingPort;
  store: ObjectStore;
  clock: Clock;
  now: () => Date;
  /** The model registry: each champion is a version there and the alias `champion` follows champion.json. */
  tracking?: TrackingPort;
  /** Where `Model Promoted` / `Model Rolled Back` go (events/run-events.ts); absent: no run events. */
  publisher?: EventPublisher;
  /** Arms each new champion's staleness check (spec.staleAfter; core/staleness.ts); absent: not armed. */
  staleChecks?: { schedules: OneTimeSchedulesPort; prefix: string; staleAfterFor?: (pipeline: string) => Promise<string | undefined> };
}

const championRef = (c: Champion): ChampionRefDetail => ({ runId: c.runId, metric: c.metric, value: c.value, promotedAt: c.promotedAt, modelUri: c.modelUri });

/** After the record: the event, then the staleness check for the champion now serving. */
async function announceChampion(
  deps: PromoteDeps,
  pipeline: string,
  champion: Champion,
  staleAfter: string | undefined,
  event: Parameters<EventPublisher['publish']>[0][number],
): Promise<StaleCheckArmed | undefined> {
  await deps.publisher?.publish([event]);
  if (!deps.staleChecks || !staleAfter) return undefined;
  // Best effort like the registry: the model serves already; a check not armed is reported, not a failed promotion.
  try {
    return await armStaleCheck({ pipeline, champion, staleAfter, schedulePrefix: deps.staleChecks.prefix }, deps.staleChecks.schedules, deps.now());
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** The staleness check armed for the new champion (its schedule's name and time), or why it was not. */
export type StaleCheckArmed = { name: string; at: string } | { error: string };

export interface Promotion {
  endpoint: string;
  championRunId: string;
  previousRunId?: string;
  modelUri: string;
  /** The registered model version now aliased `champion` (tracking on). */
  registry?: { model: string; version: string };
  /** Why the registry was not updated (its server failed); serving and champion.json are unaffected. */
  registryError?: string;
  /** The champion's staleness check (spec.staleAfter), when armed. */
  staleCheck?: StaleCheckArmed;
}

/**
 * Puts the registry's `champion` alias on this champion. Best effort: serving already switched and champion.json is
 * the serving record, so a registry that fails is reported (and set from champion.json by the next reader), never
 * the cause of a failed promotion.
 */
async function syncRegistry(deps: Pick<PromoteDeps, 'tracking'>, pipeline: string, champion: Champion): Promise<{ registry?: Champion['registry']; registryError?: string }> {
  if (!deps.tracking) return {};
  try {
    return { registry: await registerChampion(deps.tracking, pipeline, champion) };
  } catch (e) {
    return { registryError: (e as Error).message };
  }
}

/** Waits for the serve application to be RUNNING; bounded, with a timeout error that says what it last saw. */
export async function waitUntilServing(
  pipeline: string,
  runId: string,
  deps: Pick<PromoteDeps, 'serving' | 'clock'>,
  timeoutMs: number,
  pollMs = 250,
) {
  const deadline = deps.clock.now() + timeoutMs;
  let last = 'no status yet';
  for (;;) {
    const s: ServeStatus = await deps.serving.status(pipeline).catch((e: Error) => ({ state: 'UNKNOWN', message: e.message }));
    // RUNNING counts only once the new config is the one deployed; right after an update the old one still shows.
    if (s.state === 'RUNNING' && s.runId === runId) return;
    last = `${s.state}${s.runId && s.runId !== runId ? ` (still serving ${s.runId})` : ''}${s.message ? `: ${s.message}` : ''}`;
    if (s.state === 'DEPLOY_FAILED') throw new SentinelError(ErrorNames.PromotionFailed, `serve application failed to deploy (${last})`, pipeline);
    if (deps.clock.now() >= deadline) {
      throw new SentinelError(ErrorNames.PromotionFailed, `not RUNNING after ${Math.round(timeoutMs / 1000)} s (last state ${last})`, pipeline);
    }
    await deps.clock.sleep(pollMs);
  }
}

export async function promote(
  req: { run: RunContext; modelUri: string; value: number },
  deps: PromoteDeps,
  timeoutMs = 180_000,
): Promise<Promotion> {
  const { run } = req;
  const app: ServeApplication = serveApplicationFor(run.spec, { modelUri: req.modelUri, runId: run.runId });
  await deps.serving.apply(run.pipeline, { applications: [app] });
  await waitUntilServing(run.pipeline, run.runId, deps, timeoutMs);

  const uri = championUri(run.artifactRoot, run.pipeline);
  const before = await deps.store.getJson<ChampionRecord>(uri);
  const current: Champion = {
    runId: run.runId,
    modelUri: req.modelUri,
    metric: run.spec.gate.metric,
    value: req.value,
    promotedAt: deps.now().toISOString(),
    serveConfig: app,
    ...(run.datasetEtag ? { dataset: { uri: run.datasetUri, etag: run.datasetEtag } } : {}),
  };
  // A redelivered promote of the same run must not push the real previous champion out of the record.
  const previous = before?.current.runId === run.runId ? before.previous : before?.current;
  // Registry first, then the record: champion.json carries the version the alias now points at.
  const synced = await syncRegistry(deps, run.pipeline, current);
  if (synced.registry) current.registry = synced.registry;
  await deps.store.putJson(uri, { pipeline: run.pipeline, current, ...(previous ? { previous } : {}) } satisfies ChampionRecord);
  if (deps.tracking) {
    const tags: Record<string, string> = { 'sentinel.promoted': 'true', ...(synced.registry ? { 'sentinel.registry.version': synced.registry.version } : {}) };
    await notePipelineRun(deps.tracking, run, tags).catch(() => undefined);
  }
  const endpoint = deps.serving.endpoint(run.pipeline, run.spec.serve.route);
  const promoted = runEvent('promoted', { pipeline: run.pipeline, runId: run.runId, champion: championRef(current), endpoint, ...(previous ? { previousRunId: previous.runId } : {}) }, deps.now());
  const staleCheck = await announceChampion(deps, run.pipeline, current, run.spec.staleAfter, promoted);
  return {
    ...(staleCheck ? { staleCheck } : {}),
    endpoint: deps.serving.endpoint(run.pipeline, run.spec.serve.route),
    championRunId: run.runId,
    ...(previous ? { previousRunId: previous.runId } : {}),
    modelUri: req.modelUri,
    ...synced,
  };
}

/** Restores the previous champion's serve config and swaps the record back. */
export async function rollback(
  req: { artifactRoot: string; pipeline: string; /** Why (recorded in the Model Rolled Back event). */ reason?: string },
  deps: PromoteDeps,
  timeoutMs = 180_000,
): Promise<Champion> {
  const uri = championUri(req.artifactRoot, req.pipeline);
  const record = await deps.store.getJson<ChampionRecord>(uri);
  if (!record?.previous) throw new SentinelError(ErrorNames.ValidationFailed, 'no previous champion to roll back to', req.pipeline);
  await deps.serving.apply(req.pipeline, { applications: [record.previous.serveConfig as ServeApplication] });
  await waitUntilServing(req.pipeline, record.previous.runId, deps, timeoutMs);
  const current: Champion = { ...record.previous };
  const synced = await syncRegistry(deps, req.pipeline, current); // the alias moves back to the previous version
  if (synced.registry) current.registry = synced.registry;
  await deps.store.putJson(uri, { pipeline: req.pipeline, current, previous: record.current } satisfies ChampionRecord);
  const now = deps.now();
  const rolledBack = runEvent('rolledBack', { pipeline: req.pipeline, runId: current.runId, champion: championRef(current), from: record.current.runId, reason: req.reason ?? 'rollback requested', at: now.toISOString() }, now);
  await announceChampion(deps, req.pipeline, current, await deps.staleChecks?.staleAfterFor?.(req.pipeline), rolledBack);
  return current;
}

/** Re-applies the recorded champion (e.g. on a fresh local Ray head) so it serves before a new run starts. */
export async function restoreChampion(req: { artifactRoot: string; pipeline: string }, deps: PromoteDeps, timeoutMs = 180_000) {
  const record = await deps.store.getJson<ChampionRecord>(championUri(req.artifactRoot, req.pipeline));
  if (!record) return undefined;
  await deps.serving.apply(req.pipeline, { applications: [record.current.serveConfig as ServeApplication] });
  await waitUntilServing(req.pipeline, record.current.runId, deps, timeoutMs);
  // The registry follows the record (a champion promoted while tracking was off or its server was down).
  const synced = await syncRegistry(deps, req.pipeline, record.current);
  if (synced.registry && synced.registry.version !== record.current.registry?.version) {
    await deps.store.putJson(championUri(req.artifactRoot, req.pipeline), { ...record, current: { ...record.current, registry: synced.registry } } satisfies ChampionRecord);
  }
  return { ...record.current, ...(synced.registry ? { registry: synced.registry } : {}) };
}
