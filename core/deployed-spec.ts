// On a deployed stack a run uses only a deployed pipeline spec (s3://<bucket>/pipelines/<name>.yaml), and its image
// must come from one of the deployment's allowed registries. start-run checks both when it loads a spec; prepare-run
// (the state machine's first state, reached also by a hand-made StartExecution) loads the deployed spec again by
// name and refuses a run whose spec is not it. The local CLI runs inline specs (`sentinel run --spec`) and skips this.
import type { ObjectStore } from './ports.js';
import { capEcho, quoted, validationFailed } from './errors.js';
import { parseSpec, PIPELINE_NAME_PATTERN, validateSpec, type PipelineSpec } from './spec.js';
import { pipelineSpecUri } from './triggers.js';

export interface DeployedSpecPolicy {
  /** s3://bucket: where pipelines/<name>.yaml are. */
  bucketUri: string;
  /** Registry prefixes (each ending in "/") a spec's image must start with. */
  allowedImagePrefixes: readonly string[];
}

/** The deployment's own ECR registry: always allowed on AWS. */
export const ownEcrRegistry = (account: string, region: string) => `${account}.dkr.ecr.${region}.amazonaws.com/`;

export function imageAllowed(image: string, allowed: readonly string[]): boolean {
  return allowed.some((p) => p.length > 0 && image.startsWith(p));
}

/** ValidationFailed at `image` (naming the allowed prefixes) unless the image is from an allowed registry. */
export function checkImage(image: string, allowed: readonly string[], where = 'image'): void {
  if (!imageAllowed(image, allowed))
    throw validationFailed(`${quoted(image)} is not from a registry this deployment allows (allowed prefixes: ${allowed.map((p) => quoted(p)).join(', ') || 'none'})`, where);
}

/** The deployed spec of `pipeline`, its image checked when a policy is given. */
export async function loadDeployedSpec(store: ObjectStore, bucketUri: string, pipeline: string, allowedImagePrefixes?: readonly string[]): Promise<PipelineSpec> {
  // Not a name a spec can have: say so before the name becomes a key in the bucket.
  if (!PIPELINE_NAME_PATTERN.test(pipeline)) throw validationFailed(`${quoted(pipeline)} is not a pipeline name (1-24 chars of a-z, 0-9 and "-")`, 'pipeline');
  const uri = pipelineSpecUri(bucketUri, pipeline);
  const text = await store.getText(uri);
  if (text === undefined) throw validationFailed(`no pipeline ${quoted(pipeline)} is deployed (no spec at ${capEcho(uri)})`, 'pipeline');
  const spec = parseSpec(text, uri);
  if (allowedImagePrefixes) checkImage(spec.image, allowedImagePrefixes);
  return spec;
}

/** Key order does not matter: two specs are the same when their canonical JSON is. */
const canonical = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, canonical(x)])) : v;

/**
 * The spec a run may use on a deployed stack: the deployed one of its pipeline. A run whose spec differs (an inline
 * spec handed to StartExecution, or one deployed since the run was asked for) is refused at `run.spec`.
 */
export async function requireDeployedSpec(runSpec: unknown, pipeline: string, store: ObjectStore, policy: DeployedSpecPolicy): Promise<PipelineSpec> {
  const deployed = await loadDeployedSpec(store, policy.bucketUri, pipeline, policy.allowedImagePrefixes);
  const given = validateSpec(runSpec, 'run.spec');
  if (JSON.stringify(canonical(given)) !== JSON.stringify(canonical(deployed)))
    throw validationFailed(`is not the deployed spec of pipeline ${quoted(pipeline)} (${capEcho(pipelineSpecUri(policy.bucketUri, pipeline))}): a deployed stack runs only deployed specs`, 'run.spec');
  return deployed;
}
