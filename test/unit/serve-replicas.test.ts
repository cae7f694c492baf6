// The serving replicas a run summary (and a later status command) shows: read from Serve's REST API
// (GET /api/serve/applications/) by the ServingPort, and printed against the spec's autoscaling settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RayServeServing } from '../../adapters/ray/serve-serving.js';
import { serveApplicationFor } from '../../core/serve-config.js';
import { validateSpec } from '../../core/spec.js';
import { replicasText } from '../../cli/session-command.js';
import { referenceSpec } from '../support/reference.js';

test('replicas(): running, target, the deployed range and every state, from Serve\'s application details', async () => {
  const spec = validateSpec(referenceSpec());
  const app = serveApplicationFor(spec, { modelUri: '/m', runId: 'r0a1b2c3d4' });
  const details = {
    applications: {
      'breast-cancer': {
        status: 'RUNNING',
        deployed_app_config: app,
        deployments: {
          ModelServer: {
            status: 'UPSCALING',
            target_num_replicas: 4,
            replicas: [{ state: 'RUNNING' }, { state: 'RUNNING' }, { state: 'STARTING' }, { state: 'STARTING' }, { state: 'STOPPING' }],
          },
        },
      },
    },
  };
  let auth = '';
  const server = createServer((req, res) => {
    auth = req.headers.authorization ?? '';
    res.writeHead(req.url === '/api/serve/applications/' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(details));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const serving = new RayServeServing({ dashboard: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't0k' }, http: { host: '127.0.0.1', port: 8000 } });
    const r = await serving.replicas('breast-cancer');
    assert.deepEqual(r, { running: 2, target: 4, min: 1, max: 5, states: { RUNNING: 2, STARTING: 2, STOPPING: 1 } });
    assert.equal(auth, 'Bearer t0k');
    assert.equal(await serving.replicas('iris'), undefined, 'nothing serves it');
    assert.equal(
      replicasText(r!, spec.serve),
      '2 running, 2 starting, 1 stopping (target 4) · autoscaling 1–5 at 5 ongoing requests per replica, up after 1 s, down after 30 s',
    );
  } finally {
    server.close();
  }
});
