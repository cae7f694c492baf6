// What each stage's job receives (docs/stage-contract.md): built from the spec and earlier stages' summaries.
import type { RunContext, StageSummaries, ChampionRecord } from './model.js';
import type { Stage } from './stages.js';
import { runUri, stageUri } from './artifacts.js';
import { pickCandidate } from './gate.js';
import { validationFailed } from './errors.js';

/** The environment variable that carries a stage's input to its job, as data (docs/stage-contract.md). */
export const STAGE_INPUT_ENV = 'SENTINEL_STAGE_INPUT';

export interface StageInput {
  pipeline: string;
  runId: string;
  stage: Stage;
  stageUri: string;
  runUri: string;
  params: Record<string, unknown>;
}

function need<T>(value: T | undefined, where: string): T {
  if (value === undefined) throw validationFailed('missing: the stage before it has not completed', where);
  return value;
}

export function buildStageInput(run: RunContext, stage: Stage, stages: StageSummaries = {}, champion?: ChampionRecord): StageInput {
  const { spec } = run;
  const base = {
    pipeline: run.pipeline,
    runId: run.runId,
    stage,
    stageUri: stageUri(run.artifactRoot, run.pipeline, run.runId, stage),
    runUri: runUri(run.artifactRoot, run.pipeline, run.runId),
  };
  const target = spec.dataset.target;
  const metric = spec.gate.metric;
  const mode = spec.gate.mode;
  const dataUri = () => stageUri(run.artifactRoot, run.pipeline, run.runId, need(stages.ingest, 'stages.ingest').stage);
  switch (stage) {
    case 'ingest':
      return { ...base, params: { datasetUri: run.datasetUri, target, split: spec.dataset.split } };
    case 'train': {
      const t = spec.stages.train;
      return {
        ...base,
        params: { dataUri: dataUri(), target, metric, mode, numBoostRound: t.numBoostRound, params: t.params, numWorkers: t.numWorkers, checkpointEvery: t.checkpointEvery },
      };
    }
    case 'tune': {
      const t = spec.stages.tune;
      return {
        ...base,
        params: {
          dataUri: dataUri(), target, metric, mode, searchSpace: t.searchSpace, numSamples: t.numSamples, maxConcurrent: t.maxConcurrent,
          maxBoostRound: t.maxBoostRound, gracePeriod: t.gracePeriod, reductionFactor: t.reductionFactor,
        },
      };
    }
    case 'evaluate': {
      const candidate = pickCandidate(spec.gate, need(stages.train, 'stages.train'), need(stages.tune, 'stages.tune'));
      return {
        ...base,
        params: {
          dataUri: dataUri(), target, metric,
          candidate: { modelUri: candidate.modelUri, source: candidate.source },
          champion: champion ? { modelUri: champion.current.modelUri, runId: champion.current.runId } : null,
        },
      };
    }
  }
}
