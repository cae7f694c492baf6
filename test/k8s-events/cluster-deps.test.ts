// The cluster-side Lambda entries' settings from the environment, and that loading an entry does no I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { idleMs, managedNodeGroups, nodeHandling, parseBool, NODE_HANDLING_ENV } from '../../functions/aws/cluster-deps.js';
import { ENV } from '../../functions/aws/deps.js';
import { PLACEHOLDER_ENV } from '../../infra/bundles.js';

test('node handling: true/false, default true, anything else refused', () => {
  assert.equal(nodeHandling({}), true);
  assert.equal(nodeHandling({ [NODE_HANDLING_ENV]: 'false' }), false);
  assert.equal(nodeHandling({ [NODE_HANDLING_ENV]: 'true' }), true);
  assert.throws(() => parseBool(NODE_HANDLING_ENV, 'False', true), /must be "true" or "false"/);
  assert.throws(() => nodeHandling({ [NODE_HANDLING_ENV]: '0' }), /SENTINEL_NODE_HANDLING/);
});

test('idle timeout in minutes → ms; missing, zero or junk refused', () => {
  assert.equal(idleMs({ [ENV.idleTimeoutMinutes]: '15' }), 15 * 60_000);
  assert.equal(idleMs({ [ENV.idleTimeoutMinutes]: '0.5' }), 30_000);
  for (const bad of [undefined, '', '0', '-3', 'soon', 'Infinity']) assert.throws(() => idleMs({ [ENV.idleTimeoutMinutes]: bad }), /minutes > 0/);
});

test('node groups: comma list, blanks and duplicates dropped, names checked', () => {
  assert.deepEqual(managedNodeGroups({}), []);
  assert.deepEqual(managedNodeGroups({ [ENV.scaleToZeroNodeGroups]: '' }), []);
  assert.deepEqual(managedNodeGroups({ [ENV.scaleToZeroNodeGroups]: ' gpu-spot, cpu_spot ,,gpu-spot' }), ['gpu-spot', 'cpu_spot']);
  assert.throws(() => managedNodeGroups({ [ENV.scaleToZeroNodeGroups]: 'ok,bad=group' }), /bad=group/);
});

test('the entries load with the deployed environment and build nothing until invoked', async () => {
  Object.assign(process.env, PLACEHOLDER_ENV);
  const interruption = await import('../../functions/aws/handle-interruption.js');
  const reap = await import('../../functions/aws/reap-idle.js');
  assert.equal(typeof interruption.handler, 'function');
  assert.equal(typeof reap.handler, 'function');
});
