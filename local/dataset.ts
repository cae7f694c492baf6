// Datasets on one machine: "uploading" copies a CSV into the local bucket under datasets/<pipeline>/, where an S3
// upload would land; the reference dataset is written out by the jobs package from scikit-learn's bundled data.
import { copyFile, mkdir, open } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join, isAbsolute, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { checkCsvHeader } from '../core/csv-header.js';
import { validationFailed } from '../core/errors.js';
import type { PipelineSpec } from '../core/spec.js';

const run = promisify(execFile);

async function firstLine(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8').split('\n')[0] ?? '';
  } finally {
    await fh.close();
  }
}

/** Checks a local CSV exists, is not empty and has the target column; names the file and the problem. */
export async function preflightCsv(path: string, spec: PipelineSpec) {
  if (!existsSync(path)) throw validationFailed(`no such file`, path);
  checkCsvHeader(await firstLine(path), spec.dataset.target, path);
}

/** Copies a CSV into the bucket as an upload would; returns its URI (an absolute path). */
export async function uploadDataset(bucket: string, spec: PipelineSpec, file: string): Promise<string> {
  await preflightCsv(file, spec);
  const dir = join(bucket, 'datasets', spec.name);
  await mkdir(dir, { recursive: true });
  const dest = join(dir, basename(file));
  if (resolve(file) !== dest) await copyFile(file, dest);
  return dest;
}

/** The spec's dataset: a relative URI is a key in the bucket. */
export const specDatasetPath = (bucket: string, spec: PipelineSpec) =>
  isAbsolute(spec.dataset.uri) ? spec.dataset.uri : join(bucket, spec.dataset.uri);

/** The reference pipelines' dataset keys and the generator that writes each (nothing is downloaded). */
export const REFERENCE_DATASETS: Record<string, string> = {
  'datasets/breast-cancer/breast-cancer.csv': 'breast-cancer',
  'datasets/iris/iris.csv': 'iris',
  'datasets/diabetes/diabetes.csv': 'diabetes',
  'datasets/movielens/ratings.csv': 'movielens',
};

/** Writes a reference dataset as the CSV a user would upload: scikit-learn's bundled data, or MovieLens-shaped
 * ratings generated deterministically. */
export async function writeReferenceDataset(pythonEnv: string, dest: string, name = 'breast-cancer') {
  await mkdir(resolve(dest, '..'), { recursive: true });
  await run(join(pythonEnv, 'bin', 'python'), ['-m', 'sentinel_jobs.reference_data', name, dest], { timeout: 120_000 });
}
