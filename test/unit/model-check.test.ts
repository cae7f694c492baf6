// The model precheck's pure part: the request from the spec, and the checker's answer mapped to the spec's fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpretModelCheck, modelCheckRequest, specFieldOf, ModelCheckCrashed } from '../../core/model-check.js';
import { validateSpec } from '../../core/spec.js';
import { checkerEnv } from '../../local/model-check.js';
import { referenceSpec } from '../support/reference.js';

const answer = (exitCode: number | null, stdout: unknown, stderr = '') => ({
  exitCode,
  stdout: typeof stdout === 'string' ? stdout : `${JSON.stringify(stdout)}\n`,
  stderr,
});

test('the request carries the model, the task, the search space, the workers and the GPUs', () => {
  const s = referenceSpec() as any;
  s.stages.train.numWorkers = 2;
  s.stages.train.resources.gpu = 1;
  const spec = validateSpec(s);
  assert.deepEqual(modelCheckRequest(spec), {
    model: { module: 'sentinel_jobs.models.xgboost', params: { max_depth: 4, eta: 0.1, subsample: 0.9 } },
    task: 'binary',
    searchSpace: spec.stages.tune.searchSpace,
    numWorkers: 2,
    gpu: 1,
  });
});

test('an accepted model: framework and params schema', () => {
  const r = interpretModelCheck(answer(0, { ok: true, framework: 'xgboost', tasks: ['binary'], paramsSchema: { type: 'object' } }), 'spec.yaml');
  assert.deepEqual(r, { framework: 'xgboost', tasks: ['binary'], paramsSchema: { type: 'object' } });
  // Lines a module prints while it is imported come before the answer; the answer is the last JSON line.
  const noisy = interpretModelCheck(answer(0, `loading…\n${JSON.stringify({ ok: true, framework: 'sklearn', paramsSchema: {} })}\n`), 'spec.yaml');
  assert.equal(noisy.framework, 'sklearn');
});

test('refused params become ValidationFailed naming each spec field', () => {
  const refused = answer(1, {
    ok: false,
    errors: [
      { path: ['model', 'params', 'max_depth'], message: 'Input should be greater than or equal to 0' },
      { path: ['model', 'params', 'etaa'], message: 'Extra inputs are not permitted' },
      { path: ['stages', 'tune', 'searchSpace', 'foo'], message: 'not a parameter of the model' },
      { path: ['model', 'params', 'layers', 2], message: 'must be positive' },
    ],
  });
  assert.throws(() => interpretModelCheck(refused, 'pipelines/x.yaml'), (e: Error) => {
    assert.equal(e.name, 'ValidationFailed');
    const fields = e.message.split('; ').map((l) => l.split(': ')[0]);
    assert.deepEqual(fields, [
      'pipelines/x.yaml.model.params.max_depth',
      'pipelines/x.yaml.model.params.etaa',
      'pipelines/x.yaml.stages.tune.searchSpace.foo',
      'pipelines/x.yaml.model.params.layers[2]',
    ]);
    assert.match(e.message, /max_depth: Input should be greater than or equal to 0/);
    return true;
  });
  assert.equal(specFieldOf('s', ['task']), 's.task');
  const many = answer(1, { ok: false, errors: Array.from({ length: 14 }, (_, i) => ({ path: ['model', 'params', `p${i}`], message: 'x' })) });
  assert.throws(() => interpretModelCheck(many, 's'), { message: /… and 4 more$/ });
});

test('anything else is a crash of the checker, shown with the tail of its stderr', () => {
  const cases = [
    answer(2, '', 'Traceback (most recent call last):\nModuleNotFoundError: No module named \'sentinel_sdk\'\n'),
    answer(0, 'not json at all'),
    answer(1, { ok: true, framework: 'x', paramsSchema: {} }), // exit 1 with an "ok" answer
    answer(0, { ok: false, errors: [{ path: [], message: 'x' }] }), // exit 0 with a refusal
    answer(1, { ok: false, errors: [] }),
    { exitCode: null, signal: 'SIGKILL', stdout: '', stderr: '' },
  ];
  for (const c of cases) {
    assert.throws(() => interpretModelCheck(c, 'spec.yaml'), (e: Error) => e instanceof ModelCheckCrashed && /^spec\.yaml: the model check/.test(e.message), JSON.stringify(c));
  }
  assert.throws(() => interpretModelCheck(cases[0]!, 'spec.yaml'), { message: /exited with code 2 .*stderr ends:\n.*ModuleNotFoundError: No module named 'sentinel_sdk'/s });
  assert.throws(() => interpretModelCheck(cases[5]!, 'spec.yaml'), { message: /was killed \(SIGKILL\)/ });
  const long = answer(3, '', Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n'));
  assert.throws(() => interpretModelCheck(long, 'spec.yaml'), (e: Error) => e.message.includes('line 99') && !e.message.includes('line 10\n'));
});

test('the checker gets the spec\'s code folder first on PYTHONPATH', () => {
  assert.equal(checkerEnv({ code: '/p/churn' }, { PATH: '/bin' }).PYTHONPATH, '/p/churn');
  assert.equal(checkerEnv({ code: '/p/churn' }, { PYTHONPATH: '/x' }).PYTHONPATH, '/p/churn:/x');
  assert.equal(checkerEnv({}, { PATH: '/bin' }).PYTHONPATH, undefined);
});
