// The stage input on the wire (core/stage-input-wire.ts) and runtimeEnvYAML under a YAML 1.1 parser
// (core/kuberay/yaml11.ts): what Ray (`$VAR`), YAML 1.1 (NEL, LS, PS) or a shell would alter comes back byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { decodeStageInput, encodeStageInput, STAGE_INPUT_ENV } from '../../core/stage-input-wire.js';
import { rayJobFor, runtimeEnvFor, runtimeEnvYAMLFor } from '../../core/kuberay/rayjob.js';
import { yaml11Json } from '../../core/kuberay/yaml11.js';
import { jobEnvVars } from '../../adapters/ray/jobs-compute.js';
import { conformanceRequest, HOSTILE_TEXT, hostileInput } from '../k8s/conformance.js';
import { parseYaml11 } from '../support/yaml11.js';

const utf8 = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');

test('the stage input travels as base64 of its UTF-8 JSON: no `$`, quote or line break of any kind on the wire', () => {
  const input = hostileInput();
  const value = encodeStageInput(input);
  assert.match(value, /^[A-Za-z0-9+/]+={0,2}$/);
  assert.equal(Buffer.compare(Buffer.from(value, 'base64'), utf8(input)), 0);
  assert.equal(Buffer.compare(utf8(decodeStageInput(value)), utf8(input)), 0);
  // Both backends put exactly this value in the job's env.
  assert.equal(jobEnvVars({ PATH: '/bin' }, { input })[STAGE_INPUT_ENV], value);
  assert.equal(runtimeEnvFor({ input }).env_vars[STAGE_INPUT_ENV], value);
});

test('a value that is not base64 of UTF-8 JSON is a ValidationFailed naming the variable, never a guess', () => {
  const bad = [undefined, '', '{"a":1}', 'e30', 'e30=\n', ' e30=', 'é30=', Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64'), Buffer.from('{nope').toString('base64')];
  for (const value of bad) {
    assert.throws(() => decodeStageInput(value), (e: Error & { where?: string }) => {
      assert.equal(e.name, 'ValidationFailed', String(value));
      assert.equal(e.where, STAGE_INPUT_ENV);
      return true;
    });
  }
  assert.deepEqual(decodeStageInput('e30='), {});
});

test('runtimeEnvYAML reads back byte for byte under YAML 1.1 (libyaml, as the operator) and YAML 1.2', () => {
  // Every value of the runtime env, not only the (base64) input: PYTHONPATH carries the same characters here.
  const req = { input: hostileInput(), pythonPath: `/opt/code/${HOSTILE_TEXT.replaceAll('$', '').replaceAll(':', '')}` };
  const yaml = runtimeEnvYAMLFor(req);
  const want = runtimeEnvFor(req);
  assert.doesNotMatch(yaml, /[\u0085\u2028\u2029\u007f-\u009f]/, 'none of them raw');
  for (const [parser, parsed] of [
    ['libyaml (YAML 1.1)', parseYaml11(yaml)],
    ['yaml 1.1', parseYaml(yaml, { version: '1.1' })],
    ['yaml 1.2', parseYaml(yaml)],
    ['JSON', JSON.parse(yaml)],
  ] as const) {
    assert.equal(Buffer.compare(utf8(parsed), utf8(want)), 0, parser);
  }
  const env = (parseYaml11(rayJobFor({ ...conformanceRequest('r000000001', 'ingest', req.input), pythonPath: req.pythonPath }, { namespace: 'ml' }).spec!.runtimeEnvYAML) as typeof want).env_vars;
  assert.equal(Buffer.compare(utf8(decodeStageInput(env[STAGE_INPUT_ENV])), utf8(req.input)), 0);
});

test('yaml11Json: raw NEL, LS and PS are what a YAML 1.1 parser alters; escaped, they survive; a lone surrogate is refused', () => {
  const text = 'a \u0085 b \u2028 c \u2029 d \u007f \u0080 \u00a0 \ufeff é 😀';
  const breaks = 'a \u0085 b \u2028 c \u2029 d';
  assert.equal((parseYaml11(JSON.stringify({ breaks })) as { breaks: string }).breaks, 'a b\u2028c\u2029d', 'raw, YAML 1.1 folds them: why the escaping exists');
  assert.throws(() => parseYaml11(JSON.stringify({ del: '\u007f' })), 'raw, YAML 1.1 refuses DEL');
  assert.equal((parseYaml11(yaml11Json({ text }, 'x')) as { text: string }).text, text);
  assert.match(yaml11Json({ text }, 'x'), /😀/, 'astral characters stay raw: a YAML 1.1 parser would not rejoin an escaped surrogate pair');
  assert.throws(() => yaml11Json({ env_vars: { K: 'a\ud800b' } }, 'runtimeEnv'), (e: Error & { where?: string }) => e.name === 'ValidationFailed' && e.where === 'runtimeEnv.K');
});
