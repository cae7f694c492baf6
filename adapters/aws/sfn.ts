// Step Functions behind two ports: TaskCallbacks (SendTaskSuccess/Failure/Heartbeat) for the completion consumer and
// the watcher, ExecutionsPort (StartExecution) for start-run. Task tokens are credentials: they go to the API and
// nowhere else (no log line, no error message carries one).
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { CallbackResult, ExecutionsPort, TaskCallbacks } from '../../core/ports.js';

/** Step Functions' limits (API reference): output ≤ 256 KiB (UTF-8 bytes), error ≤ 256 chars, cause ≤ 32,768. */
export const MAX_OUTPUT_BYTES = 256 * 1024;
export const MAX_ERROR_CHARS = 256;
export const MAX_CAUSE_CHARS = 32_768;
/** The error the task fails with when a stage's summary is too large to hand back (the state machine records it). */
export const OUTPUT_TOO_LARGE = 'StageOutputTooLarge';

/** The task is finished one way or another: completed, timed out, or the token never named a live task. */
const GONE = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

async function callback(send: () => Promise<unknown>): Promise<CallbackResult> {
  try {
    await send();
    return 'ok';
  } catch (e) {
    if (GONE.has((e as Error).name)) return 'gone';
    throw e;
  }
}

export class SfnTaskCallbacks implements TaskCallbacks {
  constructor(private readonly sfn: SFNClient) {}

  async success(token: string, output: unknown): Promise<CallbackResult> {
    const json = JSON.stringify(output ?? null);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > MAX_OUTPUT_BYTES) {
      // Sending it would be rejected and retried forever; fail the task with the reason instead, so the run records it.
      return this.failure(token, OUTPUT_TOO_LARGE, `the stage summary is ${bytes} bytes; Step Functions accepts at most ${MAX_OUTPUT_BYTES}`);
    }
    return callback(() => this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: json })));
  }

  failure(token: string, error: string, cause: string): Promise<CallbackResult> {
    // Keep the end of a long cause: that is where a log tail says what went wrong.
    const c = cause.length > MAX_CAUSE_CHARS ? cause.slice(cause.length - MAX_CAUSE_CHARS) : cause;
    return callback(() => this.sfn.send(new SendTaskFailureCommand({ taskToken: token, error: error.slice(0, MAX_ERROR_CHARS), cause: c })));
  }

  heartbeat(token: string): Promise<CallbackResult> {
    return callback(() => this.sfn.send(new SendTaskHeartbeatCommand({ taskToken: token })));
  }
}

/** arn:…:stateMachine:<name> + execution name → arn:…:execution:<name>:<execution> */
export const executionArnFor = (stateMachineArn: string, name: string) => `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

export class SfnExecutions implements ExecutionsPort {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(name: string, input: unknown) {
    try {
      const res = await this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }));
      // Same name and identical input while the first is still running also answers 200 (with the first execution);
      // start-run's input carries requestedAt, so a repeat always differs and lands in the branch below.
      return { executionId: res.executionArn ?? executionArnFor(this.stateMachineArn, name), alreadyStarted: false };
    } catch (e) {
      if ((e as Error).name === 'ExecutionAlreadyExists') return { executionId: executionArnFor(this.stateMachineArn, name), alreadyStarted: true };
      throw e;
    }
  }
}
