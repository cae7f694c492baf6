// A pipeline's own Python modules (spec.code) reach every place Python runs: the Ray job (local Ray Jobs API and
// KubeRay's RayJob) and the Serve replicas (local Serve REST API and the RayService), and serve.app is the import path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { RayJobsCompute } from '../../adapters/ray/jobs-compute.js';
import { rayJobFor, requestHash } from '../../core/kuberay/rayjob.js';
import { rayServiceFor } from '../../core/kuberay/rayservice.js';
import { rayJobProblems, rayServiceProblems } from '../../core/kuberay/validate.js';
import { serveApplicationFor, SERVE_DEPLOYMENT } from '../../core/serve-config.js';
import { validateSpec, DEFAULT_SERVE_APP } from '../../core/spec.js';
import { STAGE_INPUT_ENV, decodeStageInput } from '../../core/stage-input-wire.js';
import type { JobRequest } from '../../core/ports.js';
import { referenceSpec } from '../support/reference.js';

const request = (extra: Partial<JobRequest> = {}): JobRequest => ({
  jobId: 'churn-r0a1b2c3d4-train-1',
  identity: { pipeline: 'churn', runId: 'r0a1b2c3d4', stage: 'train', attempt: 1 },
  module: 'sentinel_jobs.train',
  input: { pipeline: 'churn', stage: 'train', params: { numWorkers: 1 } },
  resources: { cpu: 1, memory: '2Gi', gpu: 0, spot: false },
  timeoutSeconds: 600,
  image: 'img:1',
  cluster: { mode: 'ephemeral' },
  labels: { 'sentinel.dev/pipeline': 'churn' },
  ...extra,
});

/** A stand-in for the Ray Jobs REST API that records submissions. */
async function fakeRayJobs() {
  const jobs = new Map<string, { runtime_env: { env_vars: Record<string, string> }; metadata: Record<string, string>; entrypoint: string }>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const get = /^\/api\/jobs\/([^/]+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && get) {
        const job = jobs.get(decodeURIComponent(get[1]!));
        return job ? send(200, { submission_id: get[1], status: 'PENDING', ...job }) : send(404, {});
      }
      if (req.method === 'POST' && req.url === '/api/jobs/') {
        const parsed = JSON.parse(body);
        jobs.set(parsed.submission_id, parsed);
        return send(200, { submission_id: parsed.submission_id });
      }
      send(404, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, jobs, close: () => new Promise((r) => server.close(r)) };
}

test('Ray Jobs: the code folder is the job\'s PYTHONPATH, before the adapter\'s own; it is part of what makes a job the same', async () => {
  const ray = await fakeRayJobs();
  try {
    const plain = new RayJobsCompute({ dashboard: { url: ray.url }, env: { PATH: '/venv/bin' } });
    await plain.submit(request({ pythonPath: '/work/churn' }));
    const env = ray.jobs.get('churn-r0a1b2c3d4-train-1')!.runtime_env.env_vars;
    assert.equal(env.PYTHONPATH, '/work/churn');
    assert.equal(env.PATH, '/venv/bin');
    assert.deepEqual(decodeStageInput(env[STAGE_INPUT_ENV]), request().input);
    assert.equal(ray.jobs.get('churn-r0a1b2c3d4-train-1')!.entrypoint, 'python -m sentinel_jobs.train', 'the entrypoint stays fixed text');

    // The same request again is the same job; another code folder under the same name is not.
    assert.deepEqual(await plain.submit(request({ pythonPath: '/work/churn' })), { jobId: 'churn-r0a1b2c3d4-train-1', created: false });
    await assert.rejects(plain.submit(request({ pythonPath: '/elsewhere' })), { name: 'ValidationFailed' });
    await assert.rejects(plain.submit(request()), { name: 'ValidationFailed' });

    const withOwn = new RayJobsCompute({ dashboard: { url: ray.url }, env: { PYTHONPATH: '/site/extra' } });
    await withOwn.submit(request({ jobId: 'churn-r0a1b2c3d4-train-2', pythonPath: '/work/churn' }));
    assert.equal(ray.jobs.get('churn-r0a1b2c3d4-train-2')!.runtime_env.env_vars.PYTHONPATH, '/work/churn:/site/extra');
    await withOwn.submit(request({ jobId: 'churn-r0a1b2c3d4-train-3' }));
    assert.equal(ray.jobs.get('churn-r0a1b2c3d4-train-3')!.runtime_env.env_vars.PYTHONPATH, '/site/extra', 'no code folder: the adapter\'s own PYTHONPATH only');
  } finally {
    await ray.close();
  }
});

test('KubeRay: the code folder is in the RayJob\'s runtimeEnvYAML and in its spec hash', () => {
  const req = request({ pythonPath: '/opt/pipelines/churn' });
  const job = rayJobFor(req, { namespace: 'sentinel' });
  const env = (parseYaml(job.spec!.runtimeEnvYAML) as { env_vars: Record<string, string> }).env_vars;
  assert.equal(env.PYTHONPATH, '/opt/pipelines/churn');
  assert.deepEqual(decodeStageInput(env[STAGE_INPUT_ENV]), req.input);
  assert.deepEqual(rayJobProblems(job), []);
  const without = rayJobFor(request(), { namespace: 'sentinel' });
  assert.equal((parseYaml(without.spec!.runtimeEnvYAML) as { env_vars: Record<string, string> }).env_vars.PYTHONPATH, undefined);
  assert.notEqual(requestHash(req), requestHash(request()));
  assert.equal(requestHash(request()), requestHash({ ...request(), pythonPath: undefined }), 'no code folder: the hash of a request without the field');
});

test('Serve: import_path is spec.serve.app, args and deployment stay; spec.code becomes the application\'s runtime_env', () => {
  const base = validateSpec(referenceSpec());
  const model = { modelUri: 's3://b/a/breast-cancer/r0a1b2c3d4/tune/model', runId: 'r0a1b2c3d4' };
  const plain = serveApplicationFor(base, model);
  assert.equal(plain.import_path, DEFAULT_SERVE_APP);
  assert.deepEqual(plain.args, { model_uri: model.modelUri, run_id: model.runId, pipeline: 'breast-cancer', max_rows: 1000 });
  assert.equal(plain.deployments[0]!.name, SERVE_DEPLOYMENT);
  assert.equal('runtime_env' in plain, false);

  const own = validateSpec({ ...referenceSpec(), code: '/opt/pipelines/recs', serve: { ...referenceSpec().serve, app: 'recs_model:app' } });
  const app = serveApplicationFor(own, model);
  assert.equal(app.import_path, 'recs_model:app');
  assert.deepEqual(app.runtime_env, { env_vars: { PYTHONPATH: '/opt/pipelines/recs' } });
  assert.equal(app.deployments[0]!.name, 'ModelServer');

  // The RayService carries the same application in serveConfigV2 and passes KubeRay's rules.
  const service = rayServiceFor({ pipeline: own.name, namespace: 'sentinel', image: own.image, config: { applications: [app] } });
  const serveConfig = parseYaml(service.spec.serveConfigV2) as { applications: Array<typeof app> };
  assert.deepEqual(serveConfig.applications[0], app);
  assert.deepEqual(rayServiceProblems(service), []);
});
