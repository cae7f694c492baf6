// The repository root and the reference pipeline's spec, without the local runtime: the unit tests that need only
// these import them from here (test/support/harness.ts loads the whole local runtime, about a second per test
// process).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateSpec, type PipelineSpec, type PipelineSpecInput } from '../../core/spec.js';
import { runIdFor } from '../../core/run-id.js';
import type { RunContext } from '../../core/model.js';

export const repoRoot = join(import.meta.dirname, '..', '..');

export function referenceSpec(): PipelineSpecInput {
  return parse(readFileSync(join(repoRoot, 'pipelines', 'breast-cancer.yaml'), 'utf8')) as PipelineSpecInput;
}

/** A manual run of the validated reference spec with fixed identity and S3 locations, for tests of core steps. */
export function referenceRun(spec: PipelineSpec = validateSpec(referenceSpec())): RunContext {
  return {
    pipeline: spec.name,
    runId: runIdFor(spec.name, { kind: 'manual', requestId: 'x' }),
    trigger: { kind: 'manual', requestId: 'x' },
    artifactRoot: 's3://bkt/artifacts',
    datasetUri: 's3://bkt/d.csv',
    spec,
    requestedAt: '2024-06-01T00:00:00.000Z',
  };
}
