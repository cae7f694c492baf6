// The run summary's first call: the route's own example (GET) POSTed to it, else rows from the dataset; the answer
// printed compactly, never as "undefined".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compact, firstCall } from '../../cli/predict.js';

async function serve(describe: (() => unknown) | undefined) {
  const posted: unknown[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET') {
        if (!describe) return void res.writeHead(404).end('{"error":"no such route"}');
        return void res.end(JSON.stringify(describe()));
      }
      posted.push(JSON.parse(body));
      res.end(JSON.stringify({ ratings: [{ movie_id: 100, rating: 3.91234 }], model: { runId: 'r0a1b2c3d4' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/recommend`, posted, close: () => new Promise((r) => server.close(r)) };
}

test('the first call POSTs the example GET advertises, and falls back to dataset rows without one', async () => {
  const example = { user_id: 42, movie_ids: [100, 200, 300] };
  const withExample = await serve(() => ({ model: { runId: 'r0a1b2c3d4' }, task: 'regression', example }));
  try {
    let fellBack = false;
    const res = await firstCall(withExample.url, () => ((fellBack = true), { rows: [] }));
    assert.deepEqual(withExample.posted, [example]);
    assert.equal(fellBack, false);
    assert.equal(res.status, 200);
    assert.deepEqual(res.request, example);
  } finally {
    await withExample.close();
  }
  for (const describe of [undefined, () => ({ task: 'binary' })]) {
    const without = await serve(describe);
    try {
      const rows = { rows: [{ a: 1 }] };
      const res = await firstCall(without.url, () => rows);
      assert.deepEqual(without.posted, [rows]);
      assert.deepEqual(res.request, rows);
    } finally {
      await without.close();
    }
  }
});

test('answers print compactly: rounded, one line, at most 160 characters, never "undefined"', () => {
  assert.equal(compact({ predictions: [0, 1], probabilities: [0.123456, 0.98765] }), '{"predictions":[0,1],"probabilities":[0.123,0.988]}');
  const long = compact({ predictions: Array.from({ length: 500 }, (_, i) => i) });
  assert.equal(long.length, 160);
  assert.ok(long.endsWith('…'));
  for (const body of [undefined, '', '   ', () => 1]) assert.equal(compact(body), '(empty body)');
  assert.equal(compact('Internal\nServer   Error'), 'Internal Server Error');
});
