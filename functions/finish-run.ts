import { handlerFor } from './lib/handler.js';
import { logger } from './lib/logger.js';
import { FinishRunEvent } from './schemas.js';
import { finishRun, type FinishDeps } from '../core/finish-run.js';
import { announcer } from './notify.js';
import { armReaperAfterRun, tryArm, type ReaperArming } from '../core/arming.js';

/** `reaper` (deployed): arm the idle reaper for this run's end + the idle time (core/arming.ts). */
export const createFinishRunHandler = (deps: FinishDeps & { reaper?: ReaperArming }) =>
  handlerFor('finish-run', FinishRunEvent, async (event, { metrics }) => {
    const publisher = announcer(deps.publisher);
    const res = await finishRun(event, { ...deps, ...(publisher ? { publisher } : {}) });
    const dims = { Pipeline: event.run.pipeline };
    // Run requested → recorded, whatever the outcome.
    metrics.add('RunDuration', (deps.now().getTime() - Date.parse(event.run.requestedAt)) / 1000, dims, event.run);
    metrics.add(res.status === 'SUCCEEDED' ? 'RunsSucceeded' : 'RunsFailed', 1, dims, event.run);
    const reaper = deps.reaper ? await tryArm(() => armReaperAfterRun(deps.reaper!, deps.now(), deps.now())) : undefined;
    logger.info('run finished', { runId: event.run.runId, status: res.status, stoppedJobs: res.stoppedJobs, ...(reaper ? { reaper } : {}) });
    return res;
  });
