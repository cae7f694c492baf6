// Lambda entry: Promote and CheckPromotion (state machine tasks): apply the RayService config, or check once whether it
// serves; the state machine waits in between.
import { createPromoteHandler } from '../promote.js';
import { systemClock } from '../../core/ports.js';
import { publisher, schedulePrefix, schedules, serving, store, tracking } from './deps.js';

const mlflow = tracking();
// Each new champion arms its staleness check (<prefix>-stale-<runId>-<pipeline>, spec.staleAfter) on EventBridge Scheduler.
function staleChecks() {
  return {
    schedules: schedules(),
    get prefix() {
      return schedulePrefix();
    },
  };
}
export const handler = createPromoteHandler({ serving: serving(), store: store(), clock: systemClock, now: () => new Date(), publisher: publisher(), staleChecks: staleChecks(), ...(mlflow ? { tracking: mlflow } : {}) });
