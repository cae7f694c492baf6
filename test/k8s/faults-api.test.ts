// Fault row "409/429/5xx bursts on the API server" (issue 14 item 8), on the real kube-apiserver behind the
// fault-injecting proxy: retries succeed, one RayJob per job, nothing left after stop. Prints its row of the table.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKube, type KubeHarness } from './harness.js';
import { apiBurstFault } from '../support/api-faults.js';

let kube: KubeHarness;
before(async () => {
  kube = await startKube();
});
after(async () => kube?.stop());

test('KubeRayCompute through 429/503/500/502 bursts and lost create responses: every call succeeds, no duplicate RayJob, nothing orphaned', async () => {
  const row = await apiBurstFault(kube);
  console.log('fault | injected | happened | lost | orphaned');
  console.log(`${row.fault} | ${row.injected} | ${row.happened} | ${row.lost} | ${row.orphaned}`);
  const f = row.figures;
  assert.equal(f.errors, 0);
  assert.ok(f.bursts! >= 4 * 4, `bursts were injected (${f.bursts})`);
  assert.equal(f.lostResponses, 4, 'each job’s first create reached the server and its answer was lost');
  assert.ok(f.created! <= 4, 'no job reported created twice');
  assert.equal(f.gotBack, 4);
  assert.equal(f.listed, 4);
  assert.equal(f.held, 4);
  assert.equal(f.duplicates, 0);
  assert.equal(row.lost, 0);
  assert.equal(row.orphaned, 0);
});
