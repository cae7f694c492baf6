// The run's data as it flows through the state machine. Kept small: Step Functions passes at most 256 KB between
// states, so large things (datasets, models, trial histories) stay in the object store and only URIs travel.
import type { PipelineSpec } from './spec.js';
import type { Trigger } from './run-id.js';
import type { Stage } from './stages.js';

export interface RunContext {
  pipeline: string;
  runId: string;
  trigger: Trigger;
  /** s3://bucket/prefix or an absolute local folder. */
  artifactRoot: string;
  /** The dataset this run ingests (the spec's, or the uploaded object that triggered the run). */
  datasetUri: string;
  /** The dataset's version tag when the run was prepared (S3 ETag; locally size-mtime). */
  datasetEtag?: string;
  spec: PipelineSpec;
  requestedAt: string;
  /** Set when the run is prepared: its MLflow run (core/tracking.ts), or why it is not tracked. */
  tracking?: RunTracking;
  /** A resumed run (core/resume.ts): the stages it reuses and the checkpoints it continues from, as data. */
  resume?: ResumeInput;
}

/**
 * What `sentinel resume` adds to a new run's input: submit-stage skips each stage in `reuse` (its summary is read
 * from that result.json) and copies `checkpoints[stage]` (the earlier run's stage folder) before the first attempt.
 */
export interface ResumeInput {
  from: string;
  attempt: number;
  reuse: Partial<Record<Stage, string>>;
  checkpoints: Partial<Record<Stage, string>>;
}

/** A run's experiment tracking: the pipeline run's MLflow run, or a note saying why there is none. */
export type RunTracking = { uri: string; experimentId: string; parentRunId: string; url: string } | { off: string };

/** What a finished stage hands to the next states (the SendTaskSuccess output). */
export interface StageSummary {
  stage: Stage;
  jobId: string;
  attempt: number;
  resultUri: string;
  metrics: Record<string, number>;
  artifacts: Record<string, string>;
  details?: Record<string, unknown>;
  /** Seconds the Ray job ran (from its own start/end times), for cost and overhead accounting. */
  jobSeconds: number;
}

export type StageSummaries = Partial<Record<Stage, StageSummary>>;

/** The state machine's input. Stages fill `stages`; the gate fills `gate`. */
export interface RunState {
  run: RunContext;
  stages?: StageSummaries;
}

/** What a job writes to <stageUri>/result.json (docs/stage-contract.md; the schema is in contract.ts). */
export type { StageResult } from './contract.js';

export interface Champion {
  runId: string;
  modelUri: string;
  metric: string;
  /** The champion's test metric when it was promoted. */
  value: number;
  promotedAt: string;
  serveConfig: unknown;
  /** The dataset the champion was trained on (a scheduled retrain skips when it is unchanged). */
  dataset?: { uri: string; etag: string };
  /** Its version in the model registry (MLflow), when tracking is on; the alias `champion` points at it. */
  registry?: { model: string; version: string };
}

export interface ChampionRecord {
  pipeline: string;
  current: Champion;
  /** Kept for rollback. */
  previous?: Champion;
  /** Rollbacks, oldest first: when, by whom, why, from which run to which (`sentinel rollback`). */
  history?: ChampionChange[];
}

export interface ChampionChange {
  action: 'rollback';
  at: string;
  by: string;
  reason: string;
  from: string;
  to: string;
  /**
   * live: a running session's Serve switched; recorded: champion.json only, the next session serves it; deployed: a
   * deployed stack's RayService switched (`sentinel rollback --backend aws`).
   */
  where: 'live' | 'recorded' | 'deployed';
}

/** CANCELLED: stopped on request (cancel, Ctrl-C); ABANDONED: its CLI died and a later command found it. */
export type RunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'ABANDONED';

export interface RunRecord {
  pipeline: string;
  runId: string;
  status: RunStatus;
  trigger: Trigger;
  datasetUri: string;
  startedAt: string;
  endedAt?: string;
  /** For SUCCEEDED: promoted or not, and why. For FAILED: the error name and cause. */
  outcome?: { promoted: boolean; reason: string } | { error: string; cause: string; stage?: string };
  stages?: StageSummaries;
  /** The run's MLflow run, or why it has none (tracking off). */
  tracking?: RunTracking;
  /** CANCELLED / ABANDONED: who or what ended it, when, and why. */
  ended?: { by: string; at: string; reason: string };
  /** A resumed run: the run it continues and the stages it reused. */
  resumeOf?: { runId: string; attempt: number; reused: Stage[] };
  /** A run that waited for a run slot (spec maxConcurrentRuns): since when, how long, behind which runs. */
  queued?: { enqueuedAt: string; takenAt: string; waitedMs: number; behindAtEnqueue: string[] };
  /**
   * Never in run.json: set by a listing (core/run-history.ts withWaitingRuns) while the run waits for a run slot. Such
   * a run has no run.json yet (PrepareRun writes it once the slot is taken), or only the placeholder a deployed
   * listing makes from its execution.
   */
  waiting?: RunWaiting;
}

/** A run waiting for a slot, as `runs` and `status` show it (never written to run.json). */
export interface RunWaiting {
  /** 1-based, among the pipeline's live waiters (priority, then enqueue time). */
  position: number;
  /** The waiters ahead of it. */
  ahead: string[];
  /** The runs holding the pipeline's slots, as recorded. */
  heldBy: string[];
  maxConcurrentRuns: number;
  priority: number;
  enqueuedAt: string;
  /** When its PrepareRun last retried (a waiter not seen for WAITER_STALE_MS has stopped and is not shown). */
  lastSeen: string;
}

