// After the evaluate job: compare the candidate with the serving champion on the same held-out split and decide.
import type { ObjectStore, TrackingPort } from './ports.js';
import type { ChampionRecord, RunContext, StageSummaries } from './model.js';
import { decide, pickCandidate, type GateDecision } from './gate.js';
import { championUri, joinUri, runUri } from './artifacts.js';
import { validationFailed } from './errors.js';
import { notePipelineRun, readChampion, type ChampionView } from './tracking.js';

export interface GateResult extends GateDecision {
  candidateModelUri: string;
  candidateSource: 'train' | 'tune';
  championRunId?: string;
  /** Where the champion was read: the model registry (tracking on) or champion.json; its registry version. */
  championSource?: ChampionView['source'];
  championVersion?: string;
  /** Anything worth knowing about how the champion was read (the registry was unreachable, or set from champion.json). */
  championNote?: string;
}

/**
 * What the gate compared against, left in the run's folder for promote (core/promote.ts) to re-check at promote time:
 * the champion read here (null: none). The state machine's input stays as it is.
 */
export interface GateNote {
  championRunId: string | null;
  decidedAt?: string;
}
export const gateNoteUri = (root: string, pipeline: string, runId: string) => joinUri(runUri(root, pipeline, runId), 'gate.json');

export interface GateDeps {
  store: ObjectStore;
  /** The model registry: the gate reads the champion there (champion.json when absent). */
  tracking?: TrackingPort;
}

export async function evaluateGate(req: { run: RunContext; stages: StageSummaries }, deps: GateDeps): Promise<GateResult> {
  const { run, stages } = req;
  const { gate } = run.spec;
  const evaluated = stages.evaluate;
  if (!evaluated || !stages.train || !stages.tune) throw validationFailed('train, tune and evaluate must have completed', 'stages');
  const candidate = pickCandidate(gate, stages.train, stages.tune);
  const candidateValue = evaluated.metrics[`candidate_${gate.metric}`];
  if (candidateValue === undefined) throw validationFailed(`no candidate_${gate.metric} in evaluate metrics`, 'stages.evaluate.metrics');

  const record = await deps.store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline));
  const champion = await readChampion(record, deps.tracking, run.pipeline);
  // The evaluate job scores the champion it was given (champion.json's) on this run's test split; when that is the
  // champion read here, its fresh score counts, else the value recorded when it was promoted.
  const scored = (stages.evaluate?.details as { champion?: { runId?: string } } | undefined)?.champion?.runId;
  const fresh = evaluated.metrics[`champion_${gate.metric}`];
  const championValue = champion ? (fresh !== undefined && (scored === undefined || scored === champion.runId) ? fresh : champion.value) : undefined;
  const decision = decide(gate, candidateValue, championValue);
  await deps.store.putJson(gateNoteUri(run.artifactRoot, run.pipeline, run.runId), { championRunId: record?.current.runId ?? null } satisfies GateNote);
  if (deps.tracking) {
    // Best effort: the decision on the pipeline run (finish-run ends it).
    const tags = { 'sentinel.gate': decision.promote ? 'PROMOTE' : 'KEEP', 'sentinel.gate.reason': decision.reason };
    await notePipelineRun(deps.tracking, run, tags).catch(() => undefined);
  }
  return {
    ...decision,
    candidateModelUri: candidate.modelUri,
    candidateSource: candidate.source,
    ...(champion
      ? {
          championRunId: champion.runId,
          championSource: champion.source,
          ...(champion.version ? { championVersion: champion.version } : {}),
          ...(champion.note ? { championNote: champion.note } : {}),
        }
      : {}),
  };
}
