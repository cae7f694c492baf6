// Experiment tracking and the model registry, as the control plane sees them (docs/stage-contract.md, "Experiment
// tracking"). One MLflow run per pipeline run, in the experiment named after the pipeline, opened when the run is
// prepared; the stages nest their own runs under it through the SDK. The registry is the champion's home: each
// promoted model is a version of the registered model named after the pipeline, and the alias `champion` points at
// the version champion.json serves. champion.json stays the record serving and the state machine use; every write of
// it is followed by the matching alias move, and a reader that finds the two apart sets the alias from champion.json.
import type { ModelVersionInfo, TrackingPort } from './ports.js';
import type { Champion, ChampionRecord, RunContext, RunTracking } from './model.js';
import { executionNameFor } from './run-id.js';

export const CHAMPION_ALIAS = 'champion';
/** The registered model of a pipeline has the pipeline's name, as its experiment does. */
export const registeredModelFor = (pipeline: string) => pipeline;
export const experimentFor = (pipeline: string) => pipeline;

/** The note a run carries when no tracking server is configured (not an error). */
export const TRACKING_OFF_NOTE = 'tracking off: no MLflow tracking URI is configured (infra/config.ts trackingUri; locally `sentinel run` starts a server, --tracking-uri URL names one)';

export const isTracked = (t: RunTracking | undefined): t is Extract<RunTracking, { parentRunId: string }> => !!t && 'parentRunId' in t;

export const runUrl = (uri: string, experimentId: string, runId: string) => `${uri.replace(/\/+$/, '')}/#/experiments/${experimentId}/runs/${runId}`;
export const modelUrl = (uri: string, model: string, version?: string) =>
  `${uri.replace(/\/+$/, '')}/#/models/${encodeURIComponent(model)}${version ? `/versions/${version}` : ''}`;

/** Lineage tags on the pipeline run and, through the stage input, on every stage's run. */
export function lineageTags(run: RunContext): Record<string, string> {
  return {
    'sentinel.pipeline': run.pipeline,
    'sentinel.runId': run.runId,
    'sentinel.executionName': executionNameFor(run.pipeline, run.runId),
    'sentinel.image': run.spec.image,
    'sentinel.datasetUri': run.datasetUri,
    'sentinel.trigger': run.trigger.kind,
  };
}

const q = (v: string) => `'${v.replace(/'/g, "\\'")}'`;

/** Flattens the spec's parts a data scientist compares runs by into MLflow params (`model.params.max_depth`). */
export function specParams(run: RunContext): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (prefix: string, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
      for (const [k, v] of Object.entries(value)) put(prefix ? `${prefix}.${k}` : k, v);
    } else out[prefix] = typeof value === 'string' ? value : JSON.stringify(value);
  };
  const { spec } = run;
  put('task', spec.task);
  put('model', spec.model);
  put('dataset.target', spec.dataset.target);
  put('dataset.split', spec.dataset.split);
  put('train.iterations', spec.stages.train.iterations);
  put('train.numWorkers', spec.stages.train.numWorkers);
  put('tune.numSamples', spec.stages.tune.numSamples);
  put('tune.maxIterations', spec.stages.tune.maxIterations);
  put('tune.searchSpace', spec.stages.tune.searchSpace);
  put('gate', spec.gate);
  return out;
}

/**
 * The pipeline run's MLflow run: found again by its Sentinel run id (a redelivered PrepareRun opens nothing new),
 * else created with the lineage tags and the spec as params.
 */
export async function openPipelineRun(tracking: TrackingPort, run: RunContext): Promise<Extract<RunTracking, { parentRunId: string }>> {
  const experimentId = await tracking.experimentId(experimentFor(run.pipeline));
  const found = await tracking.findRuns(experimentId, `tags.\`sentinel.kind\` = 'pipeline-run' and tags.\`sentinel.runId\` = ${q(run.runId)}`, 1);
  let parentRunId = found[0]?.runId;
  if (!parentRunId) {
    parentRunId = await tracking.createRun(experimentId, run.runId, {
      ...lineageTags(run),
      'sentinel.kind': 'pipeline-run',
      ...(run.datasetEtag ? { 'sentinel.datasetEtag': run.datasetEtag } : {}),
      'mlflow.source.type': 'JOB',
      'mlflow.source.name': `sentinel ${executionNameFor(run.pipeline, run.runId)}`,
      'mlflow.note.content': `Sentinel run ${run.runId} of pipeline ${run.pipeline} (${run.trigger.kind} trigger): ingest → train → tune → evaluate → gate; the stages are the nested runs.`,
    });
    await tracking.log(parentRunId, { params: specParams(run) });
  }
  return { uri: tracking.uri, experimentId, parentRunId, url: runUrl(tracking.uri, experimentId, parentRunId) };
}

/** Tags (and optionally ends) the pipeline run; best effort, for the gate's and promotion's outcome. */
export async function notePipelineRun(tracking: TrackingPort, run: RunContext, tags: Record<string, string>, end?: 'FINISHED' | 'FAILED') {
  if (!isTracked(run.tracking)) return;
  await tracking.log(run.tracking.parentRunId, { tags });
  if (end) await tracking.endRun(run.tracking.parentRunId, end);
}

export interface RegistryChampion {
  model: string;
  version: string;
  runId: string;
  modelUri: string;
  metric?: string;
  value?: number;
}

function championFromVersion(v: ModelVersionInfo): RegistryChampion | undefined {
  const runId = v.tags['sentinel.runId'];
  const modelUri = v.tags['sentinel.modelUri'];
  if (!runId || !modelUri) return undefined;
  const value = Number(v.tags['sentinel.value']);
  return {
    model: v.model,
    version: v.version,
    runId,
    modelUri,
    ...(v.tags['sentinel.metric'] ? { metric: v.tags['sentinel.metric'] } : {}),
    ...(Number.isFinite(value) ? { value } : {}),
  };
}

/** The version the `champion` alias points at, read as a champion (undefined: no model or no alias yet). */
export async function registryChampion(tracking: TrackingPort, pipeline: string): Promise<RegistryChampion | undefined> {
  const v = await tracking.byAlias(registeredModelFor(pipeline), CHAMPION_ALIAS);
  return v ? championFromVersion(v) : undefined;
}

/**
 * Makes `champion` in the registry the given champion: its version (one per Sentinel run, found again by tag, or
 * registered now from the MLflow run that logged the model folder, `runs:/<run>/model`; a model trained with
 * tracking off is registered from its pipeline run, opened for it), then the alias. Idempotent.
 */
export async function registerChampion(tracking: TrackingPort, pipeline: string, champion: Champion): Promise<{ model: string; version: string }> {
  const model = registeredModelFor(pipeline);
  await tracking.ensureModel(model, `Champions of the Sentinel pipeline ${pipeline}: one version per promoted run; the alias "${CHAMPION_ALIAS}" is the one serving (champion.json).`);
  const existing = (await tracking.versions(model)).find((v) => v.tags['sentinel.runId'] === champion.runId);
  let version = existing?.version;
  if (!version) {
    const experimentId = await tracking.experimentId(experimentFor(pipeline));
    const producer = (await tracking.findRuns(experimentId, `tags.\`sentinel.modelUri\` = ${q(champion.modelUri)}`, 1))[0];
    let runId = producer?.runId;
    if (!runId) {
      const parent = (await tracking.findRuns(experimentId, `tags.\`sentinel.kind\` = 'pipeline-run' and tags.\`sentinel.runId\` = ${q(champion.runId)}`, 1))[0];
      runId =
        parent?.runId ??
        (await tracking.createRun(experimentId, champion.runId, {
          'sentinel.kind': 'pipeline-run',
          'sentinel.runId': champion.runId,
          'sentinel.pipeline': pipeline,
          'mlflow.note.content': `Opened when run ${champion.runId} was registered: it was trained with tracking off.`,
        }));
    }
    const created = await tracking.createVersion({
      model,
      source: `runs:/${runId}/model`,
      runId,
      tags: {
        'sentinel.runId': champion.runId,
        'sentinel.modelUri': champion.modelUri,
        'sentinel.metric': champion.metric,
        'sentinel.value': String(champion.value),
        'sentinel.promotedAt': champion.promotedAt,
      },
      description: `Run ${champion.runId}: test ${champion.metric} ${champion.value}; model folder ${champion.modelUri}`,
    });
    version = created.version;
  }
  await tracking.setAlias(model, CHAMPION_ALIAS, version);
  return { model, version };
}

export interface ChampionView {
  runId: string;
  modelUri: string;
  value: number;
  /** Where the gate read it: the registry's alias, or champion.json (tracking off, or the registry unreachable). */
  source: 'registry' | 'champion.json';
  version?: string;
  note?: string;
}

/**
 * The champion the gate compares against: the registry's `champion` when tracking is on, champion.json otherwise.
 * The two are kept equal; should a reader find them apart (the registry was unreachable at a promotion), champion.json
 * (what serves) wins and the alias is set from it.
 */
export async function readChampion(record: ChampionRecord | undefined, tracking: TrackingPort | undefined, pipeline: string): Promise<ChampionView | undefined> {
  const fromRecord = (note?: string): ChampionView | undefined =>
    record ? { runId: record.current.runId, modelUri: record.current.modelUri, value: record.current.value, source: 'champion.json', ...(note ? { note } : {}) } : undefined;
  if (!tracking) return fromRecord();
  let registered: RegistryChampion | undefined;
  try {
    registered = await registryChampion(tracking, pipeline);
    if (record && registered?.runId !== record.current.runId) {
      const fixed = await registerChampion(tracking, pipeline, record.current);
      return { ...fromRecord()!, source: 'registry', version: fixed.version, note: `the registry's champion was ${registered ? `run ${registered.runId}` : 'unset'}; set from champion.json` };
    }
  } catch (e) {
    return fromRecord(`registry unreachable (${(e as Error).message}); read champion.json`);
  }
  if (!registered) return undefined;
  return { runId: registered.runId, modelUri: registered.modelUri, value: registered.value ?? record?.current.value ?? Number.NaN, source: 'registry', version: registered.version };
}
