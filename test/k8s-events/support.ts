// Fixtures for the event-flow suites on the real API server (test/k8s/harness.ts). Nothing runs controllers there,
// so these create what a kubelet/KubeRay would: Nodes, Pods bound to nodes and Running, RayJob/PDB status.
import { lambdaContext as localLambdaContext } from '../../local/lambda-context.js';
import type { SQSEvent } from 'aws-lambda';
import type { KubeHarness } from '../k8s/harness.js';
import { waitForAccess } from '../k8s/harness.js';
import { conformanceRequest, newRunId } from '../k8s/conformance.js';
import { rayJobFor, type RayJobManifest } from '../../core/kuberay/rayjob.js';
import type { RayJobStatusFields } from '../../core/kuberay/status.js';
import { lambdaRbac, spotHandlerRbac } from '../../core/kuberay/rbac.js';
import type { KubeClient } from '../../adapters/kuberay/client.js';
import { mergePatch, paths } from '../../adapters/kuberay/kube-rest.js';
import type { BusEvent, EventPublisher } from '../../core/ports.js';
import { sqsRecord } from '../../local/queue.js';
import { delivered, type Deliverable } from '../support/events.js';

export const IMAGE = 'ghcr.io/sentinel-dev/sentinel-jobs:0.1.0';

/** The project's RBAC in `ns`, applied as admin; resolves once the lambda identity can use it. */
export async function applyRbac(kube: KubeHarness, ns: string) {
  await kube.createObjects([...lambdaRbac(ns), ...spotHandlerRbac()], { ignoreExisting: true });
  const lambda = kube.client('lambda');
  await waitForAccess(() => lambda.list('rayclusters', ns, { limit: 1 }));
  await waitForAccess(() => lambda.send('GET', paths.nodes(), { query: { limit: 1 } }));
  lambda.close();
}

export async function createNode(admin: KubeClient, name: string, o: { providerID?: string; labels?: Record<string, string> } = {}) {
  await admin.send('POST', paths.nodes(), {
    body: { apiVersion: 'v1', kind: 'Node', metadata: { name, ...(o.labels ? { labels: o.labels } : {}) }, spec: o.providerID ? { providerID: o.providerID } : {} },
  });
}

export const rayPodLabels = (cluster: string) => ({ 'ray.io/is-ray-node': 'yes', 'ray.io/cluster': cluster, 'ray.io/node-type': 'worker' });

/** A pod bound to `node` and reported Running + Ready, as the kubelet would (the Eviction API treats Pending pods differently). */
export async function createRunningPod(admin: KubeClient, ns: string, name: string, node: string, labels: Record<string, string>) {
  await admin.send('POST', paths.pods(ns), {
    body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { nodeName: node, containers: [{ name: 'ray-worker', image: IMAGE }] } },
  });
  const now = new Date().toISOString();
  await mergePatch(admin, `${paths.pods(ns)}/${name}/status`, {
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }], startTime: now },
  });
}

export interface PodState {
  exists: boolean;
  terminating: boolean;
}
export async function podState(admin: KubeClient, ns: string, name: string): Promise<PodState> {
  try {
    const p = await admin.send<{ metadata: { deletionTimestamp?: string } }>('GET', `${paths.pods(ns)}/${name}`);
    return { exists: true, terminating: !!p.metadata.deletionTimestamp };
  } catch (e) {
    if ((e as { code?: number }).code === 404) return { exists: false, terminating: false };
    throw e;
  }
}
/** Evicted: deleted, or (no kubelet here to finish a graceful deletion) marked for deletion. */
export const isGone = (s: PodState) => !s.exists || s.terminating;

/** A Sentinel RayJob as submit-stage builds it, with the status KubeRay would write. */
export async function createRayJob(admin: KubeClient, ns: string, o: { status?: RayJobStatusFields; clusterSelector?: string } = {}) {
  const req = conformanceRequest(newRunId(), 'train');
  const withCluster = o.clusterSelector ? { ...req, cluster: { mode: 'existing' as const, selector: { 'ray.io/cluster': o.clusterSelector } } } : req;
  const manifest = rayJobFor(withCluster, { namespace: ns });
  const created = await admin.create<RayJobManifest>('rayjobs', ns, manifest);
  if (o.status) await admin.patch('rayjobs', ns, manifest.metadata.name, [{ op: 'add', path: '/status', value: o.status }], 'status');
  return { name: manifest.metadata.name, uid: created.metadata.uid! };
}

export const rayClusterManifest = (name: string, o: { labels?: Record<string, string>; owner?: { kind: string; name: string; uid: string }; suspend?: boolean } = {}) => ({
  apiVersion: 'ray.io/v1',
  kind: 'RayCluster',
  metadata: {
    name,
    ...(o.labels ? { labels: o.labels } : {}),
    ...(o.owner ? { ownerReferences: [{ apiVersion: 'ray.io/v1', kind: o.owner.kind, name: o.owner.name, uid: o.owner.uid, controller: true, blockOwnerDeletion: true }] } : {}),
  },
  spec: {
    ...(o.suspend !== undefined ? { suspend: o.suspend } : {}),
    headGroupSpec: { rayStartParams: {}, template: { spec: { containers: [{ name: 'ray-head', image: IMAGE }] } } },
  },
});

export class RecordingPublisher implements EventPublisher {
  readonly events: BusEvent[] = [];
  async publish(events: BusEvent[]) {
    this.events.push(...events);
  }
}

export const lambdaContext = (fn: string) => localLambdaContext(fn, 60_000);

/** An EventBridge event as the interruption queue delivers it: one SQS record whose body is the event. */
let seq = 0;
/** One SQS record carrying the event as EventBridge delivers it (what the consumers' parser envelopes check). */
export const sqsDelivery = (event: Deliverable): SQSEvent => ({ Records: [sqsRecord(JSON.stringify(delivered(event)), { messageId: `m-${++seq}` })] });
