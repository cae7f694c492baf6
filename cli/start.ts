// `sentinel start PIPELINE`: starts a run of a deployed pipeline. It runs the deployed start-run handler's own code
// (functions/start-run.ts, by-name request) in this process with the caller's credentials: the spec is read from
// s3://<bucket>/pipelines/<name>.yaml, the run id is derived from the request id (core/run-id.ts), and StartExecution
// is called under the execution name derived from it. The same request id is the same run: a repeat starts nothing
// and says which execution it already is.
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { BACKEND_USAGE, backendOf, backendOptions, awsClients, awsStackConfig, BackendError } from './backend.js';
import { usageError } from './runs.js';
import { bold, dim, green, yellow } from './format.js';

export const START_USAGE = `Usage: sentinel start PIPELINE [--request-id ID] [--dataset s3://BUCKET/KEY] [--json] --backend aws [--stack FILE]
  Starts a run of PIPELINE on the deployed stack (Step Functions StartExecution), exactly as the stack's start-run
  function would: the deployed spec (s3://<bucket>/pipelines/PIPELINE.yaml) and its dataset, or --dataset.
  --request-id ID  names the request (1–128 chars); the run id and execution name are derived from it, so the same
                   ID always means the same run: repeating it starts nothing and says "already started".
                   Default: a new random id (printed, so the request can be repeated safely).
  --dataset URI    the dataset to ingest instead of the spec's (an s3:// URI)
  --json           {runId, executionName, executionArn, alreadyStarted, requestId} on stdout
${BACKEND_USAGE}  Locally there is nothing to start on: \`sentinel run --spec FILE\` runs a pipeline on the local Ray head.
  Exit codes: 0 started, or already started by the same request id; 1 refused (no such pipeline deployed, bad
  dataset, AWS error); 2 bad usage.
  Then: sentinel status RUN --backend aws, sentinel runs --backend aws.
`;

export interface StartResult {
  requestId: string;
  runId: string;
  executionName: string;
  executionArn: string;
  alreadyStarted: boolean;
}

export async function startCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { 'request-id': { type: 'string' }, dataset: { type: 'string' }, json: { type: 'boolean', default: false }, ...backendOptions, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    return usageError((e as Error).message, START_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(START_USAGE);
    return 0;
  }
  if (positionals.length !== 1) return usageError(positionals.length ? `start takes one PIPELINE, got ${positionals.length}` : 'start needs the PIPELINE to run (its name in the spec)', START_USAGE);
  const pipeline = positionals[0]!;
  const requestId = values['request-id'] ?? randomUUID();
  if (!/^\S{1,128}$/.test(requestId)) return usageError(`--request-id: "${requestId}" must be 1–128 characters without spaces`, START_USAGE);
  if (values.dataset !== undefined && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+$/.test(values.dataset)) return usageError(`--dataset: "${values.dataset}" is not an s3://bucket/key URI`, START_USAGE);
  if (backendOf(values.backend) === 'local') {
    process.stderr.write(
      'sentinel: start starts a run on a deployed stack (--backend aws, or SENTINEL_BACKEND=aws). Locally, `sentinel run --spec FILE [--request-id ID]` runs the pipeline on the local Ray head.\n',
    );
    return 2;
  }
  const cfg = awsStackConfig(values.stack);
  // The handler's Powertools logger and metrics write JSON to stdout inside Lambda; here they stay quiet (set before
  // their modules load), and the command says what happened itself.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
  const [{ createStartRunHandler }, { logger }, { SfnExecutions }, { S3ObjectStore }, { lambdaContext }, { DescribeExecutionCommand }] = await Promise.all([
    import('../functions/start-run.js'),
    import('../functions/lib/logger.js'),
    import('../adapters/aws/sfn.js'),
    import('../adapters/aws/s3-store.js'),
    import('../local/lambda-context.js'),
    import('@aws-sdk/client-sfn'),
  ]);
  // The logger may have loaded before (cli/main.ts imports the local runtime): quiet it itself.
  logger.setLogLevel('SILENT');
  const { sfn, s3 } = await awsClients(cfg);
  const bucketUri = `s3://${cfg.bucket}`;
  const handler = createStartRunHandler({ executions: new SfnExecutions(sfn, cfg.stateMachineArn), store: new S3ObjectStore(s3), bucketUri, artifactRoot: `${bucketUri}/artifacts` });
  let res: Awaited<ReturnType<typeof handler>>;
  try {
    res = await handler({ kind: 'manual', pipeline, requestId, ...(values.dataset ? { datasetUri: values.dataset } : {}) }, lambdaContext('sentinel-cli-start-run'));
  } catch (e) {
    const err = e as Error;
    if (err.name === 'ValidationFailed') {
      process.stderr.write(`sentinel: ${err.name}: ${err.message}\n  deployed pipelines are s3://${cfg.bucket}/pipelines/<name>.yaml (sst deploy uploads infra/config.ts's pipelines)\n`);
      if (values.json) process.stdout.write(`${JSON.stringify({ error: err.name, message: err.message }, null, 2)}\n`);
      return 1;
    }
    throw e;
  }
  if (!res.started) throw new BackendError(`start-run ignored the request: ${res.reason}`, 'pipeline');
  const out: StartResult = { requestId, runId: res.runId, executionName: res.executionName, executionArn: res.executionId, alreadyStarted: res.alreadyStarted };
  let status: string | undefined;
  if (res.alreadyStarted) status = (await sfn.send(new DescribeExecutionCommand({ executionArn: res.executionId })).catch(() => undefined))?.status;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...out, ...(status ? { status } : {}) }, null, 2)}\n`);
    return 0;
  }
  if (res.alreadyStarted) {
    process.stdout.write(
      `${yellow('already started')}: request ${requestId} is run ${bold(res.runId)} of ${pipeline} (execution ${res.executionName}${status ? `, ${status}` : ''}); nothing new was started\n`,
    );
  } else {
    process.stdout.write(`${green('started')} run ${bold(res.runId)} of ${pipeline}: execution ${res.executionId}\n`);
    if (values['request-id'] === undefined) process.stdout.write(dim(`  request id ${requestId} (start again with --request-id ${requestId} and it is the same run)\n`));
  }
  process.stdout.write(dim(`  sentinel status ${res.runId} --backend aws${values.stack ? ` --stack ${values.stack}` : ''}\n`));
  return 0;
}
