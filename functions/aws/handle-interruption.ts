// Lambda entry: the SQS consumer of EC2 spot/rebalance/state-change events (EventBridge rules → queue → this).
import { createHandleInterruptionHandler } from '../handle-interruption.js';
import { publisher } from './deps.js';
import { clusterPort, nodeHandling } from './cluster-deps.js';

export const handler = createHandleInterruptionHandler({
  cluster: clusterPort(),
  publisher: publisher(),
  nodeHandling: nodeHandling(),
});
