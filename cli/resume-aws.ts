// `sentinel resume RUN --backend aws`: a new Step Functions execution that continues RUN on the deployed stack.
// The plan is core's (core/resume.ts), as for a local resume: the finished stages' result.json are reused and the
// stage that stopped continues from RUN's checkpoints. It travels as data in the execution input (run.resume), and
// the deployed submit-stage honours it: a reused stage's result is copied into the new run's folder and its task
// completed at once (SendTaskSuccess, no RayJob); the stage it continues at gets RUN's checkpoints copied under its
// own stage folder first (CopyObject), where the train and tune jobs look for them. The execution is named from RUN
// and the resume attempt (core/run-id.ts), so repeating the command finds the execution it started.
import { startRun } from '../core/start-run.js';
import { planResume } from '../core/resume.js';
import { stageUri } from '../core/artifacts.js';
import { loadDeployedSpec } from '../core/deployed-spec.js';
import { isSentinelError } from '../core/errors.js';
import { STAGES } from '../core/stages.js';
import { awsClients, awsStackConfig, openAwsHistory } from './backend.js';
import { resolveRunArg } from './run-arg.js';
import { bold, dim, green, yellow } from './format.js';

export interface AwsResumeResult {
  runId: string;
  resumeOf: string;
  executionName: string;
  executionArn: string;
  alreadyStarted: boolean;
  reused: string[];
  continueAt?: string;
  checkpointsFrom?: string;
  status?: string;
}

export async function resumeOnAws(id: string, values: { stack?: string | undefined; json?: boolean | undefined }): Promise<number> {
  const cfg = awsStackConfig(values.stack);
  const history = await openAwsHistory(cfg);
  const resolved = await resolveRunArg(history, id, values.json ? { json: true } : {});
  if (!resolved) return 1;
  const source = resolved.record;
  const stored = await history.stageResults(source.pipeline, source.runId);
  const results = Object.fromEntries(STAGES.filter((s) => stored[s]).map((s) => [s, { uri: stored[s]!.uri, ok: !!stored[s]!.result && stored[s]!.result!.stage === s }]));
  const plan = planResume({ record: source, results, stageUri: (s) => stageUri(history.artifactRoot, source.pipeline, source.runId, s) }, (runId) => resolved.records.find((r) => r.runId === runId));
  const flags = `--backend aws${values.stack ? ` --stack ${values.stack}` : ''}`;
  if (plan.kind === 'refused') {
    if (values.json) process.stdout.write(`${JSON.stringify({ error: plan.error, message: plan.reason, runId: source.runId, status: source.status }, null, 2)}\n`);
    process.stderr.write(`sentinel: ${plan.reason.replace(/`sentinel (cancel|run) ([^`]*)`/, (_m, c: string, rest: string) => (c === 'cancel' ? `\`sentinel cancel ${rest} ${flags}\`` : `\`sentinel start ${source.pipeline} ${flags}\``))}\n`);
    return 1;
  }
  if (plan.kind === 'existing') {
    if (values.json) process.stdout.write(`${JSON.stringify({ runId: plan.runId, resumeOf: source.runId, alreadyStarted: true, status: plan.record.status }, null, 2)}\n`);
    else process.stdout.write(`${yellow(`run ${source.runId} was already resumed as ${plan.runId}`)} (${plan.record.status}); nothing new was started\n  ${dim(`sentinel status ${plan.runId} ${flags}`)}\n`);
    return plan.record.status === 'SUCCEEDED' || plan.record.status === 'RUNNING' ? 0 : 1;
  }
  let spec;
  try {
    spec = await loadDeployedSpec(history.store, history.bucketUri, source.pipeline);
  } catch (e) {
    if (!isSentinelError(e, 'ValidationFailed')) throw e;
    process.stderr.write(`sentinel: cannot resume ${source.runId}: ${(e as Error).message}\n  deployed pipelines are ${history.bucketUri}/pipelines/<name>.yaml (sst deploy uploads them)\n`);
    return 1;
  }
  const [{ SfnExecutions }, { DescribeExecutionCommand }] = await Promise.all([import('../adapters/aws/sfn.js'), import('@aws-sdk/client-sfn')]);
  const { sfn } = await awsClients(cfg);
  const started = await startRun(
    { spec, trigger: { kind: 'manual', requestId: plan.requestId }, artifactRoot: history.artifactRoot, datasetUri: source.datasetUri, resume: plan.resume },
    { executions: new SfnExecutions(sfn, cfg.stateMachineArn), now: () => new Date() },
  );
  // Started between our listing and StartExecution (another `sentinel resume` of the same run): say which it is.
  const status = started.alreadyStarted ? (await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionId })).catch(() => undefined))?.status : undefined;
  const checkpointsFrom = plan.continueAt ? plan.resume.checkpoints[plan.continueAt] : undefined;
  const out: AwsResumeResult = {
    runId: started.runId,
    resumeOf: source.runId,
    executionName: started.executionName,
    executionArn: started.executionId,
    alreadyStarted: started.alreadyStarted,
    reused: plan.reused,
    ...(plan.continueAt ? { continueAt: plan.continueAt } : {}),
    ...(checkpointsFrom ? { checkpointsFrom } : {}),
    ...(status ? { status } : {}),
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  if (started.alreadyStarted) process.stdout.write(`${yellow('already started')}: the resume of ${source.runId} is run ${bold(started.runId)} (execution ${started.executionName}${status ? `, ${status}` : ''}); nothing new was started\n`);
  else process.stdout.write(`${green('started')} run ${bold(started.runId)}, resuming ${bold(source.runId)} of ${source.pipeline} (${source.status}): execution ${started.executionId}\n`);
  for (const s of plan.reused) process.stdout.write(dim(`  ${s} reused from ${source.runId} (its result is copied; no RayJob runs)\n`));
  if (plan.continueAt) process.stdout.write(dim(`  ${plan.continueAt} continues${checkpointsFrom ? ` from ${source.runId}'s checkpoints (${checkpointsFrom}/checkpoints, copied if it wrote any)` : ''}\n`));
  process.stdout.write(dim(`  sentinel status ${started.runId} ${flags}\n`));
  return 0;
}
