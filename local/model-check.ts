// Runs the model precheck (core/model-check.ts) on this machine: `<pythonEnv>/bin/python -m sentinel_sdk check`
// with the spec's code folder on PYTHONPATH, the request on stdin, the answer on stdout. No Ray is started.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { PipelineSpec } from '../core/spec.js';
import { interpretModelCheck, modelCheckRequest, type ModelCheckResult, type ProcessOutcome } from '../core/model-check.js';

export interface ModelCheckOptions {
  /** The Python environment with sentinel_sdk installed (the project's .venv). */
  pythonEnv: string;
  /** Prefix of the field paths in errors (the spec file). */
  where: string;
  timeoutMs?: number;
}

/** The checker's environment: ours, with the spec's (resolved) code folder first on PYTHONPATH. */
export function checkerEnv(spec: Pick<PipelineSpec, 'code'>, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (!spec.code) return { ...base };
  return { ...base, PYTHONPATH: base.PYTHONPATH ? `${spec.code}:${base.PYTHONPATH}` : spec.code };
}

export function runChecker(python: string, input: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', 'sentinel_sdk', 'check'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${python}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined); // a checker that exits without reading: its exit code says why
    child.stdin.end(input);
  });
}

/** Checks the spec's model params against the model's own schema; throws ValidationFailed naming the fields. */
export async function checkModel(spec: PipelineSpec, o: ModelCheckOptions): Promise<ModelCheckResult> {
  const outcome = await runChecker(join(o.pythonEnv, 'bin', 'python'), JSON.stringify(modelCheckRequest(spec)), checkerEnv(spec), o.timeoutMs ?? 120_000);
  return interpretModelCheck(outcome, o.where);
}
