// The "409/429/5xx bursts on the API server" row of the fault table (issue 14): KubeRayCompute's submit, get, list
// and stop through the fault-injecting proxy (test/k8s/proxy.ts) in front of the real kube-apiserver
// (test/k8s/harness.ts), as the lambda identity. Every request key (method + path) answers 429, 503, 500 and 502 in
// turn before one is forwarded; the first create of each job reaches the server but its answer is replaced by a 503
// (the write happened, the client saw it fail), so the retry meets the server's own 409 AlreadyExists; and each job
// is submitted twice at once (a redelivery racing the first delivery). What must hold: every call succeeds after
// retries, there is exactly one RayJob per job, and after stop (delivered twice) none is left that is not deleting.
import { join } from 'node:path';
import type { KubeHarness } from '../k8s/harness.js';
import { waitForAccess } from '../k8s/harness.js';
import { startProxy, type Verdict } from '../k8s/proxy.js';
import { conformanceRequest, newRunId } from '../k8s/conformance.js';
import { lambdaRbac } from '../../core/kuberay/rbac.js';
import { KubeRayCompute } from '../../adapters/kuberay/compute.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../../adapters/kuberay/retry.js';
import { STAGES } from '../../core/stages.js';
import type { FaultRow } from './completion-faults.js';

const BURST = [429, 503, 500, 502] as const;

export async function apiBurstFault(kube: KubeHarness): Promise<FaultRow> {
  const ns = await kube.namespace('faults-api');
  await kube.createObjects(lambdaRbac(ns));
  await waitForAccess(() => kube.client('lambda').list('rayjobs', ns, { limit: 1 }));
  const pki = join(kube.env.KUBE_STATE_DIR!, 'pki');
  const proxy = await startProxy(kube.server, { caFile: kube.caFile, certFile: join(pki, 'apiserver.crt'), keyFile: join(pki, 'apiserver.key') });
  try {
    const perKey = new Map<string, number>();
    const injected: Record<string, number> = { 429: 0, 503: 0, 500: 0, 502: 0, lostResponse: 0 };
    let loseNextCreate = false;
    proxy.rule = (r): Verdict => {
      const key = `${r.method} ${r.path.split('?')[0]}`;
      const n = perKey.get(key) ?? 0;
      perKey.set(key, n + 1);
      const slot = n % (BURST.length + 1);
      if (slot < BURST.length) {
        const status = BURST[slot]!;
        injected[status]!++;
        const reason = status === 429 ? 'TooManyRequests' : 'ServiceUnavailable';
        return { status, ...(status === 429 ? { headers: { 'retry-after': '0' } } : {}), body: { kind: 'Status', code: status, reason, message: 'burst injected by the fault suite' } };
      }
      if (r.method === 'POST' && loseNextCreate) {
        loseNextCreate = false;
        injected.lostResponse!++;
        return { lostResponse: 503 };
      }
      return 'forward';
    };
    // Fast retries (real sleeps, small), enough tries for a burst plus a racing neighbour's share of the key.
    const policy: RetryPolicy = { ...DEFAULT_RETRY, attempts: 12, baseMs: 2, maxMs: 20 };
    const compute = () => new KubeRayCompute({ client: kube.client('lambda', policy, proxy.url), namespace: ns });
    const a = compute();
    const b = compute();
    const runId = newRunId();
    const reqs = STAGES.slice(0, 4).map((s) => conformanceRequest(runId, s));
    const errors: string[] = [];
    let created = 0;
    let gotBack = 0;
    const note = (e: unknown) => void errors.push(`${(e as Error).name}: ${(e as Error).message}`);
    for (const req of reqs) {
      loseNextCreate = true;
      const both = await Promise.allSettled([a.submit(req), b.submit(req)]);
      for (const s of both) if (s.status === 'fulfilled') created += s.value.created ? 1 : 0; else note(s.reason);
      const got = await a.get(req.jobId).catch((e: unknown) => (note(e), undefined));
      if (got?.jobId === req.jobId) gotBack++;
    }
    const listed = await b.list({ 'sentinel.dev/run': runId }).catch((e: unknown) => (note(e), []));
    // What the server holds, read as admin around the proxy.
    const held = await kube.client('admin').list<{ metadata: { name: string; deletionTimestamp?: string } }>('rayjobs', ns, {});
    const names = held.items.map((i) => i.metadata.name);
    const duplicates = names.length - new Set(names).size + names.filter((n) => !reqs.some((r) => r.jobId === n)).length;
    // stop, delivered twice (the reaper and a cancel, or a retried handler).
    for (const req of reqs) for (const c of [a, b]) await c.stop(req.jobId).catch(note);
    const after = await kube.client('admin').list<{ metadata: { name: string; deletionTimestamp?: string } }>('rayjobs', ns, {});
    // No controller-manager here: a Foreground delete leaves the object marked (deletionTimestamp) for the GC.
    const orphaned = after.items.filter((i) => !i.metadata.deletionTimestamp).length;
    const bursts = injected[429]! + injected[503]! + injected[500]! + injected[502]!;
    const requests = proxy.seen.length;
    return {
      fault: '409/429/5xx API bursts',
      injected: `${bursts} failed answers (429 ${injected[429]}, 503 ${injected[503]}, 500 ${injected[500]}, 502 ${injected[502]}) in bursts of ${BURST.length} per request, ${injected.lostResponse} creates whose 201 became 503, each of ${reqs.length} jobs submitted twice at once`,
      happened: `${requests} requests; ${reqs.length * 2 - errors.length}/${reqs.length * 2} submits ok (${created} created, the rest met 409 AlreadyExists and found the same job), ${gotBack}/${reqs.length} gets, list ${listed.length}, ${names.length} RayJobs held, ${reqs.length * 2} stops ok`,
      lost: errors.length + (reqs.length - gotBack) + Math.abs(reqs.length - listed.length) + Math.max(0, reqs.length - names.length),
      orphaned: orphaned + duplicates,
      figures: { requests, bursts, lostResponses: injected.lostResponse!, errors: errors.length, created, gotBack, listed: listed.length, held: names.length, duplicates, orphaned, ...(errors.length ? { firstError: 0 } : {}) },
    };
  } finally {
    await proxy.close();
  }
}
