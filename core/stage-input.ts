// What each stage's job receives (docs/stage-contract.md): built from the spec and earlier stages' summaries, and
// parsed through the contract's schemas (core/contract.ts), so a job never gets an input its Python side would
// refuse, and every default in it is the contract's.
import type { RunContext, StageSummaries, ChampionRecord } from './model.js';
import type { Stage } from './stages.js';
import { runUri, stageUri } from './artifacts.js';
import { pickCandidate } from './gate.js';
import { validationFailed } from './errors.js';
import { formatIssues } from './validation.js';
import { StageInputSchemas, type StageInputOf } from './contract.js';
import { isTracked, lineageTags } from './tracking.js';

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

/** The params of one stage, before the contract's schema fills defaults and checks them. */
function paramsFor(run: RunContext, stage: Stage, stages: StageSummaries, champion?: ChampionRecord): Record<string, unknown> {
  const { spec } = run;
  const { task } = spec;
  const target = spec.dataset.target;
  const { metric, mode } = spec.gate;
  const seed = spec.dataset.split.seed;
  const model = { module: spec.model.module, params: spec.model.params };
  // The ingest stage's folder; a resumed run that reuses an earlier run's ingest reads that run's (core/resume.ts).
  const reusedIngest = run.resume?.reuse.ingest;
  const dataUri = () => {
    const ingest = need(stages.ingest, 'stages.ingest');
    return reusedIngest?.endsWith('/result.json') ? reusedIngest.slice(0, -'/result.json'.length) : stageUri(run.artifactRoot, run.pipeline, run.runId, ingest.stage);
  };
  const resources = (s: 'train' | 'tune') => ({ cpu: spec.stages[s].resources.cpu, gpu: spec.stages[s].resources.gpu });
  switch (stage) {
    case 'ingest':
      return { datasetUri: run.datasetUri, target, task, split: spec.dataset.split, minRows: spec.stages.ingest.minRows };
    case 'train': {
      const t = spec.stages.train;
      return {
        dataUri: dataUri(), target, task, metric, mode, model,
        iterations: t.iterations, checkpointEvery: t.checkpointEvery, numWorkers: t.numWorkers, resources: resources('train'), seed,
      };
    }
    case 'tune': {
      const t = spec.stages.tune;
      return {
        dataUri: dataUri(), target, task, metric, mode, model,
        searchSpace: t.searchSpace, numSamples: t.numSamples, maxConcurrent: t.maxConcurrent,
        maxIterations: t.maxIterations, gracePeriod: t.gracePeriod, reductionFactor: t.reductionFactor, resources: resources('tune'), seed,
      };
    }
    case 'evaluate': {
      const candidate = pickCandidate(spec.gate, need(stages.train, 'stages.train'), need(stages.tune, 'stages.tune'));
      return {
        dataUri: dataUri(), target, task, metric,
        candidate: { modelUri: candidate.modelUri, source: candidate.source },
        champion: champion ? { modelUri: champion.current.modelUri, runId: champion.current.runId } : null,
      };
    }
  }
}

export function buildStageInput<S extends Stage>(run: RunContext, stage: S, stages: StageSummaries = {}, champion?: ChampionRecord): StageInputOf<S> & StageInput {
  const raw = {
    pipeline: run.pipeline,
    runId: run.runId,
    stage,
    stageUri: stageUri(run.artifactRoot, run.pipeline, run.runId, stage),
    runUri: runUri(run.artifactRoot, run.pipeline, run.runId),
    params: paramsFor(run, stage, stages, champion),
    // The stage nests its MLflow run under the pipeline run's (absent: tracking off, the stage imports no client).
    ...(isTracked(run.tracking)
      ? { tracking: { uri: run.tracking.uri, experimentId: run.tracking.experimentId, parentRunId: run.tracking.parentRunId, tags: lineageTags(run) } }
      : {}),
  };
  const parsed = StageInputSchemas[stage].safeParse(raw);
  if (!parsed.success) throw validationFailed(formatIssues(parsed.error.issues, `${stage} input`));
  return parsed.data as StageInputOf<S> & StageInput;
}
