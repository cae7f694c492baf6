// Loading a spec file on one machine: paths in it are relative to the file (`code`, and a `dataset.uri` starting
// with ./ or ../), resolved here before validation, so everything downstream sees absolute folders. Other relative
// dataset URIs stay keys in the bucket, as a deployed spec has them.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseSpec, validateSpec, type PipelineSpec } from '../core/spec.js';
import { validationFailed } from '../core/errors.js';

/** Resolves the file-relative paths of a parsed (not yet validated) spec object. */
export function resolveSpecPaths(raw: unknown, specPath: string): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const base = dirname(resolve(specPath));
  const spec = { ...(raw as Record<string, unknown>) };
  if (typeof spec.code === 'string' && spec.code.length > 0 && !isAbsolute(spec.code)) spec.code = resolve(base, spec.code);
  const dataset = spec.dataset;
  if (dataset && typeof dataset === 'object' && !Array.isArray(dataset)) {
    const d = { ...(dataset as Record<string, unknown>) };
    if (typeof d.uri === 'string' && /^\.\.?\//.test(d.uri)) d.uri = resolve(base, d.uri);
    spec.dataset = d;
  }
  return spec;
}

/** Reads, resolves and validates a spec file; errors name the file and the field. */
export function loadSpecFile(specPath: string): PipelineSpec {
  let text: string;
  try {
    text = readFileSync(specPath, 'utf8');
  } catch (e) {
    throw validationFailed(`cannot read the spec: ${(e as Error).message}`, specPath);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch {
    return parseSpec(text, specPath); // the same "not valid YAML" error the parser gives
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return parseSpec(text, specPath);
  return validateSpec(resolveSpecPaths(raw, specPath), specPath);
}
