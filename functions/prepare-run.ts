import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { PrepareRunEvent } from './schemas.js';
import { prepareRun } from '../core/prepare-run.js';
import type { EventPublisher, ObjectStore, TrackingPort } from '../core/ports.js';
import { announcer } from './notify.js';
import type { DeployedSpecPolicy } from '../core/deployed-spec.js';
import type { RunState } from '../core/model.js';

export const createPrepareRunHandler = (deps: {
  store: ObjectStore;
  tracking?: TrackingPort;
  publisher?: EventPublisher;
  /** AWS: a run's spec must be its pipeline's deployed one, image from an allowed registry; absent (local): any valid spec. */
  deployedSpecs?: DeployedSpecPolicy;
}) =>
  handlerFor('prepare-run', PrepareRunEvent, async (event) => {
    const publisher = announcer(deps.publisher);
    const run = await prepareRun(event.run, { store: deps.store, now: () => new Date(), ...(deps.tracking ? { tracking: deps.tracking } : {}), ...(publisher ? { publisher } : {}), ...(deps.deployedSpecs ? { deployedSpecs: deps.deployedSpecs } : {}) });
    const tracking = run.tracking && 'url' in run.tracking ? run.tracking.url : run.tracking?.off;
    logger.info('run prepared', { pipeline: run.pipeline, runId: run.runId, dataset: run.datasetUri, tracking });
    const state: RunState = { run, stages: {} };
    return state;
  });
