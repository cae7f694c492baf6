// Fault row "SIGKILL of each in-process handler mid-call" (issue 14 item 8): submit-stage, finish-run and promote,
// each in a child process over the local store, file tokens, file-backed jobs and serving, SIGKILLed right after
// each write of a clean call, then called again (Step Functions' retry, SQS redelivery): the outcome is one clean
// call's, nothing half-recorded, no extra job, token or object. Prints its row of the fault table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sigkillFault } from '../support/sigkill-faults.js';

test('SIGKILL after each write of submit-stage, finish-run and promote, then a rerun: the state and result of one clean call', async () => {
  const { row, cases } = await sigkillFault();
  console.log('fault | injected | happened | lost | orphaned');
  console.log(`${row.fault} | ${row.injected} | ${row.happened} | ${row.lost} | ${row.orphaned}`);
  for (const c of cases) {
    assert.ok(c.writes >= 1, `${c.handler} writes something`);
    assert.equal(c.killed, c.kills, `${c.handler}: every kill landed`);
    assert.deepEqual(c.errors, [], c.handler);
    assert.deepEqual(c.missing, [], `${c.handler}: half-recorded`);
    assert.deepEqual(c.changed, [], `${c.handler}: differs from a clean call`);
    assert.deepEqual(c.extra, [], `${c.handler}: orphaned`);
    assert.equal(c.sameAsClean, c.kills);
  }
  // submit-stage's token write comes after its create: a kill between them leaves a job the rerun must find.
  assert.ok(cases.find((c) => c.handler === 'submit-stage')!.foundExisting >= 1);
  assert.equal(row.lost, 0);
  assert.equal(row.orphaned, 0);
});
