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

export function postJson(url: string, body: unknown, timeoutMs = 30_000): Promise<{ status: number; body: unknown }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }, timeout: timeoutMs }, (res) => {
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
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(data);
  });
}

export function getJson(url: string, timeoutMs = 30_000): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
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
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

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
