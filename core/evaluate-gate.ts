// After the evaluate job: compare the candidate with the serving champion on the same held-out split and decide.
import type { ObjectStore } from './ports.js';
import type { ChampionRecord, RunContext, StageSummaries } from './model.js';
import { decide, pickCandidate, type GateDecision } from './gate.js';
import { championUri } from './artifacts.js';
import { validationFailed } from './errors.js';

export interface GateResult extends GateDecision {
  candidateModelUri: string;
  candidateSource: 'train' | 'tune';
  championRunId?: string;
}

export async function evaluateGate(req: { run: RunContext; stages: StageSummaries }, deps: { store: ObjectStore }): Promise<GateResult> {
  const { run, stages } = req;
  const { gate } = run.spec;
  const evaluated = stages.evaluate;
  if (!evaluated || !stages.train || !stages.tune) throw validationFailed('train, tune and evaluate must have completed', 'stages');
  const candidate = pickCandidate(gate, stages.train, stages.tune);
  const candidateValue = evaluated.metrics[`candidate_${gate.metric}`];
  if (candidateValue === undefined) throw validationFailed(`no candidate_${gate.metric} in evaluate metrics`, 'stages.evaluate.metrics');

  const champion = await deps.store.getJson<ChampionRecord>(championUri(run.artifactRoot, run.pipeline));
  // The evaluate job scores the champion on this run's test split; fall back to its recorded value if it could not.
  const championValue = champion ? (evaluated.metrics[`champion_${gate.metric}`] ?? champion.current.value) : undefined;
  const decision = decide(gate, candidateValue, championValue);
  return {
    ...decision,
    candidateModelUri: candidate.modelUri,
    candidateSource: candidate.source,
    ...(champion ? { championRunId: champion.current.runId } : {}),
  };
}
