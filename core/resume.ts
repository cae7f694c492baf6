// `sentinel resume RUN`: a new run that reuses the finished stages' results and continues the stage that stopped
// from its checkpoint. The plan is data in the new run's input (RunContext.resume), honoured by submit-stage, so the
// state machine is the same one every run uses. The new run id is derived from the old one and the attempt, so
// repeating the command finds the run it started instead of starting another.
import type { ResumeInput, RunRecord } from './model.js';
import { runIdFor } from './run-id.js';
import { STAGES, type Stage } from './stages.js';

/** Stages whose job keeps checkpoints under its stage folder (train: Ray Train's run state; tune: the Tuner's). */
export const CHECKPOINTED_STAGES: readonly Stage[] = ['train', 'tune'];
const MAX_RESUMES = 100;

export const resumeRequestId = (from: string, attempt: number) => `resume:${from}:${attempt}`;

export type ResumePlan =
  | { kind: 'start'; runId: string; requestId: string; resume: ResumeInput; reused: Stage[]; continueAt?: Stage }
  /** Already resumed by this attempt (running or succeeded): nothing new starts. */
  | { kind: 'existing'; runId: string; record: RunRecord }
  | { kind: 'refused'; reason: string; error: 'StillRunning' | 'NothingToResume' | 'TooManyResumes' };

export interface ResumeSource {
  record: RunRecord;
  /** result.json per stage, when it is there and reads as that stage's result. */
  results: Partial<Record<Stage, { uri: string; ok: boolean }>>;
  /** The source run's folder of a stage (its checkpoints are under it). */
  stageUri: (stage: Stage) => string;
}

export function planResume(src: ResumeSource, lookup: (runId: string) => RunRecord | undefined): ResumePlan {
  const { record } = src;
  if (record.status === 'RUNNING') {
    return { kind: 'refused', error: 'StillRunning', reason: `run ${record.runId} is still running; stop it first (\`sentinel cancel ${record.runId}\`), then resume it` };
  }
  if (record.status === 'SUCCEEDED') {
    return { kind: 'refused', error: 'NothingToResume', reason: `run ${record.runId} succeeded; there is nothing to resume (\`sentinel run\` starts a new one)` };
  }
  // Finished stages, in order: a stage after one that did not finish ran on inputs that are not reused.
  const reused: Stage[] = [];
  for (const stage of STAGES) {
    if (!src.results[stage]?.ok) break;
    reused.push(stage);
  }
  const continueAt = STAGES.find((s) => !reused.includes(s));
  const resume: Omit<ResumeInput, 'attempt'> = {
    from: record.runId,
    reuse: Object.fromEntries(reused.map((s) => [s, src.results[s]!.uri])),
    checkpoints: continueAt && CHECKPOINTED_STAGES.includes(continueAt) ? { [continueAt]: src.stageUri(continueAt) } : {},
  };
  for (let attempt = 1; attempt <= MAX_RESUMES; attempt++) {
    const requestId = resumeRequestId(record.runId, attempt);
    const runId = runIdFor(record.pipeline, { kind: 'manual', requestId });
    const existing = lookup(runId);
    if (!existing) return { kind: 'start', runId, requestId, resume: { ...resume, attempt }, reused, ...(continueAt ? { continueAt } : {}) };
    // The same command again: the resume it started is running or done.
    if (existing.status === 'RUNNING' || existing.status === 'SUCCEEDED') return { kind: 'existing', runId, record: existing };
    // That resume ended without succeeding: the next attempt starts a new one.
  }
  return { kind: 'refused', error: 'TooManyResumes', reason: `run ${record.runId} was resumed ${MAX_RESUMES} times; resume the latest of them instead` };
}
