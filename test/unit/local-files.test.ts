// Spec files on one machine (paths relative to the file) and `sentinel init` (a scaffold from templates/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadSpecFile, resolveSpecPaths } from '../../local/spec-file.js';
import { REFERENCE_DATASETS, specDatasetPath } from '../../local/dataset.js';
import { validateSpec } from '../../core/spec.js';
import { initPipeline, moduleNameFor, TEMPLATES } from '../../cli/init.js';
import { referenceSpec, repoRoot } from '../support/reference.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'sentinel-files-'));

test('a spec file\'s relative code folder and ./ or ../ dataset become absolute; other URIs stay as they are', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'pipes', 'churn'), { recursive: true });
  const file = join(dir, 'pipes', 'churn', 'pipeline.yaml');
  const write = (mutate: (s: any) => void) => {
    const s = referenceSpec() as any;
    mutate(s);
    writeFileSync(file, stringifyYaml(s));
    return loadSpecFile(file);
  };
  const local = write((s) => Object.assign(s, { code: '.', dataset: { ...s.dataset, uri: './data.csv' } }));
  assert.equal(local.code, join(dir, 'pipes', 'churn'));
  assert.equal(local.dataset.uri, join(dir, 'pipes', 'churn', 'data.csv'));
  const up = write((s) => Object.assign(s, { code: '../shared/models', dataset: { ...s.dataset, uri: '../data/d.csv' } }));
  assert.equal(up.code, join(dir, 'pipes', 'shared', 'models'));
  assert.equal(up.dataset.uri, join(dir, 'pipes', 'data', 'd.csv'));
  // A key in the bucket, an absolute path and an S3 URI are not file-relative.
  for (const uri of ['datasets/churn/x.csv', '/data/x.csv', 's3://bucket/datasets/churn/x.csv']) {
    assert.equal(write((s) => (s.dataset.uri = uri)).dataset.uri, uri);
  }
  assert.equal(write((s) => (s.code = '/opt/churn')).code, '/opt/churn');
  assert.equal(write(() => undefined).code, undefined);
  // The bucket key still resolves inside the bucket; a resolved path is used as is.
  assert.equal(specDatasetPath('/b', write((s) => (s.dataset.uri = 'datasets/churn/x.csv'))), join('/b', 'datasets/churn/x.csv'));
  assert.equal(specDatasetPath('/b', local), join(dir, 'pipes', 'churn', 'data.csv'));
  // What deploySpec writes (the resolved spec as YAML) validates to the same spec, without the spec's folder.
  assert.deepEqual(validateSpec(parseYaml(stringifyYaml(local))), local);
  // Not a mapping, or no strings where paths go: left for the schema to report.
  assert.equal(resolveSpecPaths(null, file), null);
  assert.deepEqual(resolveSpecPaths({ code: 3, dataset: 'x' }, file), { code: 3, dataset: 'x' });
  assert.throws(() => loadSpecFile(join(dir, 'missing.yaml')), { name: 'ValidationFailed', message: /missing\.yaml: cannot read the spec/ });
});

test('every reference pipeline\'s dataset key has a reference dataset that writes it', () => {
  for (const name of ['breast-cancer', 'iris', 'diabetes', 'movielens']) {
    const spec = loadSpecFile(join(repoRoot, 'pipelines', `${name}.yaml`));
    assert.equal(REFERENCE_DATASETS[spec.dataset.uri], name, spec.dataset.uri);
  }
});

/** A stand-in Python environment whose python records its arguments and writes the requested CSV. */
function fakePythonEnv(fail = false) {
  const env = tmp();
  mkdirSync(join(env, 'bin'));
  const log = join(env, 'calls.log');
  const python = join(env, 'bin', 'python');
  writeFileSync(python, `#!/bin/sh\necho "$@" >> '${log}'\n${fail ? 'echo "no sklearn" >&2; exit 1' : 'printf "a,b,target\\n1,2,0\\n" > "$4"'}\n`);
  chmodSync(python, 0o755);
  return { env, log };
}

test('sentinel init fills the name and module into the template\'s files and names, and writes its dataset', async () => {
  for (const template of TEMPLATES) {
    const parent = tmp();
    const python = fakePythonEnv();
    const written = await initPipeline({ repoRoot, name: 'churn-risk', template, parent, pythonEnv: python.env });
    const dir = join(parent, 'churn-risk');
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'templates', template, 'template.json'), 'utf8')) as { dataset: string };
    assert.equal(moduleNameFor('churn-risk'), 'churn_risk_model');
    assert.deepEqual(readdirSync(dir).sort(), ['churn_risk_model.py', 'data.csv', 'pipeline.yaml', 'test_churn_risk_model.py']);
    assert.deepEqual(written.sort(), readdirSync(dir).map((f) => join(dir, f)).sort());
    for (const f of readdirSync(dir)) assert.doesNotMatch(readFileSync(join(dir, f), 'utf8'), /\{\{\s*(name|module)\s*\}\}/, `${template}/${f}`);
    assert.equal(readFileSync(python.log, 'utf8').trim(), `-m sentinel_jobs.reference_data ${manifest.dataset} ${join(dir, 'data.csv')}`);
    // The scaffolded spec is valid as written, and its model is the scaffolded module beside it.
    const spec = loadSpecFile(join(dir, 'pipeline.yaml'));
    assert.equal(spec.name, 'churn-risk');
    assert.equal(spec.code, dir);
    assert.equal(spec.dataset.uri, join(dir, 'data.csv'));
    assert.equal(spec.model.module.split(':')[0], 'churn_risk_model');
    assert.match(readFileSync(join(dir, 'test_churn_risk_model.py'), 'utf8'), /churn_risk_model/);
  }
});

test('sentinel init refuses a bad name, an unknown template and an existing folder, and leaves nothing half-written', async () => {
  const parent = tmp();
  const { env } = fakePythonEnv();
  const init = (name: string, template = 'xgboost') => initPipeline({ repoRoot, name, template, parent, pythonEnv: env });
  await assert.rejects(init('Churn_Risk'), /NAME "Churn_Risk" must be 1-24 chars/);
  await assert.rejects(init('a'.repeat(25)), /must be 1-24 chars/);
  await assert.rejects(init('churn', 'tensorflow'), /--template must be one of xgboost, sklearn, lightning/);
  mkdirSync(join(parent, 'taken'));
  writeFileSync(join(parent, 'taken', 'keep.txt'), 'mine');
  await assert.rejects(init('taken'), /already exists/);
  assert.equal(readFileSync(join(parent, 'taken', 'keep.txt'), 'utf8'), 'mine', 'an existing folder is left alone');
  const failing = fakePythonEnv(true);
  await assert.rejects(initPipeline({ repoRoot, name: 'nodata', template: 'sklearn', parent, pythonEnv: failing.env }));
  assert.equal(existsSync(join(parent, 'nodata')), false);
  // Without data (writeData: false), only the template's files.
  await initPipeline({ repoRoot, name: 'bare', template: 'sklearn', parent, pythonEnv: '/nowhere', writeData: false });
  assert.deepEqual(readdirSync(join(parent, 'bare')).sort(), ['bare_model.py', 'pipeline.yaml', 'test_bare_model.py']);
});
