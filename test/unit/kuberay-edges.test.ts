// KubeRay edges that mutation testing (npm run mutation) found unchecked: canonical JSON whatever the key order,
// label keys with dotted, hyphenated prefixes, container names in the RayService, and RayService statuses that
// leave out the parts a status may lack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, specHash } from '../../core/kuberay/meta.js';
import { isQualifiedName } from '../../core/kuberay/validate.js';
import { rayServiceFor } from '../../core/kuberay/rayservice.js';
import { serveStatusFromRayService } from '../../core/kuberay/status.js';

test('canonical JSON sorts keys at every depth, so specs built in any order hash alike', () => {
  const a = { b: 1, a: { d: [{ y: 1, x: 2 }], c: 2 }, z: undefined };
  const b = { a: { c: 2, d: [{ x: 2, y: 1 }] }, b: 1 };
  assert.equal(canonicalJson(a), '{"a":{"c":2,"d":[{"x":2,"y":1}]},"b":1}');
  assert.equal(canonicalJson(b), canonicalJson(a));
  assert.equal(specHash(a), specHash(b));
  assert.equal(canonicalJson({ b: 1, a: 2, c: 3 }), '{"a":2,"b":1,"c":3}');
});

test('label keys: a DNS subdomain prefix (dots and inner hyphens) and a name; anything else is not a key', () => {
  for (const k of ['app.kubernetes.io/managed-by', 'sentinel.dev/run', 'a-b.c-d.io/x', 'a/b', 'x', 'ray.io/node-type', 'a.b.c/x']) assert.equal(isQualifiedName(k), true, k);
  for (const k of ['/x', 'a./x', '.a/x', 'a..b/x', '-a.io/x', 'a-.io/x', 'a.b-/x', 'A.io/x', 'a/b/c', 'a/', '', 'a_b.io/x']) assert.equal(isQualifiedName(k), false, k);
});

test('the RayService names its containers ray-head and ray-worker', () => {
  const config = { applications: [{ name: 'churn', route_prefix: '/predict', import_path: 'm:app', args: { run_id: 'r0a1b2c3d4' }, deployments: [] }] } as never;
  const m = rayServiceFor({ pipeline: 'churn', namespace: 'ml', image: 'img', config });
  assert.deepEqual(m.spec.rayClusterConfig.headGroupSpec.template.spec.containers.map((c: { name: string }) => c.name), ['ray-head']);
  for (const g of m.spec.rayClusterConfig.workerGroupSpecs) assert.deepEqual(g.template.spec.containers.map((c: { name: string }) => c.name), ['ray-worker']);
});

test('RayService statuses without application statuses, or upgrading without a pending one, are read, not thrown on', () => {
  const svc = (status: object) => ({ apiVersion: 'ray.io/v1', kind: 'RayService', metadata: { name: 'churn' }, status }) as never;
  assert.equal(serveStatusFromRayService(svc({ pendingServiceStatus: {}, activeServiceStatus: {} }), 'churn').state, 'DEPLOYING');
  const upgrading = serveStatusFromRayService(svc({ conditions: [{ type: 'UpgradeInProgress', status: 'True' }], activeServiceStatus: { applicationStatuses: { churn: { status: 'RUNNING' } } } }), 'churn', 'r1');
  assert.deepEqual([upgrading.state, upgrading.runId], ['RUNNING', 'r1'], 'the active run keeps serving');
});
