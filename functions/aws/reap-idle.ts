// Lambda entry: the idle reaper (a one-time EventBridge Scheduler schedule, one at a time): armed when a run ends, it
// re-arms itself only for work it left for later (core/reaper.ts nextAt), and deletes finished RayJobs past their
// retention (SENTINEL_JOB_RETENTION_SECONDS).
import { createReapIdleHandler } from '../reap-idle.js';
import { ENV, publisher, reaperArming, seconds } from './deps.js';
import { idleMs, managedNodeGroups, nodeGroupsPort, reaperPort } from './cluster-deps.js';

export const handler = createReapIdleHandler({
  reaper: reaperPort(),
  nodeGroups: nodeGroupsPort(),
  publisher: publisher(),
  managedNodeGroups: managedNodeGroups(),
  idleMs: idleMs(),
  get retentionMs() {
    return seconds(ENV.jobRetentionSeconds) * 1000;
  },
  rearm: reaperArming(),
});
