// The model precheck: before any compute, the model module named by the spec checks its own params (and the search
// space, worker count, GPUs and task against what it supports) through `python -m sentinel_sdk check`. This is the
// pure part: the request from the spec, and the checker's answer turned into a result or an error naming the
// spec's fields. Running the process is the caller's (local/model-check.ts); core starts no processes.
import { z } from 'zod';
import type { PipelineSpec } from './spec.js';
import { validationFailed } from './errors.js';

/** What the checker reads on stdin. */
export interface ModelCheckRequest {
  model: { module: string; params: Record<string, unknown> };
  task: PipelineSpec['task'];
  searchSpace: PipelineSpec['stages']['tune']['searchSpace'];
  numWorkers: number;
  gpu: number;
}

export const modelCheckRequest = (spec: PipelineSpec): ModelCheckRequest => ({
  model: { module: spec.model.module, params: spec.model.params },
  task: spec.task,
  searchSpace: spec.stages.tune.searchSpace,
  numWorkers: spec.stages.train.numWorkers,
  gpu: spec.stages.train.resources.gpu,
});

const Accepted = z.object({ ok: z.literal(true), framework: z.string().min(1), paramsSchema: z.unknown(), tasks: z.array(z.string()).optional() }).loose();
const Refused = z
  .object({
    ok: z.literal(false),
    errors: z.array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() }).loose()).min(1),
  })
  .loose();

export interface ModelCheckResult {
  framework: string;
  paramsSchema: unknown;
  tasks?: string[];
}

/** How the checker process ended. */
export interface ProcessOutcome {
  /** null when it was killed (signal, timeout). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  signal?: string | null;
}

const STDERR_TAIL_LINES = 20;
const MAX_ERRORS = 10;

const tail = (text: string, lines = STDERR_TAIL_LINES) => {
  const all = text.replace(/\s+$/, '').split('\n');
  return all.slice(-lines).join('\n');
};

/** The last JSON object line of stdout (a model module may print while it is imported). */
function answerOf(stdout: string): unknown {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i]!.startsWith('{')) continue;
    try {
      return JSON.parse(lines[i]!);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** A field path of the checker (["model", "params", "max_depth"]) as a spec field (`spec.yaml.model.params.max_depth`). */
export const specFieldOf = (where: string, path: ReadonlyArray<string | number>) =>
  [where, ...path.map((p) => (typeof p === 'number' ? `[${p}]` : p))].join('.').replace(/\.\[/g, '[');

/**
 * The checker's outcome as a result, or a thrown error: ValidationFailed naming each refused field under `where`
 * (exit 1 with `ok: false`), or, for anything else (another exit code, a signal, garbage on stdout), an error that
 * says the checker itself crashed, with the tail of its stderr.
 */
export function interpretModelCheck(outcome: ProcessOutcome, where: string, command = 'python -m sentinel_sdk check'): ModelCheckResult {
  const answer = answerOf(outcome.stdout);
  if (outcome.exitCode === 0) {
    const ok = Accepted.safeParse(answer);
    if (ok.success) return { framework: ok.data.framework, paramsSchema: ok.data.paramsSchema, ...(ok.data.tasks ? { tasks: ok.data.tasks } : {}) };
  } else if (outcome.exitCode === 1) {
    const refused = Refused.safeParse(answer);
    if (refused.success) {
      const errors = refused.data.errors;
      const lines = errors.slice(0, MAX_ERRORS).map((e) => `${specFieldOf(where, e.path)}: ${e.message}`);
      if (errors.length > MAX_ERRORS) lines.push(`… and ${errors.length - MAX_ERRORS} more`);
      throw validationFailed(lines.join('; '));
    }
  }
  const how = outcome.exitCode === null ? `was killed${outcome.signal ? ` (${outcome.signal})` : ''}` : `exited with code ${outcome.exitCode}`;
  const said = answer === undefined ? (outcome.stdout.trim() ? 'an answer that is not the checker\'s JSON' : 'no answer') : 'an answer of the wrong shape';
  const stderr = tail(outcome.stderr);
  throw new ModelCheckCrashed(`${where}: the model check (${command}) ${how} with ${said}${stderr ? `; its stderr ends:\n${stderr}` : ' and nothing on stderr'}`);
}

/** The checker could not answer: its environment is broken, not (as far as anyone can tell) the spec. */
export class ModelCheckCrashed extends Error {
  override readonly name = 'ModelCheckCrashed';
}
