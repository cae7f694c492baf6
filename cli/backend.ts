// Which backend the operating commands (runs, status, logs, cancel, start) talk to: the local home (default) or a
// deployed stack. The same ports either way (core/run-history.ts); only where the records are changes.
//
//   --backend local|aws   or SENTINEL_BACKEND (the flag wins); default local
//   aws: the stack is named by --stack FILE (SST's outputs: {"bucket": …, "stateMachineArn": …}; default
//        .sst/outputs.json, which `sst deploy` writes), or by SENTINEL_BUCKET and SENTINEL_STATE_MACHINE_ARN (the same
//        variables the Lambdas get, functions/aws/deps.ts ENV). Credentials and region are the AWS SDK's usual ones
//        (AWS_PROFILE, AWS_ACCESS_KEY_ID…; the region defaults to the state machine ARN's). AWS_ENDPOINT_URL (or
//        AWS_ENDPOINT_URL_SFN / AWS_ENDPOINT_URL_S3) points the SDK at another endpoint, e.g. moto in the tests.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RunHistoryPort } from '../core/run-history.js';
import type { AwsRunHistory, AwsStack } from '../adapters/aws/run-history.js';

export const BACKENDS = ['local', 'aws'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Environment variables the CLI reads (the stack's two are the Lambdas' own, functions/aws/deps.ts ENV). */
export const BACKEND_ENV = {
  backend: 'SENTINEL_BACKEND',
  stack: 'SENTINEL_STACK',
  bucket: 'SENTINEL_BUCKET',
  stateMachineArn: 'SENTINEL_STATE_MACHINE_ARN',
} as const;

/** SST writes the stack's outputs (sst.config.ts returns infra/index.ts `outputs`) here after a deploy. */
export const DEFAULT_STACK_FILE = '.sst/outputs.json';

export const backendOptions = { backend: { type: 'string' }, stack: { type: 'string' } } as const;

export const BACKEND_USAGE = `  --backend B    local (default: the home) or aws (a deployed stack); or SENTINEL_BACKEND
  --stack FILE   aws: the stack's outputs {"bucket", "stateMachineArn"} (default ${DEFAULT_STACK_FILE}, written by
                 sst deploy), or set SENTINEL_BUCKET and SENTINEL_STATE_MACHINE_ARN; AWS credentials as usual
`;

export class BackendError extends Error {
  override readonly name = 'BackendError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export function backendOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Backend {
  const raw = flag ?? env[BACKEND_ENV.backend] ?? 'local';
  const b = raw.trim().toLowerCase();
  if (!(BACKENDS as readonly string[]).includes(b)) {
    throw new BackendError(`${flag !== undefined ? '--backend' : BACKEND_ENV.backend}: "${raw}" is not one of ${BACKENDS.join(', ')}`, flag !== undefined ? '--backend' : BACKEND_ENV.backend);
  }
  return b as Backend;
}

const ARN = /^arn:aws[a-z-]*:states:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):stateMachine:[A-Za-z0-9_-]{1,80}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export interface AwsBackendConfig extends AwsStack {
  region: string;
  /** Where it came from, for messages. */
  source: string;
}

/** The deployed stack's bucket and state machine, from --stack FILE, the environment, or .sst/outputs.json. */
export function awsStackConfig(stackFile: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AwsBackendConfig {
  let bucket: unknown;
  let stateMachineArn: unknown;
  let source: string;
  const file = stackFile ?? env[BACKEND_ENV.stack];
  const fromEnv = !file && (env[BACKEND_ENV.bucket] || env[BACKEND_ENV.stateMachineArn]);
  const field = stackFile ? '--stack' : file ? BACKEND_ENV.stack : '';
  if (fromEnv) {
    bucket = env[BACKEND_ENV.bucket];
    stateMachineArn = env[BACKEND_ENV.stateMachineArn];
    source = `${BACKEND_ENV.bucket} / ${BACKEND_ENV.stateMachineArn}`;
    if (!bucket) throw new BackendError(`${BACKEND_ENV.stateMachineArn} is set but ${BACKEND_ENV.bucket} is not; set both (the stack's outputs "bucket" and "stateMachineArn")`, BACKEND_ENV.bucket);
    if (!stateMachineArn) throw new BackendError(`${BACKEND_ENV.bucket} is set but ${BACKEND_ENV.stateMachineArn} is not; set both (the stack's outputs "bucket" and "stateMachineArn")`, BACKEND_ENV.stateMachineArn);
  } else {
    const path = resolve(cwd, file ?? DEFAULT_STACK_FILE);
    source = path;
    if (!existsSync(path)) {
      throw new BackendError(
        file
          ? `${field}: no file at ${path}`
          : `--backend aws needs the deployed stack: --stack FILE (SST's outputs, ${DEFAULT_STACK_FILE} after \`sst deploy\`), or ${BACKEND_ENV.bucket} and ${BACKEND_ENV.stateMachineArn}`,
        field || '--stack',
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new BackendError(`${path} is not JSON: ${(e as Error).message}`, field || '--stack');
    }
    const o = (parsed ?? {}) as Record<string, unknown>;
    bucket = o.bucket;
    stateMachineArn = o.stateMachineArn;
    if (typeof bucket !== 'string') throw new BackendError(`${path}: no "bucket" (the stack's bucket name)`, 'bucket');
    if (typeof stateMachineArn !== 'string') throw new BackendError(`${path}: no "stateMachineArn" (the pipeline state machine's ARN)`, 'stateMachineArn');
  }
  const arn = ARN.exec(String(stateMachineArn));
  if (!arn) throw new BackendError(`${source}: "${String(stateMachineArn)}" is not a Step Functions state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)`, 'stateMachineArn');
  if (!BUCKET.test(String(bucket))) throw new BackendError(`${source}: "${String(bucket)}" is not an S3 bucket name`, 'bucket');
  return { bucket: String(bucket), stateMachineArn: String(stateMachineArn), region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? arn[1]!, source };
}

/** The SDK clients for a stack: path-style S3 when an endpoint override is set (moto, MinIO). */
export async function awsClients(cfg: Pick<AwsBackendConfig, 'region'>, env: NodeJS.ProcessEnv = process.env) {
  const [{ SFNClient }, { S3Client }] = await Promise.all([import('@aws-sdk/client-sfn'), import('@aws-sdk/client-s3')]);
  const s3Endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return { sfn: new SFNClient({ region: cfg.region }), s3: new S3Client({ region: cfg.region, ...(s3Endpoint ? { forcePathStyle: true } : {}) }) };
}

export async function openAwsHistory(cfg: AwsBackendConfig): Promise<AwsRunHistory> {
  const { AwsRunHistory } = await import('../adapters/aws/run-history.js');
  return new AwsRunHistory({ ...cfg, ...(await awsClients(cfg)) });
}

/** An AWS SDK failure as one line that says what to do (credentials, permissions, the endpoint). */
export function awsErrorText(e: unknown, where: string): string {
  const err = e as Error & { $metadata?: { httpStatusCode?: number } };
  const name = err.name ?? 'Error';
  if (name === 'CredentialsProviderError' || /credential/i.test(err.message ?? '')) return `no AWS credentials for ${where}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (${err.message})`;
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || err.$metadata?.httpStatusCode === 403) return `AWS denied access to ${where} (${name}): the caller needs states:List/Describe/GetExecutionHistory/StartExecution/StopExecution on the state machine and s3:GetObject/ListBucket on the bucket`;
  if (name === 'StateMachineDoesNotExist') return `the state machine of ${where} does not exist (is the stack deployed, and is the region right?)`;
  if (name === 'NoSuchBucket') return `the bucket of ${where} does not exist (is the stack deployed?)`;
  if ((err as { code?: string }).code === 'ECONNREFUSED') return `cannot reach AWS for ${where}: ${err.message} (check AWS_ENDPOINT_URL)`;
  return `${name}: ${err.message} (${where})`;
}

/**
 * The run history of the chosen backend, or undefined after saying on stderr why not (exit 1). Local: the home must
 * exist (openLocal says so); aws: the stack must be named.
 */
export async function openHistory(values: { home: string; backend?: string | undefined; stack?: string | undefined }, openLocal: (home: string) => RunHistoryPort | undefined): Promise<RunHistoryPort | undefined> {
  const backend = backendOf(values.backend);
  if (backend === 'local') {
    if (values.stack !== undefined) throw new BackendError('--stack names a deployed stack; it goes with --backend aws', '--stack');
    return openLocal(values.home);
  }
  return openAwsHistory(awsStackConfig(values.stack));
}

/** Runs an operating command: a backend misconfiguration is bad usage (exit 2), an AWS failure says what to do (exit 1). */
export async function guarded(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BackendError) {
      process.stderr.write(`sentinel: ${e.message}\n`);
      return 2;
    }
    const err = e as { $metadata?: unknown; name?: string; code?: string };
    if (err.$metadata !== undefined || err.name === 'CredentialsProviderError' || err.code === 'ECONNREFUSED') {
      process.stderr.write(`sentinel: ${awsErrorText(e, 'the deployed stack')}\n`);
      return 1;
    }
    throw e;
  }
}
