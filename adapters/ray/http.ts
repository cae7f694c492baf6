// A small JSON-over-HTTP helper for the Ray dashboard APIs. Connection failures, 429 and 5xx become
// ComputeUnavailable (retried by the state machine); other statuses are returned for the caller to interpret.
import { request } from 'node:http';
import { ErrorNames, SentinelError } from '../../core/errors.js';

// node:http rather than fetch: fetch adds Sec-Fetch-* headers, and Ray's dashboard refuses such "browser traffic".
function send(url: string, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method, headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body).toString() }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

export interface HttpResult<T> {
  status: number;
  body: T;
  text: string;
}

/** A Ray dashboard: its URL and, when Ray's token authentication is on (the default since Ray 2.5x), the token. */
export interface RayDashboard {
  url: string;
  token?: string;
}

export async function requestJson<T = unknown>(
  dashboard: RayDashboard,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<HttpResult<T>> {
  const base = dashboard.url;
  const url = `${base.replace(/\/$/, '')}${path}`;
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (dashboard.token) headers.authorization = `Bearer ${dashboard.token}`;
  let res: { status: number; text: string };
  try {
    res = await send(url, method, headers, body === undefined ? undefined : JSON.stringify(body), timeoutMs);
  } catch (e) {
    const cause = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new SentinelError(ErrorNames.ComputeUnavailable, `${method} ${path} failed: ${cause}`, base);
  }
  const text = res.text;
  if (res.status === 429 || res.status >= 500) {
    throw new SentinelError(ErrorNames.ComputeUnavailable, `${method} ${path} → HTTP ${res.status}: ${text.slice(0, 300)}`, base);
  }
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed as T, text };
}
