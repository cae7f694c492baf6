// A tiny fault-injecting proxy on 127.0.0.1 in front of the real API server: each request is either answered by
// the rule (e.g. 429/503) or forwarded; a rule may also act before forwarding (e.g. a concurrent write).
// It serves TLS with the API server's own certificate (issued for 127.0.0.1), so clients verify it as they would
// the server: the client under test runs unchanged.
import type { IncomingMessage } from 'node:http';
import { createServer, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  n: number;
  method: string;
  path: string;
  status?: number;
}

/**
 * forward: pass it on. { status }: answer instead of the server. { lostResponse }: pass it on, let the server act on it,
 * then answer `lostResponse` instead of the server's reply (a write that happened though the client saw it fail).
 */
export type Verdict = 'forward' | { status: number; body?: unknown; headers?: Record<string, string> } | { lostResponse: number };
export type Rule = (req: SeenRequest) => Verdict | Promise<Verdict>;

export interface Proxy {
  url: string;
  seen: SeenRequest[];
  rule: Rule;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export interface ProxyTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export async function startProxy(target: string, tls: ProxyTls, rule: Rule = () => 'forward'): Promise<Proxy> {
  const ca = readFileSync(tls.caFile);
  const upstream = new URL(target);
  const seen: SeenRequest[] = [];
  const proxy: Proxy = { url: '', seen, rule, close: async () => {} };
  const server = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, async (req, res) => {
    const entry: SeenRequest = { n: seen.length + 1, method: req.method ?? 'GET', path: req.url ?? '/' };
    seen.push(entry);
    try {
      const body = await readBody(req);
      const verdict = await proxy.rule(entry);
      const lost = verdict !== 'forward' && 'lostResponse' in verdict ? verdict.lostResponse : undefined;
      if (verdict !== 'forward' && !('lostResponse' in verdict)) {
        entry.status = verdict.status;
        const text = JSON.stringify(verdict.body ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: verdict.status, message: 'injected by the test proxy' });
        res.writeHead(verdict.status, { 'content-type': 'application/json', ...verdict.headers });
        res.end(text);
        return;
      }
      const headers = { ...req.headers, host: upstream.host };
      const up = httpsRequest({ hostname: upstream.hostname, port: upstream.port, path: entry.path, method: entry.method, headers, ca }, (ures) => {
        if (lost !== undefined) {
          ures.resume();
          ures.on('end', () => {
            entry.status = lost;
            res.writeHead(lost, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: lost, message: `injected by the test proxy after the server answered ${ures.statusCode}` }));
          });
          return;
        }
        entry.status = ures.statusCode;
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
      });
      up.on('error', (e) => {
        entry.status = 502;
        res.writeHead(502).end(String(e));
      });
      up.end(body);
    } catch (e) {
      entry.status = 500;
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
