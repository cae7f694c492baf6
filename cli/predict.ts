// A first request against the served model, with rows taken from the run's own dataset (target column dropped).
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

export function sampleRows(csvPath: string, target: string, n = 3): Array<Record<string, number>> {
  const [header, ...lines] = readFileSync(csvPath, 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const cols = (header ?? '').split(',').map((c) => c.trim());
  return lines.slice(0, n).map((line) => {
    const values = line.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, Number(values[i])]).filter(([c]) => c !== target));
  });
}

export interface JsonCall {
  timeoutMs?: number;
  /** An HTTP forward proxy (http://host:port) to send the request through, with the absolute URL as its path. */
  proxy?: string;
}

/** One HTTP call with a JSON body (if any) and a JSON answer (its text when it is not JSON). */
export function httpJson(url: string, method: 'GET' | 'POST', body?: unknown, o: JsonCall = {}): Promise<{ status: number; body: unknown }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const timeoutMs = o.timeoutMs ?? 30_000;
  const headers: Record<string, string> = { accept: 'application/json', ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}) };
  const target = new URL(url);
  const via = o.proxy ? new URL(o.proxy) : undefined;
  const options = via
    ? { host: via.hostname, port: via.port, path: url, headers: { ...headers, host: target.host } }
    : { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, headers };
  return new Promise((resolve, reject) => {
    const req = request({ ...options, method, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* keep text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(data);
  });
}

export const postJson = (url: string, body: unknown, timeoutMs = 30_000) => httpJson(url, 'POST', body, { timeoutMs });
export const getJson = (url: string, timeoutMs = 30_000) => httpJson(url, 'GET', undefined, { timeoutMs });

/** A first call against a served route: its advertised example body (GET), else rows from the dataset. */
export async function firstCall(url: string, fallback: () => unknown): Promise<{ request: unknown; status: number; body: unknown }> {
  const info = await getJson(url).catch(() => undefined);
  const example = info && info.status === 200 && info.body && typeof info.body === 'object' ? (info.body as { example?: unknown }).example : undefined;
  const request = example ?? fallback();
  const res = await postJson(url, request);
  return { request, ...res };
}

/** A compact one-line rendering of a JSON answer, at most `max` characters. */
export function compact(body: unknown, max = 160): string {
  const json = typeof body === 'string' ? undefined : JSON.stringify(body, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(3)) : v));
  const text = (typeof body === 'string' ? body.replace(/\s+/g, ' ').trim() : json) || '(empty body)';
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
