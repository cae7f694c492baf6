// `sentinel render --out DIR`: writes every deployable artifact offline, from the same code infra and the local
// runtime use: the ASL and its graph, the EventBridge patterns, rules and schedules, every IAM policy and resource
// policy (aws/), and the Kubernetes manifests a run of a given spec would create plus the RBAC (kubernetes/).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPipelineDefinition, STATE_MACHINE_FUNCTIONS, type StateMachineFunction } from '../workflows/pipeline.js';
import { toMermaid } from '../workflows/graph.js';
import { patterns } from '../events/patterns.js';
import type { PipelineSpec } from '../core/spec.js';
import { renderAws } from './render-aws.js';
import { renderKubernetes } from './render-k8s.js';

export interface RenderOptions {
  out: string;
  region: string;
  account: string;
  stage: string;
  spec: PipelineSpec;
  runId: string;
  namespace: string;
}

export const functionArnFor = (o: Pick<RenderOptions, 'region' | 'account' | 'stage'>, fn: string) => `arn:aws:lambda:${o.region}:${o.account}:function:sentinel-${o.stage}-${fn}`;

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
  const aws = await renderAws(join(o.out, 'aws'), { stage: o.stage, region: o.region, account: o.account });
  const k8s = await renderKubernetes(o.out, o.spec, o.runId, o.namespace);
  return [...files.map(([rel]) => join(o.out, rel)), ...aws, ...k8s];
}
