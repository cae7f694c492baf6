// Triggers → one decision each: start a run (with a trigger identity that fixes the run id), or ignore with a
// stated reason. S3 uploads under datasets/<pipeline>/, schedules ("retrain on the latest dataset, unless nothing
// changed since the champion was trained"), and requests by hand all end in core/start-run.ts.
import type { ChampionRecord } from './model.js';
import type { ObjectStore } from './ports.js';
import type { Trigger } from './run-id.js';
import { championUri, joinUri } from './artifacts.js';

export type TriggerDecision =
  | { action: 'start'; pipeline: string; datasetUri: string; trigger: Trigger }
  | { action: 'ignore'; reason: string };

export const DATASETS_PREFIX = 'datasets/';
const PIPELINE = /^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$/;

export interface S3ObjectCreated {
  bucket: string;
  key: string;
  size?: number;
  etag?: string;
  versionId?: string;
  sequencer?: string;
}

/** datasets/<pipeline>/<file>.csv → a run of <pipeline> on that object. */
export function decideForUpload(o: S3ObjectCreated, bucketUri: string): TriggerDecision {
  if (!o.key.startsWith(DATASETS_PREFIX)) return { action: 'ignore', reason: `key ${o.key} is outside ${DATASETS_PREFIX}` };
  if (o.key.endsWith('/') || o.size === 0) return { action: 'ignore', reason: `key ${o.key} is a folder marker or empty object` };
  const parts = o.key.slice(DATASETS_PREFIX.length).split('/');
  if (parts.length < 2) return { action: 'ignore', reason: `key ${o.key} names no pipeline (expected ${DATASETS_PREFIX}<pipeline>/<file>.csv)` };
  const pipeline = parts[0]!;
  if (!PIPELINE.test(pipeline)) return { action: 'ignore', reason: `"${pipeline}" in key ${o.key} is not a pipeline name` };
  if (!o.key.toLowerCase().endsWith('.csv')) return { action: 'ignore', reason: `key ${o.key} is not a .csv file` };
  const trigger: Trigger = { kind: 's3', bucket: o.bucket, key: o.key };
  if (o.versionId) trigger.versionId = o.versionId;
  if (o.sequencer) trigger.sequencer = o.sequencer;
  if (o.etag) trigger.etag = o.etag;
  return { action: 'start', pipeline, datasetUri: joinUri(bucketUri, o.key), trigger };
}

/** A scheduled retrain: the newest dataset of the pipeline, skipped when the champion was trained on exactly it. */
export async function decideForSchedule(
  req: { pipeline: string; schedule: string; time: string; force?: boolean },
  deps: { store: ObjectStore; bucketUri: string; artifactRoot: string },
): Promise<TriggerDecision> {
  const objects = (await deps.store.list(joinUri(deps.bucketUri, DATASETS_PREFIX, req.pipeline)))
    .filter((o) => o.size > 0 && o.uri.toLowerCase().endsWith('.csv'))
    .sort((a, b) => b.lastModified - a.lastModified);
  const latest = objects[0];
  if (!latest) return { action: 'ignore', reason: `no dataset uploaded under ${DATASETS_PREFIX}${req.pipeline}/` };
  const champion = await deps.store.getJson<ChampionRecord>(championUri(deps.artifactRoot, req.pipeline));
  const trained = champion?.current.dataset;
  if (!req.force && trained && trained.uri === latest.uri && trained.etag === latest.etag) {
    return { action: 'ignore', reason: `nothing changed: champion ${champion.current.runId} was trained on ${latest.uri} (etag ${latest.etag}); force to retrain anyway` };
  }
  // A forced run gets its own identity, so it is not mistaken for the unforced one of the same tick.
  return { action: 'start', pipeline: req.pipeline, datasetUri: latest.uri, trigger: { kind: 'schedule', schedule: req.force ? `${req.schedule}#force` : req.schedule, time: req.time } };
}

/** Where a deployed pipeline's spec lives: uploaded with the deployment, read by pipeline name. */
export const pipelineSpecUri = (bucketUri: string, pipeline: string) => joinUri(bucketUri, 'pipelines', `${pipeline}.yaml`);

/** A spec's dataset: absolute paths and s3:// URIs as they are; a relative URI is a key in the bucket. */
export const datasetUriFor = (bucketUri: string, specDatasetUri: string) =>
  specDatasetUri.startsWith('/') || /^[a-z0-9]+:\/\//.test(specDatasetUri) ? specDatasetUri : joinUri(bucketUri, specDatasetUri);
