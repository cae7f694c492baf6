// `sentinel run`: one full local pipeline run, the same state machine that deploys, on a Ray head started here.
import { randomUUID } from 'node:crypto';
import type { PipelineSpec } from '../core/spec.js';
import { loadSpecFile } from '../local/spec-file.js';
import { preflightCsv } from '../local/dataset.js';
import { checkModel } from '../local/model-check.js';
import { isSentinelError } from '../core/errors.js';
import { bold, dim, red } from './format.js';
import { followRun, jsonOutput, out, pythonEnvFor, withSession } from './session-command.js';

export interface RunCommandOptions {
  repoRoot: string;
  home: string;
  specPath: string;
  datasetPath?: string;
  requestId?: string;
  servePort: number;
  /** Keep serving after the run until Ctrl-C. */
  serve: boolean;
  json: boolean;
  /** 'local' (default): an MLflow server started beside the Ray head; { uri }: a team's server; 'off': none. */
  tracking: 'local' | 'off' | { uri: string };
}

/** Reads and validates a spec; a bad spec costs a second, not a Ray head. */
export function loadSpecOrExplain(specPath: string): PipelineSpec | undefined {
  try {
    return loadSpecFile(specPath);
  } catch (e) {
    process.stderr.write(`${red('✖ spec rejected')}: ${(e as Error).message}\n`);
    return undefined;
  }
}

/**
 * The model checks its own params (and search space, workers, GPUs, task) before any compute: a typo in
 * model.params costs seconds, not a Ray head. Returns the exit code to stop with, or undefined to go on.
 */
export async function checkModelOrExplain(spec: PipelineSpec, specPath: string, repoRoot: string): Promise<number | undefined> {
  try {
    const checked = await checkModel(spec, { pythonEnv: pythonEnvFor(repoRoot), where: specPath });
    out(dim(`  model ${spec.model.module} (${checked.framework}): params checked`));
    return undefined;
  } catch (e) {
    if (isSentinelError(e, 'ValidationFailed')) {
      process.stderr.write(`${red('✖ spec rejected')}: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`${red('✖ model check failed')}: ${(e as Error).message}\n`);
    return 1;
  }
}

export async function runCommand(o: RunCommandOptions): Promise<number> {
  jsonOutput(o.json);
  const spec = loadSpecOrExplain(o.specPath);
  if (!spec) return 2;
  if (o.datasetPath) {
    try {
      await preflightCsv(o.datasetPath, spec);
    } catch (e) {
      process.stderr.write(`${red('✖ dataset rejected')}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  out(`${bold('Sentinel')} local run of ${bold(spec.name)}  ${dim(`(spec ${o.specPath})`)}`);
  const refused = await checkModelOrExplain(spec, o.specPath, o.repoRoot);
  if (refused !== undefined) return refused;
  const { tracking, ...rest } = o;
  return withSession({ ...rest, ...(tracking !== 'off' ? { tracking } : {}) }, async (session, interrupted) => {
    await session.deploySpec(o.specPath, spec);
    const datasetUri = await session.prepareDataset(spec, o.datasetPath);
    out(dim(`  dataset ${datasetUri}`));
    const champion = await session.restoreChampion(spec);
    if (champion) out(dim(`  champion ${champion.runId} (${champion.metric} ${champion.value.toFixed(4)}) serving at ${session.endpoint(spec)}`));
    const started = await session.start(spec, datasetUri, o.requestId ?? randomUUID());
    const report = await followRun(session, started, spec, datasetUri, o.json);
    if (interrupted()) return 130;
    if (report.outcome.status === 'SUCCEEDED' && o.serve) {
      out(`\n${bold('Serving')} ${session.endpoint(spec)} — press Ctrl-C to stop.`);
      await new Promise(() => undefined);
    }
    return report.outcome.status === 'SUCCEEDED' ? 0 : 1;
  });
}
