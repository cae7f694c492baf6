// `sentinel render`'s Kubernetes part: the RayJob of every stage of one run (and, in cluster mode `run`, the run's
// RayCluster they select), the pipeline's RayService and the RBAC
// objects, as YAML, from the same builders the KubeRay adapters use, so what is reviewed is what gets created.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PipelineSpec } from '../core/spec.js';
import type { JobRequest } from '../core/ports.js';
import type { RunContext, StageSummaries, StageSummary } from '../core/model.js';
import { STAGES, type Stage } from '../core/stages.js';
import { buildStageInput } from '../core/stage-input.js';
import { jobNameFor, labelsFor } from '../core/names.js';
import { stageUri } from '../core/artifacts.js';
import { serveApplicationFor } from '../core/serve-config.js';
import { rayJobFor } from '../core/kuberay/rayjob.js';
import { runClusterFor } from '../core/kuberay/raycluster.js';
import { runStagesOf } from '../core/submit-stage.js';
import { rayServiceFor } from '../core/kuberay/rayservice.js';
import { functionRbac } from '../core/kuberay/rbac.js';
import { namespaceManifest, networkPolicies, serviceAccountsFor } from '../core/kuberay/identity.js';

export const DEFAULT_RENDER_ARTIFACT_ROOT = 's3://sentinel-artifacts/artifacts';

/**
 * Placeholder summaries of the stages before `stage`. A rendered run has not run: stage inputs after ingest point at
 * where earlier stages *would* write (their real folders under the run), with no metrics. The real ones come from
 * each stage's result.json when the state machine runs.
 */
function placeholderSummaries(run: RunContext, stage: Stage): StageSummaries {
  const before = STAGES.slice(0, STAGES.indexOf(stage));
  const summaries: StageSummaries = {};
  for (const s of before) {
    const uri = stageUri(run.artifactRoot, run.pipeline, run.runId, s);
    const summary: StageSummary = {
      stage: s,
      jobId: jobNameFor(run.pipeline, run.runId, s, 1),
      attempt: 1,
      resultUri: `${uri}/result.json`,
      metrics: { [`validation_${run.spec.gate.metric}`]: 0 },
      artifacts: { model: `${uri}/model` },
      jobSeconds: 0,
    };
    summaries[s] = summary;
  }
  return summaries;
}

/** The JobRequest submit-stage would make for each stage's first attempt of a run. */
export function jobRequestsForRun(spec: PipelineSpec, runId: string, artifactRoot = DEFAULT_RENDER_ARTIFACT_ROOT): JobRequest[] {
  const run: RunContext = {
    pipeline: spec.name,
    runId,
    trigger: { kind: 'manual', requestId: `render-${runId}` },
    artifactRoot,
    datasetUri: spec.dataset.uri,
    spec,
    requestedAt: new Date(0).toISOString(),
  };
  return STAGES.map((stage) => {
    const identity = { pipeline: spec.name, runId, stage, attempt: 1 };
    const stageSpec = spec.stages[stage];
    return {
      jobId: jobNameFor(spec.name, runId, stage, 1),
      identity,
      module: stageSpec.module,
      input: { ...buildStageInput(run, stage, placeholderSummaries(run, stage)) },
      ...(spec.code ? { pythonPath: spec.code } : {}),
      resources: stageSpec.resources,
      timeoutSeconds: stageSpec.timeoutSeconds,
      image: spec.image,
      cluster: spec.cluster,
      labels: labelsFor(identity),
      runStages: runStagesOf(spec),
    };
  });
}

export async function renderKubernetes(out: string, spec: PipelineSpec, runId: string, namespace: string, artifactRoot = DEFAULT_RENDER_ARTIFACT_ROOT): Promise<string[]> {
  const dir = join(out, 'kubernetes');
  await mkdir(join(dir, 'rayjobs'), { recursive: true });
  const files: Array<[string, string]> = jobRequestsForRun(spec, runId, artifactRoot).map((req) => [
    join(dir, 'rayjobs', `${req.jobId}.yaml`),
    stringify(rayJobFor(req, { namespace, prometheus: true })),
  ]);
  // Cluster mode `run`: the run's own RayCluster, created at its first submit, that every RayJob above selects.
  const first = jobRequestsForRun(spec, runId, artifactRoot)[0]!;
  if (first.cluster.mode === 'run') files.push([join(dir, 'raycluster.yaml'), stringify(runClusterFor(first, { namespace, prometheus: true }))]);
  // The RayService as this run's promotion would set it (its model is the tuned one in the run's folder).
  const modelUri = `${stageUri(artifactRoot, spec.name, runId, 'tune')}/model`; // a model folder (docs/stage-contract.md)
  const service = rayServiceFor({ pipeline: spec.name, namespace, image: spec.image, config: { applications: [serveApplicationFor(spec, { modelUri, runId })] }, prometheus: true });
  files.push([join(dir, 'rayservice.yaml'), stringify(service)]);
  const docs = (objects: object[]) => objects.map((o) => stringify(o)).join('---\n');
  // One identity per use: the namespace's Pod Security labels, the pipeline's job and Serve ServiceAccounts (Pod
  // Identity maps them to their roles: render-aws), who may reach the Ray ports, and one Role per Lambda's group.
  files.push([join(dir, 'namespace.yaml'), docs([namespaceManifest(namespace)])]);
  files.push([join(dir, 'serviceaccounts.yaml'), docs(serviceAccountsFor(namespace, spec.name))]);
  files.push([join(dir, 'networkpolicies.yaml'), docs(networkPolicies(namespace))]);
  files.push([join(dir, 'rbac.yaml'), docs(functionRbac(namespace))]);
  for (const [path, text] of files) await writeFile(path, text);
  return files.map(([path]) => path);
}
