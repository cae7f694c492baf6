// `sentinel init NAME --template xgboost|sklearn|lightning`: scaffolds a pipeline folder (spec, model module, its
// test, a dataset to start from) that `sentinel run --spec NAME/pipeline.yaml` runs unchanged.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PIPELINE_NAME_PATTERN } from '../core/spec.js';

const run = promisify(execFile);
export const TEMPLATES = ['xgboost', 'sklearn', 'lightning'] as const;
export type Template = (typeof TEMPLATES)[number];

interface TemplateManifest {
  dataset: string;
  files: Record<string, string>;
}

export interface InitOptions {
  repoRoot: string;
  name: string;
  template: string;
  parent: string;
  pythonEnv: string;
  /** Tests may skip writing the dataset (it runs Python). */
  writeData?: boolean;
}

export const moduleNameFor = (name: string) => `${name.replace(/-/g, '_')}_model`;

/** Writes the scaffold; returns the files written. Throws with what is wrong and what to do. */
export async function initPipeline(o: InitOptions): Promise<string[]> {
  if (!PIPELINE_NAME_PATTERN.test(o.name)) throw new Error(`NAME "${o.name}" must be 1-24 chars of a-z, 0-9 and "-", starting with a letter (it becomes part of Kubernetes names)`);
  if (!(TEMPLATES as readonly string[]).includes(o.template)) throw new Error(`--template must be one of ${TEMPLATES.join(', ')}; got "${o.template}"`);
  const dir = join(o.parent, o.name);
  if (existsSync(dir)) throw new Error(`${dir} already exists; pick another NAME or --dir`);
  const source = join(o.repoRoot, 'templates', o.template);
  const manifest = JSON.parse(readFileSync(join(source, 'template.json'), 'utf8')) as TemplateManifest;
  const fill = (text: string) => text.replaceAll('{{name}}', o.name).replaceAll('{{module}}', moduleNameFor(o.name));
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  try {
    for (const file of readdirSync(source)) {
      if (file === 'template.json') continue;
      const dest = join(dir, fill(manifest.files[file] ?? file));
      writeFileSync(dest, fill(readFileSync(join(source, file), 'utf8')));
      written.push(dest);
    }
    if (o.writeData !== false) {
      const data = join(dir, 'data.csv');
      await run(join(o.pythonEnv, 'bin', 'python'), ['-m', 'sentinel_jobs.reference_data', manifest.dataset, data], { timeout: 120_000 });
      written.push(data);
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true }); // nothing half-written is left behind
    throw e;
  }
  return written;
}
