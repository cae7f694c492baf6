// A trigger (upload, schedule, person) becomes one execution: validate the spec, derive the run id from the trigger,
// and start the state machine under a name derived from it, so a repeated trigger starts nothing new.
import type { ExecutionsPort } from './ports.js';
import type { RunContext, RunState } from './model.js';
import { validateSpec } from './spec.js';
import { executionNameFor, runIdFor, type Trigger } from './run-id.js';
import { parseRunContext } from './run-input.js';

export interface StartRunRequest {
  spec: unknown;
  trigger: Trigger;
  artifactRoot: string;
  /** Overrides the spec's dataset (e.g. the uploaded object that triggered the run). */
  datasetUri?: string;
  /** A resumed run's reuse and checkpoints (core/resume.ts), carried in the input as data. */
  resume?: RunContext['resume'];
}

export async function startRun(req: StartRunRequest, deps: { executions: ExecutionsPort; now: () => Date }) {
  const spec = validateSpec(req.spec);
  const runId = runIdFor(spec.name, req.trigger);
  const run: RunContext = parseRunContext({
    pipeline: spec.name,
    runId,
    trigger: req.trigger,
    artifactRoot: req.artifactRoot,
    datasetUri: req.datasetUri ?? spec.dataset.uri,
    spec,
    requestedAt: deps.now().toISOString(),
    ...(req.resume ? { resume: req.resume } : {}),
  });
  const input: RunState = { run };
  const name = executionNameFor(spec.name, runId);
  const res = await deps.executions.start(name, input);
  return { runId, executionName: name, ...res, run };
}
