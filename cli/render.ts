// `sentinel render --out DIR`: writes the deployable artifacts offline, from the same code infra and the local runtime
// use. Later issues add the Kubernetes manifests, RBAC and IAM documents here.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPipelineDefinition, STATE_MACHINE_FUNCTIONS, type StateMachineFunction } from '../workflows/pipeline.js';
import { toMermaid } from '../workflows/graph.js';
import { patterns } from '../events/patterns.js';

export interface RenderOptions {
  out: string;
  region: string;
  account: string;
  stage: string;
}

export const functionArnFor = (o: Omit<RenderOptions, 'out'>, fn: string) => `arn:aws:lambda:${o.region}:${o.account}:function:sentinel-${o.stage}-${fn}`;

export async function render(o: RenderOptions): Promise<string[]> {
  const functionArns = Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f) => [f, functionArnFor(o, f)])) as Record<StateMachineFunction, string>;
  const definition = buildPipelineDefinition({ functionArns });
  const files: Array<[string, string]> = [
    ['statemachines/pipeline.asl.json', `${JSON.stringify(definition, null, 2)}\n`],
    ['statemachines/pipeline.mmd', toMermaid(definition)],
    ...Object.entries(patterns).map(([name, p]): [string, string] => [`events/${name}.pattern.json`, `${JSON.stringify(p, null, 2)}\n`]),
  ];
  for (const [rel, text] of files) {
    await mkdir(join(o.out, rel, '..'), { recursive: true });
    await writeFile(join(o.out, rel), text);
  }
  return files.map(([rel]) => join(o.out, rel));
}
