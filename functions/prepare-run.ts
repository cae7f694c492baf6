import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { PrepareRunEvent } from './schemas.js';
import { prepareRun } from '../core/prepare-run.js';
import type { EventPublisher, ObjectStore, TrackingPort } from '../core/ports.js';
import { announcer } from './notify.js';
import type { RunState } from '../core/model.js';

export const createPrepareRunHandler = (deps: { store: ObjectStore; tracking?: TrackingPort; publisher?: EventPublisher }) =>
  handlerFor('prepare-run', PrepareRunEvent, async (event) => {
    const publisher = announcer(deps.publisher);
    const run = await prepareRun(event.run, { store: deps.store, now: () => new Date(), ...(deps.tracking ? { tracking: deps.tracking } : {}), ...(publisher ? { publisher } : {}) });
    const tracking = run.tracking && 'url' in run.tracking ? run.tracking.url : run.tracking?.off;
    logger.info('run prepared', { pipeline: run.pipeline, runId: run.runId, dataset: run.datasetUri, tracking });
    const state: RunState = { run, stages: {} };
    return state;
  });
