// The one Serve config builder (local Serve REST API and the RayService's serveConfigV2): the spec's serve section
// (replica range, target, up/down delays, max ongoing requests, row limit) reaches every field Ray Serve reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { validateSpec } from '../../core/spec.js';
import { AUTOSCALING_LOOK_BACK_S, AUTOSCALING_METRICS_INTERVAL_S, SERVE_DEPLOYMENT, SERVE_INGRESS_ENV, serveApplicationFor } from '../../core/serve-config.js';
import { rayServiceFor } from '../../core/kuberay/rayservice.js';
import { rayServiceProblems } from '../../core/kuberay/validate.js';
import { referenceSpec } from '../support/reference.js';

const model = { modelUri: '/bucket/artifacts/breast-cancer/r0a1b2c3d4/tune/model', runId: 'r0a1b2c3d4' };
const withServe = (serve: Record<string, unknown>) => {
  const s = referenceSpec() as Record<string, any>;
  s.serve = { route: '/predict', ...serve };
  return validateSpec(s, 'spec.yaml');
};

test('defaults: 1–5 replicas, target 5 ongoing, 1 s up, 30 s down, 32 ongoing per replica, 1,000 rows a request', () => {
  const app = serveApplicationFor(withServe({}), model);
  const d = app.deployments[0]!;
  assert.equal(d.name, SERVE_DEPLOYMENT);
  assert.equal(d.max_ongoing_requests, 32);
  assert.deepEqual(d.autoscaling_config, {
    min_replicas: 1,
    max_replicas: 5,
    initial_replicas: 1,
    target_ongoing_requests: 5,
    upscale_delay_s: 1,
    downscale_delay_s: 30,
    look_back_period_s: AUTOSCALING_LOOK_BACK_S,
    metrics_interval_s: AUTOSCALING_METRICS_INTERVAL_S,
  });
  assert.equal(app.args.max_rows, 1000);
  assert.deepEqual(d.ray_actor_options, { num_cpus: 0.5 });
});

test('every serve field of the spec reaches the config', () => {
  const spec = withServe({
    replicas: { min: 2, max: 7 },
    targetOngoingRequests: 3,
    upscaleDelaySeconds: 0.5,
    downscaleDelaySeconds: 90,
    maxOngoingRequests: 50,
    maxRowsPerRequest: 250,
    cpusPerReplica: 1,
  });
  const app = serveApplicationFor(spec, model);
  const d = app.deployments[0]!;
  assert.equal(d.max_ongoing_requests, 50);
  assert.equal(d.autoscaling_config.min_replicas, 2);
  assert.equal(d.autoscaling_config.initial_replicas, 2);
  assert.equal(d.autoscaling_config.max_replicas, 7);
  assert.equal(d.autoscaling_config.target_ongoing_requests, 3);
  assert.equal(d.autoscaling_config.upscale_delay_s, 0.5);
  assert.equal(d.autoscaling_config.downscale_delay_s, 90);
  assert.deepEqual(app.args, { model_uri: model.modelUri, run_id: model.runId, pipeline: 'breast-cancer', max_rows: 250 });
  assert.deepEqual(d.ray_actor_options, { num_cpus: 1 });
  // Ray Serve warns and caps when the target exceeds what a replica may take; the spec refuses it up front.
  assert.throws(() => withServe({ targetOngoingRequests: 40, maxOngoingRequests: 32 }), { message: /spec\.yaml\.serve\.maxOngoingRequests: must be ≥ targetOngoingRequests/ });
  assert.throws(() => withServe({ maxRowsPerRequest: 0 }), { message: /serve\.maxRowsPerRequest/ });
  assert.throws(() => withServe({ upscaleDelaySeconds: -1 }), { message: /serve\.upscaleDelaySeconds/ });
  assert.throws(() => withServe({ maxOngoingRequests: 2.5 }), { message: /serve\.maxOngoingRequests/ });
});

test('the RayService carries the same deployment fields in serveConfigV2 and sizes workers from the replica range', () => {
  const spec = withServe({ replicas: { min: 1, max: 5 }, cpusPerReplica: 0.5 });
  const app = serveApplicationFor(spec, model);
  const service = rayServiceFor({ pipeline: spec.name, namespace: 'sentinel', image: spec.image, config: { applications: [app] } });
  const v2 = parseYaml(service.spec.serveConfigV2) as { applications: Array<typeof app> };
  assert.deepEqual(v2.applications[0]!.deployments[0], app.deployments[0]);
  assert.deepEqual(rayServiceProblems(service), []);
  // Serve's HAProxy ingress on every Ray process of the serving cluster, as on the local head.
  const cluster = service.spec.rayClusterConfig;
  for (const template of [cluster.headGroupSpec.template, ...cluster.workerGroupSpecs.map((g) => g.template)]) {
    assert.deepEqual((template.spec.containers[0] as { env?: unknown }).env, Object.entries(SERVE_INGRESS_ENV).map(([name, value]) => ({ name, value })));
  }
  assert.equal(SERVE_INGRESS_ENV.RAY_SERVE_ENABLE_HA_PROXY, '1');
});
