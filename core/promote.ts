// Promotion: put the candidate behind the pipeline's route (zero-downtime: Serve rolls replicas over), wait until it
// answers, then record it as champion and keep the previous one for rollback.
import type { Clock, ObjectStore, ServeStatus, ServingPort, TrackingPort } from './ports.js';
import { MAX_PROMOTION_POLLS, promotionStatus, promotionWaits } from './promotion-wait.js';
import type { Champion, ChampionRecord, RunContext } from './model.js';
import { serveApplicationFor, type ServeApplication } from './serve-config.js';
import { championUri } from './artifacts.js';
import { ErrorNames, SentinelError } from './errors.js';
import { notePipelineRun, registerChampion } from './tracking.js';
import { decide } from './gate.js';
import { gateNoteUri, type GateNote } from './evaluate-gate.js';
import { joinUri, runUri } from './artifacts.js';
import type { Versioned } from './ports.js';
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
  /**
   * Present when the re-check at promote time kept the champion: another run was promoted after this run's gate read
   * the champion, and this candidate does not beat it. championRunId is then the champion that keeps serving.
   */
  kept?: { reason: string };
  /** Compare-and-swap attempts on champion.json (1 without contention). */
  attempts?: number;
}

/** Conditional writes of champion.json before promotion gives up (each conflict means another promotion landed). */
export const MAX_PROMOTE_ATTEMPTS = 8;

/** Where promote leaves a keep decided at promote time, so finish-run records the run as not promoted, with why. */
export const promotionNoteUri = (root: string, pipeline: string, runId: string) => joinUri(runUri(root, pipeline, runId), 'promotion.json');
export interface PromotionNote {
  promoted: boolean;
  reason: string;
  championRunId: string;
}

const readChampionRecord = (store: ObjectStore, uri: string) => store.getJsonVersioned<ChampionRecord>(uri);

/** One conditional write of champion.json against the version read; 'conflict' when another writer got there first. */
const casChampion = (store: ObjectStore, uri: string, read: Versioned<ChampionRecord> | undefined, next: ChampionRecord) =>
  store.putJsonIf(uri, next, read ? { ifMatch: read.version } : { ifNoneMatch: '*' });

/**
 * The pipeline's promotion lease (`<root>/<pipeline>/promotion-lease.json`): one promotion or rollback at a time
 * updates serving, waits for it and writes champion.json. Taken and released by compare-and-swap; a holder that died
 * (a Lambda timed out) loses it when it expires. champion.json's own compare-and-swap stays the last guard.
 */
export const promotionLeaseUri = (root: string, pipeline: string) => joinUri(root, pipeline, 'promotion-lease.json');
export interface PromotionLease {
  holder: string | null;
  expiresAt: string;
}
const LEASE_POLL_MS = 200;

async function withPromotionLease<T>(deps: PromoteDeps, uri: string, holder: string, ttlMs: number, fn: () => Promise<T>): Promise<T> {
  const polls = Math.ceil((ttlMs + 10_000) / LEASE_POLL_MS);
  let last = '';
  for (let i = 0; ; i++) {
    const read = await deps.store.getJsonVersioned<PromotionLease>(uri);
    const lease = read?.value;
    const free = !lease || lease.holder === null || lease.holder === holder || Date.parse(lease.expiresAt) <= deps.now().getTime();
    if (free) {
      const mine: PromotionLease = { holder, expiresAt: new Date(deps.now().getTime() + ttlMs).toISOString() };
      if ((await deps.store.putJsonIf(uri, mine, read ? { ifMatch: read.version } : { ifNoneMatch: '*' })) === 'ok') break;
      continue; // another promotion took it first: look again
    }
    last = `${lease.holder} until ${lease.expiresAt}`;
    if (i >= polls) throw new SentinelError(ErrorNames.PromotionFailed, `the promotion lease is held by ${last}`, uri);
    await deps.clock.sleep(LEASE_POLL_MS);
  }
  try {
    return await fn();
  } finally {
    // Released only if still ours (an expired lease another promotion took is theirs now).
    const read = await deps.store.getJsonVersioned<PromotionLease>(uri).catch(() => undefined);
    if (read?.value.holder === holder) {
      await deps.store.putJsonIf(uri, { holder: null, expiresAt: deps.now().toISOString() } satisfies PromotionLease, { ifMatch: read.version }).catch(() => undefined);
    }
  }
}

const conflictError = (pipeline: string, attempts: number) =>
  new SentinelError(ErrorNames.PromotionFailed, `champion.json changed under ${attempts} conditional writes in a row; gave up`, pipeline);

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

/** Where a promotion that has not finished stands; carried by the state machine between checks (JSON). */
export interface PromotionProgress {
  /** lease: waiting for the pipeline's promotion lease; serving: a config is applied, waiting for it to serve. */
  phase: 'lease' | 'serving';
  /** Milliseconds on deps.clock: when the promotion began and when it gives up. */
  startedMs: number;
  deadlineMs: number;
  timeoutSeconds: number;
  /** Checks done so far, and at most (the state machine's bound; absent in-process, where the deadline alone ends it). */
  polls: number;
  maxPolls?: number;
  /** Compare-and-swap attempts on champion.json. */
  attempt: number;
  /** The champion the gate compared against (null: none). */
  seen: string | null;
  /** This run's config went behind the route. */
  applied: boolean;
  /** The run whose config must serve before the next step: this run, or the champion put back by a loser. */
  waitingFor?: string;
  /** A loser waits for the champion's config to serve again, then keeps it (why, and how many times it was put back). */
  restoring?: { reason: string; restores: number };
  /** The step functions took the lease and release it (false: the caller holds it, as in-process promote() does). */
  ownsLease: boolean;
  /** What the last check saw. */
  last?: string;
}

/** One step of a promotion: finished (promoted or kept), or waiting `waitSeconds` before the next check. */
export type PromotionStep = { done: true; promotion: Promotion } | { done: false; waitSeconds: number; progress: PromotionProgress };

type PromoteRequest = { run: RunContext; modelUri: string; value: number; /** The champion the gate compared against (absent: none). */ gateChampionRunId?: string };

const leaseHolder = (runId: string) => `run ${runId}`;
/** Lease time past the promotion's deadline: a promotion that died (its execution stopped) frees it after this. */
const LEASE_MARGIN_MS = 120_000;

/** Takes the lease if free, expired or already ours; false when another holder has it (`holder` says who). */
async function tryTakeLease(deps: PromoteDeps, uri: string, holder: string, ttlMs: number): Promise<{ taken: true } | { taken: false; holder: string }> {
  for (let i = 0; i < MAX_PROMOTE_ATTEMPTS; i++) {
    const read = await deps.store.getJsonVersioned<PromotionLease>(uri);
    const lease = read?.value;
    const free = !lease || lease.holder === null || lease.holder === holder || Date.parse(lease.expiresAt) <= deps.now().getTime();
    if (!free) return { taken: false, holder: `${lease.holder} until ${lease.expiresAt}` };
    const mine: PromotionLease = { holder, expiresAt: new Date(deps.now().getTime() + ttlMs).toISOString() };
    if ((await deps.store.putJsonIf(uri, mine, read ? { ifMatch: read.version } : { ifNoneMatch: '*' })) === 'ok') return { taken: true };
  }
  return { taken: false, holder: 'another promotion (the lease changed under every attempt)' };
}

async function releaseLease(deps: PromoteDeps, uri: string, holder: string) {
  // Released only if still ours (an expired lease another promotion took is theirs now).
  const read = await deps.store.getJsonVersioned<PromotionLease>(uri).catch(() => undefined);
  if (read?.value.holder === holder) {
    await deps.store.putJsonIf(uri, { holder: null, expiresAt: deps.now().toISOString() } satisfies PromotionLease, { ifMatch: read.version }).catch(() => undefined);
  }
}

/**
 * Begins a promotion (the Promote state): takes the lease, re-checks the gate against the champion read now, applies
 * this run's serve config and looks once. Returns at once: done (served already, or kept), or the progress the state
 * machine hands to checkPromotion after a wait.
 */
export async function beginPromotion(
  req: PromoteRequest,
  deps: PromoteDeps,
  opts: { timeoutMs: number; maxPolls?: number; leaseHeld?: boolean },
): Promise<PromotionStep> {
  const { run } = req;
  // The champion the gate compared against: what it noted (core/evaluate-gate.ts), else the one read first here.
  const noted = req.gateChampionRunId !== undefined ? { championRunId: req.gateChampionRunId } : await deps.store.getJson<GateNote>(gateNoteUri(run.artifactRoot, run.pipeline, run.runId));
  let seen: string | null;
  if (noted) seen = noted.championRunId ?? null;
  else seen = (await deps.store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline)))?.current.runId ?? null;
  const started = deps.clock.now();
  const p: PromotionProgress = {
    phase: 'lease',
    startedMs: started,
    deadlineMs: started + opts.timeoutMs,
    timeoutSeconds: Math.round(opts.timeoutMs / 1000),
    polls: 0,
    ...(opts.maxPolls !== undefined ? { maxPolls: opts.maxPolls } : {}),
    attempt: 1,
    seen,
    applied: false,
    ownsLease: !opts.leaseHeld,
  };
  return advance(req, p, deps);
}

/** One check (the CheckPromotion state, after a wait): reads serving and moves the promotion on by what it sees. */
export async function checkPromotion(req: PromoteRequest, progress: PromotionProgress, deps: PromoteDeps): Promise<PromotionStep> {
  return advance(req, { ...progress, polls: progress.polls + 1 }, deps);
}

const waitFor = (p: PromotionProgress): PromotionStep => {
  const waits = promotionWaits(p.timeoutSeconds, p.maxPolls ?? MAX_PROMOTION_POLLS);
  return { done: false, waitSeconds: waits[Math.min(p.polls, waits.length - 1)]!, progress: p };
};

const timedOut = (p: PromotionProgress, deps: Pick<PromoteDeps, 'clock'>) => deps.clock.now() >= p.deadlineMs || (p.maxPolls !== undefined && p.polls >= p.maxPolls);

async function advance(req: PromoteRequest, p: PromotionProgress, deps: PromoteDeps): Promise<PromotionStep> {
  const { run } = req;
  const leaseUri = promotionLeaseUri(run.artifactRoot, run.pipeline);
  const holder = leaseHolder(run.runId);
  if (p.phase === 'lease') {
    if (p.ownsLease) {
      const got = await tryTakeLease(deps, leaseUri, holder, Math.max(0, p.deadlineMs - deps.clock.now()) + LEASE_MARGIN_MS);
      if (!got.taken) {
        p.last = `the promotion lease is held by ${got.holder}`;
        if (timedOut(p, deps)) throw new SentinelError(ErrorNames.PromotionTimedOut, `${p.last} after ${elapsedSeconds(p, deps)} s (promotionTimeout ${p.timeoutSeconds} s)`, run.pipeline);
        return waitFor(p);
      }
    }
    return applyOrKeep(req, p, deps);
  }
  return watch(req, p, deps);
}

const elapsedSeconds = (p: PromotionProgress, deps: Pick<PromoteDeps, 'clock'>) => Math.round((deps.clock.now() - p.startedMs) / 1000);

/** Re-checks against the champion read now, then applies this run's config (or, when it lost, puts the champion back). */
async function applyOrKeep(req: PromoteRequest, p: PromotionProgress, deps: PromoteDeps): Promise<PromotionStep> {
  const { run } = req;
  const uri = championUri(run.artifactRoot, run.pipeline);
  const before = (await readChampionRecord(deps.store, uri))?.value;
  const rival = before && before.current.runId !== run.runId ? before.current : undefined;
  // Re-check against a champion the gate did not see (another run's promotion landed since), by the gate's rule.
  if (rival && rival.runId !== p.seen) {
    const again = decide(run.spec.gate, req.value, rival.value);
    if (!again.promote) {
      const reason = `champion changed to run ${rival.runId} since the gate read it; ${again.reason}`;
      if (!p.applied) return keep(req, p, deps, rival, reason);
      // This run's config went up first: the champion's goes back behind the route, and is waited for.
      await deps.serving.apply(run.pipeline, { applications: [rival.serveConfig as ServeApplication] });
      return watch(req, { ...p, phase: 'serving', waitingFor: rival.runId, restoring: { reason, restores: 1 } }, deps);
    }
  }
  const app: ServeApplication = serveApplicationFor(run.spec, { modelUri: req.modelUri, runId: run.runId });
  await deps.serving.apply(run.pipeline, { applications: [app] });
  const next: PromotionProgress = { ...p, phase: 'serving', applied: true, waitingFor: run.runId };
  delete next.restoring;
  return watch(req, next, deps);
}

async function watch(req: PromoteRequest, p: PromotionProgress, deps: PromoteDeps): Promise<PromotionStep> {
  const { run } = req;
  const target = p.waitingFor ?? run.runId;
  const s: ServeStatus = await deps.serving.status(run.pipeline).catch((e: Error) => ({ state: 'UNKNOWN', message: e.message }));
  const seen = promotionStatus(s, target);
  p.last = seen.detail;
  if (seen.kind === 'failed') {
    await giveUp(req, p, deps);
    throw new SentinelError(ErrorNames.PromotionFailed, `serve application failed to deploy (${seen.detail})`, run.pipeline);
  }
  if (seen.kind === 'pending') {
    if (timedOut(p, deps)) {
      await giveUp(req, p, deps);
      throw new SentinelError(
        ErrorNames.PromotionTimedOut,
        `not RUNNING after ${elapsedSeconds(p, deps)} s (promotionTimeout ${p.timeoutSeconds} s, ${p.polls} checks; last state ${seen.detail}); the champion was not switched`,
        run.pipeline,
      );
    }
    return waitFor(p);
  }
  if (p.restoring) return restored(req, p, deps);
  return record(req, p, deps);
}

/** A loser's champion serves again: when yet another champion landed meanwhile, that one goes up instead (bounded). */
async function restored(req: PromoteRequest, p: PromotionProgress, deps: PromoteDeps): Promise<PromotionStep> {
  const { run } = req;
  const now = (await deps.store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline)))?.current;
  const restoring = p.restoring!;
  if (now && now.runId !== p.waitingFor && now.runId !== run.runId && restoring.restores < MAX_PROMOTE_ATTEMPTS) {
    await deps.serving.apply(run.pipeline, { applications: [now.serveConfig as ServeApplication] });
    return watch(req, { ...p, waitingFor: now.runId, restoring: { ...restoring, restores: restoring.restores + 1 } }, deps);
  }
  const champion = now ?? (await deps.store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline)))?.current;
  if (!champion) throw new SentinelError(ErrorNames.PromotionFailed, 'champion.json disappeared while its config was put back', run.pipeline);
  return keep(req, p, deps, champion, restoring.reason);
}

async function keep(req: PromoteRequest, p: PromotionProgress, deps: PromoteDeps, champion: Champion, reason: string): Promise<PromotionStep> {
  const { run } = req;
  await deps.store.putJson(promotionNoteUri(run.artifactRoot, run.pipeline, run.runId), { promoted: false, reason, championRunId: champion.runId } satisfies PromotionNote);
  if (p.ownsLease) await releaseLease(deps, promotionLeaseUri(run.artifactRoot, run.pipeline), leaseHolder(run.runId));
  const endpoint = deps.serving.endpoint(run.pipeline, run.spec.serve.route);
  return { done: true, promotion: { endpoint, championRunId: champion.runId, modelUri: champion.modelUri, kept: { reason }, attempts: p.attempt } };
}

/**
 * The promotion did not serve (timed out or failed): the champion's config goes back behind the route (on KubeRay
 * this drops the pending upgrade; the old cluster never stopped serving), champion.json is untouched, the lease freed.
 */
async function giveUp(req: PromoteRequest, p: PromotionProgress, deps: PromoteDeps) {
  const { run } = req;
  if (p.applied && !p.restoring) {
    const champion = (await deps.store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline)).catch(() => undefined))?.current;
    if (champion && champion.runId !== run.runId) {
      await deps.serving.apply(run.pipeline, { applications: [champion.serveConfig as ServeApplication] }).catch((e: Error) => {
        p.last = `${p.last ?? ''}; putting champion ${champion.runId}'s config back failed: ${e.message}`;
      });
    }
  }
  if (p.ownsLease) await releaseLease(deps, promotionLeaseUri(run.artifactRoot, run.pipeline), leaseHolder(run.runId));
}

/** This run's config serves: champion.json by compare-and-swap over the record read now (a conflict decides again). */
async function record(req: PromoteRequest, p: PromotionProgress, deps: PromoteDeps): Promise<PromotionStep> {
  const { run } = req;
  const uri = championUri(run.artifactRoot, run.pipeline);
  const read = await readChampionRecord(deps.store, uri);
  const before = read?.value;
  const rival = before && before.current.runId !== run.runId ? before.current : undefined;
  if (rival && rival.runId !== p.seen && !decide(run.spec.gate, req.value, rival.value).promote) return applyOrKeep(req, p, deps);
  const app: ServeApplication = serveApplicationFor(run.spec, { modelUri: req.modelUri, runId: run.runId });
  const endpoint = deps.serving.endpoint(run.pipeline, run.spec.serve.route);
  const current: Champion = {
    runId: run.runId,
    modelUri: req.modelUri,
    metric: run.spec.gate.metric,
    value: req.value,
    promotedAt: before?.current.runId === run.runId ? before.current.promotedAt : deps.now().toISOString(),
    serveConfig: app,
    ...(run.datasetEtag ? { dataset: { uri: run.datasetUri, etag: run.datasetEtag } } : {}),
  };
  // A redelivered promote of the same run must not push the real previous champion out of the record.
  const previous = before?.current.runId === run.runId ? before.previous : before?.current;
  // Registry first, then the record: champion.json carries the version the alias now points at.
  const synced = await syncRegistry(deps, run.pipeline, current);
  if (synced.registry) current.registry = synced.registry;
  const written = await casChampion(deps.store, uri, read, { pipeline: run.pipeline, current, ...(previous ? { previous } : {}) });
  if (written === 'conflict') {
    if (p.attempt >= MAX_PROMOTE_ATTEMPTS) {
      await giveUp(req, p, deps);
      throw conflictError(run.pipeline, p.attempt);
    }
    // The other writer may have put its own config behind the route since ours: decide again, and ours goes back up.
    return applyOrKeep(req, { ...p, attempt: p.attempt + 1 }, deps);
  }
  if (p.ownsLease) await releaseLease(deps, promotionLeaseUri(run.artifactRoot, run.pipeline), leaseHolder(run.runId));
  if (deps.tracking) {
    const tags: Record<string, string> = { 'sentinel.promoted': 'true', ...(synced.registry ? { 'sentinel.registry.version': synced.registry.version } : {}) };
    await notePipelineRun(deps.tracking, run, tags).catch(() => undefined);
  }
  const promoted = runEvent('promoted', { pipeline: run.pipeline, runId: run.runId, champion: championRef(current), endpoint, ...(previous ? { previousRunId: previous.runId } : {}) }, deps.now());
  const staleCheck = await announceChampion(deps, run.pipeline, current, run.spec.staleAfter, promoted);
  return {
    done: true,
    promotion: {
      ...(staleCheck ? { staleCheck } : {}),
      endpoint,
      championRunId: run.runId,
      ...(previous ? { previousRunId: previous.runId } : {}),
      modelUri: req.modelUri,
      ...synced,
      ...(p.attempt > 1 ? { attempts: p.attempt } : {}),
    },
  };
}

/**
 * Promotion is a compare-and-swap on champion.json. The champion is read with its version; when it is not the one
 * this run's gate compared against, the gate's rule is applied again to the stored values (the candidate's test
 * metric against the new champion's); a candidate that no longer wins keeps the champion, serving untouched, and
 * says why. A winner updates serving, waits until it answers, then writes the record only if its version is still
 * the one read. On a conflict (another promotion landed in between) it reads again and decides again, at most
 * MAX_PROMOTE_ATTEMPTS times; a loser puts the champion's config back behind the route, so serving and the record
 * agree.
 *
 * In-process (the CLI, tests): the steps the state machine runs (beginPromotion, then checkPromotion after each wait)
 * with a short sleep between checks, under the lease held for the whole call.
 */
export async function promote(req: PromoteRequest, deps: PromoteDeps, timeoutMs = 180_000, pollMs = 250): Promise<Promotion> {
  // Two waits for serving at most (a loser puts the champion back) fit in the lease.
  return withPromotionLease(deps, promotionLeaseUri(req.run.artifactRoot, req.run.pipeline), leaseHolder(req.run.runId), 2 * timeoutMs + 30_000, async () => {
    let step = await beginPromotion(req, deps, { timeoutMs, leaseHeld: true });
    while (!step.done) {
      await deps.clock.sleep(pollMs);
      step = await checkPromotion(req, step.progress, deps);
    }
    return step.promotion;
  });
}

/** Restores the previous champion's serve config and swaps the record back. */
export async function rollback(
  req: { artifactRoot: string; pipeline: string; /** Why (recorded in the Model Rolled Back event). */ reason?: string },
  deps: PromoteDeps,
  timeoutMs = 180_000,
): Promise<Champion> {
  return withPromotionLease(deps, promotionLeaseUri(req.artifactRoot, req.pipeline), `rollback (pid ${typeof process === 'object' ? process.pid : 0})`, timeoutMs + 30_000, () => rollbackHeld(req, deps, timeoutMs));
}

async function rollbackHeld(req: Parameters<typeof rollback>[0], deps: PromoteDeps, timeoutMs: number): Promise<Champion> {
  const uri = championUri(req.artifactRoot, req.pipeline);
  // A compare-and-swap like promote: the swap is written only over the record it was computed from. A promotion
  // landing in between makes it roll back from the champion it sees then (bounded).
  let record: ChampionRecord;
  let current: Champion;
  for (let attempt = 1; ; attempt++) {
    const read = await readChampionRecord(deps.store, uri);
    if (!read?.value.previous) throw new SentinelError(ErrorNames.ValidationFailed, 'no previous champion to roll back to', req.pipeline);
    record = read.value;
    const target = read.value.previous;
    await deps.serving.apply(req.pipeline, { applications: [target.serveConfig as ServeApplication] });
    await waitUntilServing(req.pipeline, target.runId, deps, timeoutMs);
    current = { ...target };
    const synced = await syncRegistry(deps, req.pipeline, current); // the alias moves back to the previous version
    if (synced.registry) current.registry = synced.registry;
    if ((await casChampion(deps.store, uri, read, { pipeline: req.pipeline, current, previous: record.current })) === 'ok') break;
    if (attempt >= MAX_PROMOTE_ATTEMPTS) throw conflictError(req.pipeline, attempt);
  }
  const now = deps.now();
  const rolledBack = runEvent('rolledBack', { pipeline: req.pipeline, runId: current.runId, champion: championRef(current), from: record.current.runId, reason: req.reason ?? 'rollback requested', at: now.toISOString() }, now);
  await announceChampion(deps, req.pipeline, current, await deps.staleChecks?.staleAfterFor?.(req.pipeline), rolledBack);
  return current;
}

/** Re-applies the recorded champion (e.g. on a fresh local Ray head) so it serves before a new run starts. */
export async function restoreChampion(req: { artifactRoot: string; pipeline: string }, deps: PromoteDeps, timeoutMs = 180_000) {
  const read = await readChampionRecord(deps.store, championUri(req.artifactRoot, req.pipeline));
  if (!read) return undefined;
  const record = read.value;
  await deps.serving.apply(req.pipeline, { applications: [record.current.serveConfig as ServeApplication] });
  await waitUntilServing(req.pipeline, record.current.runId, deps, timeoutMs);
  // The registry follows the record (a champion promoted while tracking was off or its server was down).
  const synced = await syncRegistry(deps, req.pipeline, record.current);
  if (synced.registry && synced.registry.version !== record.current.registry?.version) {
    // Only over the record read: a promotion that landed meanwhile wins, and its own registry sync stands.
    await casChampion(deps.store, championUri(req.artifactRoot, req.pipeline), read, { ...record, current: { ...record.current, registry: synced.registry } });
  }
  return { ...record.current, ...(synced.registry ? { registry: synced.registry } : {}) };
}
