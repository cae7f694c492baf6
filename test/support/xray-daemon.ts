// For the tracing test: a stand-in X-Ray daemon (a UDP socket on 127.0.0.1 that keeps every document it receives)
// and the environment of a Lambda invocation with active tracing. Await `ready` before loading Powertools Tracer or
// the X-Ray SDK (both read the environment when they load). The SDK then sends each closed subsegment to this
// socket, as it sends them to the Lambda service's daemon.
import { createSocket } from 'node:dgram';

export interface XrayDocument {
  name: string;
  id: string;
  parent_id?: string;
  trace_id: string;
  type?: string;
  namespace?: string;
  annotations?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  aws?: Record<string, unknown>;
  http?: { request?: { method?: string; url?: string }; response?: { status?: number } };
  error?: boolean;
  fault?: boolean;
  throttle?: boolean;
}

const socket = createSocket('udp4');
export const datagrams: string[] = [];
socket.on('message', (m) => datagrams.push(m.toString('utf8')));
export const TRACE_ROOT = '1-5759e988-bd862e3fe1be46a994272793';
export const ready = new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve)).then(() => {
  socket.unref();
  Object.assign(process.env, {
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: '/var/task',
    _HANDLER: 'index.handler',
    AWS_LAMBDA_FUNCTION_NAME: 'sentinel-test-fn',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: 'us-east-1',
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${socket.address().port}`,
    _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1`,
  });
  delete process.env.POWERTOOLS_TRACE_ENABLED;
});

/** The documents received so far (each datagram is a JSON header line, then the document). */
export function documents(): XrayDocument[] {
  return datagrams.map((d) => JSON.parse(d.slice(d.indexOf('\n') + 1)) as XrayDocument);
}
