// Powertools Tracer for every handler: the handler's own subsegment (handler.ts), one per AWS SDK call (each client
// goes through `traced`), one per Kubernetes API request (`kubeRequestTracer`, given to KubeClient). Tracing is on
// only inside Lambda with active tracing (infra/functions.ts); elsewhere Powertools turns it off and every wrapper
// here hands back what it was given.
//
// What a trace may carry: names, methods, paths, status codes. Never a bearer token (it lives in a request header the
// tracer does not see), never a task token (the Step Functions client is not in X-Ray's list of services whose
// request parameters are recorded), never an event or a response (captureResponse is off).
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { KubeRequestTracer } from '../../adapters/kuberay/client.js';
import { SERVICE } from '../../core/metrics.js';

// captureHTTPsRequests off: the SDK clients are traced through their middleware and Kubernetes requests below, so
// patching node:https as well would record every request twice (and Kubernetes list queries in full).
export const tracer = new Tracer({ serviceName: SERVICE, captureHTTPsRequests: false });

/** An AWS SDK v3 client whose calls are subsegments (the client itself when tracing is off). */
export const traced = <T>(client: T): T => tracer.captureAWSv3Client(client);

/** Subsegment name of Kubernetes API requests (X-Ray's service map shows it as one remote node). */
export const KUBE_SUBSEGMENT = 'kubernetes';

/**
 * One subsegment per Kubernetes API request: method and status as annotations (searchable), the path (no query
 * string) as the HTTP request URL. 429 marks it throttled, other 4xx an error, 5xx and network failures a fault.
 */
export const kubeRequestTracer: KubeRequestTracer = async (req, exchange) => {
  if (!tracer.isTracingEnabled()) return exchange();
  const parent = tracer.getSegment();
  if (!parent) return exchange();
  const sub = parent.addNewSubsegment(KUBE_SUBSEGMENT);
  sub.namespace = 'remote';
  sub.addAnnotation('k8s_method', req.method);
  const http: { request: { method: string; url: string }; response?: { status: number } } = { request: { method: req.method, url: req.path } };
  (sub as unknown as { http: typeof http }).http = http;
  try {
    const res = await exchange();
    http.response = { status: res.code };
    sub.addAnnotation('k8s_status', res.code);
    if (res.code === 429) sub.addThrottleFlag();
    if (res.code >= 400 && res.code < 500) sub.addErrorFlag();
    else if (res.code >= 500) sub.addFaultFlag();
    return res;
  } catch (e) {
    // Network failures (refused, reset, timed out): no status; the error's name and message only.
    sub.addError(Object.assign(new Error((e as Error).message), { name: (e as Error).name }), true);
    throw e;
  } finally {
    sub.close();
  }
};
