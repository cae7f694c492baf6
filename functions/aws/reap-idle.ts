// Lambda entry: the scheduled idle reaper (EventBridge Scheduler, one at a time).
import { createReapIdleHandler } from '../reap-idle.js';
import { publisher } from './deps.js';
import { idleMs, managedNodeGroups, nodeGroupsPort, reaperPort } from './cluster-deps.js';

export const handler = createReapIdleHandler({
  reaper: reaperPort(),
  nodeGroups: nodeGroupsPort(),
  publisher: publisher(),
  managedNodeGroups: managedNodeGroups(),
  idleMs: idleMs(),
});
