// The repository root and the reference pipeline's spec, without the local runtime: the unit tests that need only
// these import them from here (test/support/harness.ts loads the whole local runtime, about a second per test
// process).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { PipelineSpecInput } from '../../core/spec.js';

export const repoRoot = join(import.meta.dirname, '..', '..');

export function referenceSpec(): PipelineSpecInput {
  return parse(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8')) as PipelineSpecInput;
}
