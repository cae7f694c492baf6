// `sentinel cancel RUN --backend aws`: StopExecution of the run's Step Functions execution. The run's RayJobs are
// deleted, and the end recorded in run.json, by the stack's Execution Status Change (ABORTED) handler; this command
// stops the execution, says so, and exits. cli/cancel.ts hands --backend aws here.
import { userInfo } from 'node:os';
import { resolveRunArg } from './run-arg.js';
import { awsStackConfig, openAwsHistory } from './backend.js';
import { bold, dim, green } from './format.js';

const who = () => {
  let user = 'unknown user';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return `sentinel cancel (user ${user})`;
};

export async function cancelOnAws(id: string, values: { stack?: string | undefined; json?: boolean | undefined }): Promise<number> {
  const history = await openAwsHistory(awsStackConfig(values.stack));
  const resolved = await resolveRunArg(history, id, values.json ? { json: true } : {});
  if (!resolved) return 1;
  const run = resolved.record;
  const res = await history.cancel(run.pipeline, run.runId, `cancelled by ${who()} at ${new Date().toISOString()}`);
  if (values.json) process.stdout.write(`${JSON.stringify({ runId: run.runId, executionArn: res.executionArn, cancelled: res.stopped, status: res.status ?? 'NOT_FOUND' }, null, 2)}\n`);
  if (!res.stopped) {
    process.stderr.write(`sentinel: run ${run.runId} already ended: its execution is ${res.status ?? 'gone'}; nothing to cancel\n`);
    return 1;
  }
  if (!values.json) {
    process.stdout.write(`${green('✔')} ${bold(`Run ${run.runId} cancelled`)}: execution ${res.executionArn} stopped (ABORTED)\n`);
    process.stdout.write(dim(`  the stack's execution-ended handler deletes its RayJobs and records the end in run.json\n`));
  }
  return 0;
}
