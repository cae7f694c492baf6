// Seeing runs: what `sentinel runs` and `sentinel status` read, behind one port so a backend is a matter of where the
// records are. Locally (local/run-history.ts) they are files in the home's bucket and a session file of the live
// `sentinel run`; deployed, the same records are S3 objects beside a Step Functions execution history. Everything
// here is pure: the listing and its filters, and one run's status assembled from what the run recorded.
import type { ChampionRecord, RunRecord, RunTracking, RunWaiting } from './model.js';
import { waitingRuns, type RunSlots } from './run-slots.js';
import type { StageResult } from './contract.js';
import type { JobStatus } from './job-status.js';
import type { ServeReplicas, ServeStatus } from './ports.js';
import type { PipelineSpec } from './spec.js';
import { STAGES, stateNameFor, type Stage } from './stages.js';
import { parseJobName } from './names.js';
import { runUrl } from './tracking.js';
import { stalenessOf, type Staleness } from './staleness.js';

/** The control plane's metrics of one run (locally the digest of its metrics.jsonl; deployed, CloudWatch's). */
export interface ControlPlaneDigest {
  file?: string;
  points: number;
  runSeconds?: number;
  status?: 'SUCCEEDED' | 'FAILED';
  stageSeconds: Partial<Record<string, number>>;
  attempts: number;
  retries: Record<string, number>;
  completionLatency?: { count: number; meanSeconds: number; maxSeconds: number };
  promoted: boolean;
  championKept: boolean;
  errors: Record<string, number>;
}

/** What runs right now (a live local session, or a deployment's serving cluster). Never carries credentials. */
export interface LiveView {
  /** The Ray head's dashboard (jobs, logs, Serve). */
  dashboardUrl: string;
  /** Whether the dashboard answered just now. */
  dashboardAnswers: boolean;
  /** The process that keeps the session (local only). */
  pid?: number;
  startedAt?: string;
  /** Runs the session started (local only). */
  runs?: string[];
  mlflowUri?: string;
  /** Why live details are missing, when they are. */
  note?: string;
}

export interface LiveServing {
  endpoint: string;
  status?: ServeStatus;
  replicas?: ServeReplicas;
}

/** A stage's result as stored (result.json), with where and when it was written. */
export interface StoredStageResult {
  uri: string;
  result?: StageResult;
  writtenAt?: string;
  /** The file is there but does not read as a result. */
  problem?: string;
}

export interface RunHistoryPort {
  /** Where the records are, for messages ("the local home /x", "s3://bucket/prefix"). */
  readonly where: string;
  /**
   * Every run record, in no particular order, with the runs waiting for a run slot among them (RunRecord.waiting:
   * withWaitingRuns over the pipelines' run-slots.json).
   */
  listRuns(): Promise<RunRecord[]>;
  stageResults(pipeline: string, runId: string): Promise<Partial<Record<Stage, StoredStageResult>>>;
  champion(pipeline: string): Promise<ChampionRecord | undefined>;
  /** The deployed spec of a pipeline (for the gate's metric and the serve settings). */
  spec(pipeline: string): Promise<PipelineSpec | undefined>;
  controlPlane(pipeline: string, runId: string): Promise<ControlPlaneDigest | undefined>;
  /** Where the run's artifacts are (a folder or an s3:// prefix). */
  artifactsUri(pipeline: string, runId: string): string;
  /** The live session, or undefined when none runs (a stale one is not live). */
  live(): Promise<LiveView | undefined>;
  /** While live: the run's jobs as the compute backend reports them. */
  jobs?(pipeline: string, runId: string): Promise<JobStatus[]>;
  /** While live: what serves the pipeline. */
  serving?(pipeline: string): Promise<LiveServing | undefined>;
}

// ---------------------------------------------------------------------------------------------------------------
// The listing.

/**
 * RUNNING only while a live session runs it; a RUNNING record nothing runs any more is INTERRUPTED. QUEUED: waiting
 * for a run slot (spec maxConcurrentRuns), its PrepareRun still retrying.
 */
export type EffectiveStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'INTERRUPTED' | 'CANCELLED' | 'ABANDONED';
export type OutcomeKind = 'queued' | 'promoted' | 'kept' | 'failed' | 'running' | 'interrupted' | 'cancelled' | 'abandoned';

export interface RunOutcome {
  kind: OutcomeKind;
  reason: string;
  error?: string;
  /** The stage (or state) that failed. */
  stage?: string;
}

export interface RunRow {
  runId: string;
  pipeline: string;
  status: EffectiveStatus;
  trigger: RunRecord['trigger']['kind'];
  startedAt: string;
  endedAt?: string;
  durationSeconds?: number;
  outcome: RunOutcome;
  /** QUEUED: its place in the pipeline's queue. */
  waiting?: RunWaiting;
}

export const STATUS_FILTERS = ['queued', 'running', 'succeeded', 'failed', 'interrupted', 'cancelled', 'abandoned', 'promoted', 'kept'] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number];

export interface RunFilter {
  pipeline?: string;
  status?: StatusFilter;
  /** Epoch ms: runs started at or after. */
  since?: number;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "90s", "30m", "2h", "1d", "1w", "1h30m", or an ISO date/time; the epoch ms it means. Undefined when it is neither. */
export function parseSince(text: string, now: number): number | undefined {
  const t = text.trim();
  if (/^(\d+(\.\d+)?[smhdw])+$/.test(t)) {
    let seconds = 0;
    for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) seconds += Number(m[1]) * UNITS[m[2]!]!;
    return now - seconds * 1000;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

export function parseStatusFilter(text: string): StatusFilter | undefined {
  const s = text.trim().toLowerCase();
  return (STATUS_FILTERS as readonly string[]).includes(s) ? (s as StatusFilter) : undefined;
}

const stageOfState = (state: string | undefined): string | undefined => {
  if (!state) return undefined;
  return STAGES.find((s) => stateNameFor(s) === state) ?? state;
};

const firstLine = (s: string) => s.split('\n')[0] ?? '';

/** Is the run being run by the live session? */
export function isLive(record: RunRecord, live: LiveView | undefined): boolean {
  if (record.status !== 'RUNNING' || !live) return false;
  // A run the session started, or one that started while it was up (an upload or schedule it delivered).
  if (!live.runs && !live.startedAt) return true;
  return !!live.runs?.includes(record.runId) || (!!live.startedAt && Date.parse(record.startedAt) >= Date.parse(live.startedAt));
}

/** "position 2 of 2, behind r…; 1/1 slots held by r…": where a waiting run is. */
export function waitingText(w: RunWaiting): string {
  const behind = w.ahead.length ? `behind ${w.ahead.join(', ')}` : 'next';
  return `position ${w.position}, ${behind}; ${w.heldBy.length}/${w.maxConcurrentRuns} slot${w.maxConcurrentRuns === 1 ? '' : 's'} held by ${w.heldBy.join(', ') || 'nobody'}`;
}

export function outcomeOf(record: RunRecord, live: LiveView | undefined): RunOutcome {
  if (record.status === 'RUNNING' && record.waiting) return { kind: 'queued', reason: `waiting for a run slot: ${waitingText(record.waiting)}` };
  if (record.status === 'RUNNING') {
    return isLive(record, live)
      ? { kind: 'running', reason: 'running in the live session' }
      : { kind: 'interrupted', reason: 'recorded as running, but no live session runs it (the command was stopped before the run ended)' };
  }
  const o = record.outcome;
  if (record.status === 'CANCELLED' || record.status === 'ABANDONED') {
    const stage = o && 'error' in o ? stageOfState(o.stage) : undefined;
    return { kind: record.status === 'CANCELLED' ? 'cancelled' : 'abandoned', reason: record.ended?.reason ?? (o && 'error' in o ? firstLine(o.cause) : 'no reason recorded'), ...(stage ? { stage } : {}) };
  }
  if (record.status === 'SUCCEEDED' && o && 'promoted' in o) return { kind: o.promoted ? 'promoted' : 'kept', reason: o.reason };
  if (o && 'error' in o) {
    const stage = stageOfState(o.stage);
    return { kind: 'failed', reason: firstLine(o.cause), error: o.error, ...(stage ? { stage } : {}) };
  }
  return { kind: record.status === 'FAILED' ? 'failed' : 'kept', reason: 'no outcome recorded' };
}

export function rowOf(record: RunRecord, live: LiveView | undefined, now: number): RunRow {
  const outcome = outcomeOf(record, live);
  const status: EffectiveStatus =
    outcome.kind === 'queued' ? 'QUEUED' : outcome.kind === 'running' ? 'RUNNING' : outcome.kind === 'interrupted' ? 'INTERRUPTED' : record.status === 'RUNNING' ? 'SUCCEEDED' : record.status;
  const started = Date.parse(record.startedAt);
  const ended = record.endedAt ? Date.parse(record.endedAt) : status === 'RUNNING' || status === 'QUEUED' ? now : undefined;
  return {
    runId: record.runId,
    pipeline: record.pipeline,
    status,
    trigger: record.trigger?.kind,
    startedAt: record.startedAt,
    ...(record.endedAt ? { endedAt: record.endedAt } : {}),
    ...(ended !== undefined && Number.isFinite(started) ? { durationSeconds: Math.max(0, (ended - started) / 1000) } : {}),
    outcome,
    ...(status === 'QUEUED' && record.waiting ? { waiting: record.waiting } : {}),
  };
}

/**
 * The records with the runs waiting for a run slot marked (RunRecord.waiting), from each pipeline's run-slots.json.
 * A waiter has no run.json yet (PrepareRun writes it with the slot): its record is made from the queue entry, or,
 * when the listing already has one for it (a deployed execution with no run.json), that one is marked. A waiter
 * whose record has ended (an execution stopped while queued) is not marked; one that stopped retrying is not listed.
 */
export function withWaitingRuns(records: RunRecord[], slots: RunSlots[], now: Date): RunRecord[] {
  const out = [...records];
  const byId = new Map(records.map((r, i) => [`${r.pipeline}/${r.runId}`, i]));
  for (const s of slots) {
    for (const { waiter, waiting } of waitingRuns(s, now)) {
      const i = byId.get(`${s.pipeline}/${waiter.runId}`);
      if (i !== undefined) {
        if (out[i]!.status === 'RUNNING') out[i] = { ...out[i]!, waiting };
        continue;
      }
      out.push({
        pipeline: s.pipeline,
        runId: waiter.runId,
        status: 'RUNNING',
        trigger: waiter.trigger ?? { kind: 'manual', requestId: '?' },
        datasetUri: waiter.datasetUri ?? '',
        startedAt: waiter.enqueuedAt,
        waiting,
      });
    }
  }
  return out;
}

function matches(row: RunRow, f: RunFilter): boolean {
  if (f.pipeline && row.pipeline !== f.pipeline) return false;
  if (f.since !== undefined && !(Date.parse(row.startedAt) >= f.since)) return false;
  if (f.status) {
    if (f.status === 'promoted' || f.status === 'kept') return row.outcome.kind === f.status;
    return row.status === f.status.toUpperCase();
  }
  return true;
}

/** Newest first (by start time, then run id), filtered. */
export function listRuns(records: RunRecord[], filter: RunFilter, live: LiveView | undefined, now: number): RunRow[] {
  return records
    .map((r) => rowOf(r, live, now))
    .filter((r) => matches(r, filter))
    .sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.runId.localeCompare(a.runId));
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

export type RunLookup =
  | { found: RunRecord }
  | { ambiguous: string[] }
  | { missing: true; nearest: string[]; recent: string[] };

/** A run by its id or a unique prefix of it; else the nearest ids and the most recent ones. */
export function findRun(records: RunRecord[], id: string, max = 3): RunLookup {
  const exact = records.find((r) => r.runId === id);
  if (exact) return { found: exact };
  const prefixed = id.length >= 3 ? records.filter((r) => r.runId.startsWith(id)) : [];
  if (prefixed.length === 1) return { found: prefixed[0]! };
  if (prefixed.length > 1) return { ambiguous: prefixed.map((r) => r.runId).sort() };
  const ids = [...new Set(records.map((r) => r.runId))];
  const nearest = ids
    .map((x) => ({ x, d: distance(id, x) }))
    .filter(({ d }) => d <= Math.max(3, Math.floor(id.length / 2)))
    .sort((a, b) => a.d - b.d || a.x.localeCompare(b.x))
    .slice(0, max)
    .map(({ x }) => x);
  const recent = [...records]
    .sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt))
    .map((r) => r.runId)
    .filter((x) => !nearest.includes(x))
    .slice(0, max);
  return { missing: true, nearest, recent };
}

// ---------------------------------------------------------------------------------------------------------------
// One run's status.

/** INTERRUPTED: the stage the run was at when its session stopped; NOT_RUN: the run ended (or stopped) before it. */
export type StageState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'INTERRUPTED' | 'NOT_RUN';

export interface StageView {
  stage: Stage;
  state: StageState;
  /** The attempt that counts (the last one), and how many the backend saw. */
  attempt?: number;
  attempts?: number;
  jobId?: string;
  startedAt?: string;
  endedAt?: string;
  /** Seconds its Ray job ran. */
  seconds?: number;
  metrics: Record<string, number>;
  artifacts: Record<string, string>;
  resultUri?: string;
  error?: string;
  /** Extra facts from the stage's details (resumed from a checkpoint, the search resumed). */
  notes?: string[];
}

export interface GateView {
  decision: 'PROMOTE' | 'KEEP';
  reason: string;
  metric?: string;
  candidate?: number;
  champion?: number;
}

export interface ChampionView {
  runId: string;
  /** This run's model is the one serving. */
  isThisRun: boolean;
  modelUri: string;
  metric: string;
  value: number;
  promotedAt: string;
  registryVersion?: string;
  previousRunId?: string;
  /** How old the champion is against the spec's staleAfter (only when the spec sets one). */
  staleness?: Staleness;
}

export type TrackingView = { url: string; experimentId: string; parentRunId: string; liveUrl?: string } | { off: string };

export interface RunStatusView extends RunRow {
  datasetUri: string;
  requestedBy?: string;
  stages: StageView[];
  gate?: GateView;
  champion?: ChampionView;
  artifactsUri: string;
  controlPlane?: ControlPlaneDigest;
  tracking?: TrackingView;
  /** Present only while a session is live: the dashboard, what serves the pipeline. */
  live?: LiveView & { serving?: LiveServing };
}

const notesOf = (details: Record<string, unknown> | undefined): string[] => {
  const out: string[] = [];
  const resumed = Number(details?.resumedFromIteration ?? 0);
  if (resumed > 0) out.push(`resumed from iteration ${resumed}`);
  if (details?.resumed === true) out.push('resumed the search');
  if (typeof details?.reusedFrom === 'string') out.push(`reused from ${details.reusedFrom}`);
  return out;
};

const iso = (ms: number | undefined) => (ms && Number.isFinite(ms) ? new Date(ms).toISOString() : undefined);

function stageViews(record: RunRecord, results: Partial<Record<Stage, StoredStageResult>>, jobs: JobStatus[], outcome: RunOutcome): StageView[] {
  const failedStage = outcome.kind === 'failed' ? outcome.stage : undefined;
  const failedIdx = failedStage ? STAGES.indexOf(failedStage as Stage) : -1;
  let interruptedAt: Stage | undefined;
  return STAGES.map((stage, idx): StageView => {
    const summary = record.stages?.[stage];
    const stored = results[stage];
    const mine = jobs
      .map((j) => ({ j, id: parseJobName(j.jobId) }))
      .filter(({ id }) => id?.stage === stage && id.runId === record.runId)
      .sort((a, b) => a.id!.attempt - b.id!.attempt);
    const last = mine.at(-1);
    const base: StageView = { stage, state: 'PENDING', metrics: {}, artifacts: {} };
    if (mine.length) {
      base.attempts = mine.length;
      base.attempt = last!.id!.attempt;
      base.jobId = last!.j.jobId;
      const s = iso(last!.j.startTime);
      const e = iso(last!.j.endTime);
      if (s) base.startedAt = s;
      if (e) base.endedAt = e;
      if (last!.j.startTime && last!.j.endTime) base.seconds = (last!.j.endTime - last!.j.startTime) / 1000;
    }
    if (summary) {
      return {
        ...base,
        state: 'SUCCEEDED',
        attempt: summary.attempt,
        attempts: Math.max(base.attempts ?? 0, summary.attempt),
        jobId: summary.jobId,
        seconds: summary.jobSeconds,
        metrics: summary.metrics,
        artifacts: summary.artifacts,
        resultUri: summary.resultUri,
        ...(stored?.writtenAt && !base.endedAt ? { endedAt: stored.writtenAt } : {}),
        ...(notesOf(summary.details).length ? { notes: notesOf(summary.details) } : {}),
      };
    }
    if (stage === failedStage) {
      // The cause names the job that failed (<pipeline>-<run>-<stage>-<attempt>), hence its attempt.
      const named = /\b[a-z][a-z0-9-]*-r[0-9a-f]{9}-(?:ingest|train|tune|evaluate)-\d{1,2}\b/.exec(outcome.reason)?.[0];
      const id = named ? parseJobName(named) : undefined;
      const fromCause = id && id.stage === stage && !base.jobId ? { jobId: named!, attempt: id.attempt, attempts: id.attempt } : {};
      return { ...base, ...fromCause, state: 'FAILED', ...(outcome.error ? { error: `${outcome.error}: ${outcome.reason}` } : {}) };
    }
    if (stored?.result && !(failedIdx >= 0 && idx > failedIdx)) {
      // Written by its job; the record has not caught up (the run is still going, or it stopped before it did).
      return {
        ...base,
        state: last && last.j.state !== 'SUCCEEDED' ? (last.j.state === 'RUNNING' || last.j.state === 'PENDING' ? 'RUNNING' : 'FAILED') : 'SUCCEEDED',
        metrics: stored.result.metrics,
        artifacts: stored.result.artifacts,
        resultUri: stored.uri,
        ...(stored.writtenAt && !base.endedAt ? { endedAt: stored.writtenAt } : {}),
        ...(notesOf(stored.result.details).length ? { notes: notesOf(stored.result.details) } : {}),
      };
    }
    if (last) {
      const state: StageState = last.j.state === 'SUCCEEDED' ? 'SUCCEEDED' : last.j.state === 'RUNNING' ? 'RUNNING' : last.j.state === 'PENDING' ? 'PENDING' : 'FAILED';
      return { ...base, state, ...(state === 'FAILED' && last.j.message ? { error: firstLine(last.j.message) } : {}) };
    }
    // Nothing ran it: after a failure or an interruption it never will; an interrupted run stopped at the first.
    const stopped = outcome.kind === 'interrupted' || outcome.kind === 'cancelled' || outcome.kind === 'abandoned';
    if (stopped && !interruptedAt) {
      interruptedAt = stage;
      return { ...base, state: 'INTERRUPTED' };
    }
    if (record.status !== 'RUNNING' || stopped || failedStage) return { ...base, state: 'NOT_RUN' };
    return base;
  });
}

function gateView(record: RunRecord, stages: StageView[], spec: PipelineSpec | undefined): GateView | undefined {
  const o = record.outcome;
  if (!o || !('promoted' in o)) return undefined;
  const evaluate = stages.find((s) => s.stage === 'evaluate');
  const metric = spec?.gate.metric ?? Object.keys(evaluate?.metrics ?? {}).find((k) => k.startsWith('candidate_'))?.slice('candidate_'.length);
  const candidate = metric !== undefined ? evaluate?.metrics[`candidate_${metric}`] : undefined;
  const champion = metric !== undefined ? evaluate?.metrics[`champion_${metric}`] : undefined;
  return {
    decision: o.promoted ? 'PROMOTE' : 'KEEP',
    reason: o.reason,
    ...(metric ? { metric } : {}),
    ...(candidate !== undefined ? { candidate } : {}),
    ...(champion !== undefined ? { champion } : {}),
  };
}

function championView(record: RunRecord, champion: ChampionRecord | undefined, staleAfter: string | undefined, now: number): ChampionView | undefined {
  if (!champion) return undefined;
  const c = champion.current;
  let staleness: Staleness | undefined;
  try {
    staleness = staleAfter ? stalenessOf(c, staleAfter, new Date(now)) : undefined;
  } catch {
    staleness = undefined; // a champion record without a readable promotedAt: shown without its age
  }
  return {
    runId: c.runId,
    isThisRun: c.runId === record.runId,
    modelUri: c.modelUri,
    metric: c.metric,
    value: c.value,
    promotedAt: c.promotedAt,
    ...(c.registry?.version ? { registryVersion: c.registry.version } : {}),
    ...(champion.previous ? { previousRunId: champion.previous.runId } : {}),
    ...(staleness ? { staleness } : {}),
  };
}

function trackingView(t: RunTracking | undefined, live: LiveView | undefined): TrackingView | undefined {
  if (!t) return undefined;
  if ('off' in t) return { off: t.off };
  // The MLflow server that tracked a local run stops with its session; a live session's server has the same store.
  const liveUrl = live?.mlflowUri && live.mlflowUri !== t.uri ? runUrl(live.mlflowUri, t.experimentId, t.parentRunId) : undefined;
  return { url: t.url, experimentId: t.experimentId, parentRunId: t.parentRunId, ...(liveUrl ? { liveUrl } : {}) };
}

/** Everything `sentinel status` shows of one run, from what the run recorded and, while a session is live, from it. */
export async function runStatus(port: RunHistoryPort, record: RunRecord, now: number): Promise<RunStatusView> {
  const live = await port.live();
  const [results, champion, spec, controlPlane, jobs, serving] = await Promise.all([
    port.stageResults(record.pipeline, record.runId),
    port.champion(record.pipeline),
    port.spec(record.pipeline).catch(() => undefined),
    port.controlPlane(record.pipeline, record.runId),
    live?.dashboardAnswers && port.jobs ? port.jobs(record.pipeline, record.runId).catch(() => []) : Promise.resolve([]),
    live?.dashboardAnswers && port.serving ? port.serving(record.pipeline).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  const row = rowOf(record, live, now);
  const stages = stageViews(record, results, jobs, row.outcome);
  const gate = gateView(record, stages, spec);
  const championV = championView(record, champion, spec?.staleAfter, now);
  const tracking = trackingView(record.tracking, live);
  const trigger = record.trigger as { requestId?: string; key?: string; schedule?: string } | undefined;
  const requestedBy = trigger?.requestId ?? trigger?.key ?? trigger?.schedule;
  return {
    ...row,
    datasetUri: record.datasetUri,
    ...(requestedBy ? { requestedBy } : {}),
    stages,
    ...(gate ? { gate } : {}),
    ...(championV ? { champion: championV } : {}),
    artifactsUri: port.artifactsUri(record.pipeline, record.runId),
    ...(controlPlane && controlPlane.points > 0 ? { controlPlane } : {}),
    ...(tracking ? { tracking } : {}),
    ...(live ? { live: { ...live, ...(serving ? { serving } : {}) } } : {}),
  };
}
