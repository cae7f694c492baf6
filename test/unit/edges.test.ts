// Edges of core's small helpers that mutation testing (npm run mutation) found untested: what a caller gets back
// at a boundary, and which field an error names (not its wording).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinUri } from '../../core/artifacts.js';
import { SearchDimensionSchema } from '../../core/contract.js';
import { jobNameFor } from '../../core/names.js';
import { isSentinelError, ErrorNames } from '../../core/errors.js';

test('artifact URIs: the root keeps its own leading part, later parts lose their slashes, empty parts drop out', () => {
  assert.equal(joinUri('s3://bucket/prefix/', '/breast-cancer/', '', 'r0a1b2c3d4'), 's3://bucket/prefix/breast-cancer/r0a1b2c3d4');
  assert.equal(joinUri('/tmp/home', 'p', '//r//'), '/tmp/home/p/r');
  assert.equal(joinUri('root', '', ''), 'root');
});

test('a search dimension needs lower strictly below upper, for floats and integers alike', () => {
  const path = (d: unknown) => {
    const r = SearchDimensionSchema.safeParse(d);
    return r.success ? 'accepted' : r.error.issues.map((i) => i.path.join('.')).join(',');
  };
  for (const type of ['uniform', 'loguniform', 'randint']) {
    assert.equal(path({ type, lower: 1, upper: 2 }), 'accepted', type);
    assert.equal(path({ type, lower: 2, upper: 2 }), 'lower', `${type}: equal bounds`);
    assert.equal(path({ type, lower: 3, upper: 2 }), 'lower', `${type}: reversed bounds`);
  }
});

test('a job name that cannot be built names the field at fault and the value given', () => {
  const fault = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(isSentinelError(e, ErrorNames.ValidationFailed));
      return e;
    }
    assert.fail('no error');
  };
  const run = fault(() => jobNameFor('p', 'not-a-run', 'train', 1));
  assert.equal(run.where, 'runId');
  assert.match(run.message, /not-a-run/);
  for (const attempt of [0, 100, 1.5]) {
    const e = fault(() => jobNameFor('p', 'r0a1b2c3d4', 'train', attempt));
    assert.equal(e.where, 'attempt');
    assert.match(e.message, new RegExp(String(attempt).replace('.', '\\.')));
  }
  const long = fault(() => jobNameFor('p'.repeat(40), 'r0a1b2c3d4', 'train', 1));
  assert.equal(long.where, 'pipeline');
  assert.match(long.message, /pppp/);
  assert.equal(jobNameFor('p', 'r0a1b2c3d4', 'train', 99), 'p-r0a1b2c3d4-train-99');
});
