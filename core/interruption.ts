// EC2 interruption handling, modelled on Karpenter's interruption controller: parse the event, find the node by its
// providerID, then act. A spot warning (2-minute notice) marks the Ray jobs on the node as interrupted, cordons the
// node and evicts its Ray pods through the Eviction API; a rebalance recommendation only cordons (no new Ray pods
// land there, running ones keep going); an instance that is stopping/terminated marks its jobs (the node is gone).
// Jobs are marked first, so however the job dies next, it fails as SpotInterrupted and the stage is retried from
// its checkpoint. With node handling off (Karpenter already drains nodes), only the marking is done.
import type { BusEvent, ClusterPort, EvictionResult } from './ports.js';

export type Ec2EventKind = 'spot-warning' | 'rebalance' | 'state-change';

export interface Ec2Event {
  'detail-type': string;
  detail?: { 'instance-id'?: string; 'instance-action'?: string; state?: string };
  time?: string;
}

export type ParsedEc2Event = { kind: Ec2EventKind; instanceId: string; state?: string } | { kind: 'unknown'; reason: string };

const KINDS: Record<string, Ec2EventKind> = {
  'EC2 Spot Instance Interruption Warning': 'spot-warning',
  'EC2 Instance Rebalance Recommendation': 'rebalance',
  'EC2 Instance State-change Notification': 'state-change',
};
const GONE_STATES = ['stopping', 'stopped', 'shutting-down', 'terminated'];

export function parseEc2Event(e: Ec2Event): ParsedEc2Event {
  const kind = KINDS[e['detail-type']];
  if (!kind) return { kind: 'unknown', reason: `detail-type "${e['detail-type']}" is not handled` };
  const instanceId = e.detail?.['instance-id'];
  if (!instanceId || !/^i-[0-9a-f]{8,17}$/.test(instanceId)) return { kind: 'unknown', reason: `no valid instance-id in ${e['detail-type']}` };
  if (kind === 'state-change' && !GONE_STATES.includes(e.detail?.state ?? '')) return { kind: 'unknown', reason: `state "${e.detail?.state}" is not an interruption` };
  return { kind, instanceId, ...(e.detail?.state ? { state: e.detail.state } : {}) };
}

export interface InterruptionOutcome {
  instanceId?: string;
  node?: string;
  action: 'ignored' | 'handled';
  reason: string;
  cordoned: boolean;
  evicted: string[];
  blocked: string[];
  markedJobs: string[];
}

export const INTERRUPTION_EVENT_SOURCE = 'sentinel.interruptions';
export const INTERRUPTION_EVENT_DETAIL_TYPE = 'Spot Interruption Handled';

export async function handleInterruption(e: Ec2Event, deps: { cluster: ClusterPort; nodeHandling: boolean }): Promise<InterruptionOutcome> {
  const none = { cordoned: false, evicted: [], blocked: [], markedJobs: [] };
  const parsed = parseEc2Event(e);
  if (parsed.kind === 'unknown') return { action: 'ignored', reason: parsed.reason, ...none };
  const node = await deps.cluster.nodeForInstance(parsed.instanceId);
  if (!node) return { instanceId: parsed.instanceId, action: 'ignored', reason: `instance ${parsed.instanceId} is not a node of this cluster`, ...none };

  const pods = await deps.cluster.rayPodsOn(node.name);
  const clusters = [...new Set(pods.map((p) => p.rayCluster).filter((c): c is string => !!c))];
  const markedJobs: string[] = [];
  if (parsed.kind !== 'rebalance') {
    const reason = parsed.kind === 'spot-warning' ? `spot interruption warning for ${parsed.instanceId}` : `instance ${parsed.instanceId} ${parsed.state}`;
    for (const job of await deps.cluster.jobsOn(node.name, clusters)) {
      await deps.cluster.markInterrupted(job, reason);
      markedJobs.push(job);
    }
  }
  let cordoned = false;
  const evicted: string[] = [];
  const blocked: string[] = [];
  if (deps.nodeHandling && parsed.kind !== 'state-change') {
    if (!node.unschedulable) await deps.cluster.cordon(node.name);
    cordoned = true;
    if (parsed.kind === 'spot-warning') {
      // In parallel: the notice gives two minutes for all of them.
      const results = await Promise.all(pods.map(async (p): Promise<[string, EvictionResult]> => [`${p.namespace}/${p.name}`, await deps.cluster.evict(p)]));
      for (const [pod, r] of results) (r === 'blocked' ? blocked : evicted).push(pod);
    }
  }
  return { instanceId: parsed.instanceId, node: node.name, action: 'handled', reason: parsed.kind, cordoned, evicted, blocked, markedJobs };
}

export const interruptionEvent = (o: InterruptionOutcome, now: Date): BusEvent<InterruptionOutcome> => ({
  source: INTERRUPTION_EVENT_SOURCE,
  'detail-type': INTERRUPTION_EVENT_DETAIL_TYPE,
  detail: o,
  time: now.toISOString(),
  resources: o.instanceId ? [o.instanceId] : [],
});
