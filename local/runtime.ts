// The local runtime: the state machine that deploys, run by aws-local-stepfunctions, with every Task mapped to its
// real handler in-process; the callback pattern through LocalTaskBroker; job completions flowing
// watcher → local EventBridge (the project's own patterns) → local SQS queue → completion consumer, as in AWS, and
// pushed: a job's own write of its result.json → Object Created on the local bus → the same queue and consumer.
import { Console } from 'node:console';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { StateMachine, type RunOptions } from 'aws-local-stepfunctions';
import type { Context } from 'aws-lambda';
import { buildPipelineDefinition, STATE_MACHINE_FUNCTIONS, WAIT_FOR_TASK_TOKEN, type PipelineWorkflowOptions, type StateMachineFunction } from '../workflows/pipeline.js';
import type { StateMachineDefinition, TaskState } from '../workflows/asl.js';
import type { ComputePort, ExecutionsPort, ServingPort } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { isTerminal } from '../core/job-status.js';
import { routesFor, type RouteTarget } from '../events/routes.js';
import { createPrepareRunHandler } from '../functions/prepare-run.js';
import { createSubmitStageHandler } from '../functions/submit-stage.js';
import { createEvaluateGateHandler } from '../functions/evaluate-gate.js';
import { createPromoteHandler } from '../functions/promote.js';
import { createFinishRunHandler } from '../functions/finish-run.js';
import { createCompleteStageHandler } from '../functions/complete-stage.js';
import { createWatchJobsHandler } from '../functions/watch-jobs.js';
import { createStartRunHandler } from '../functions/start-run.js';
import { createHandleInterruptionHandler } from '../functions/handle-interruption.js';
import { InterruptibleCompute, LocalCluster } from './local-cluster.js';
import { logger } from '../functions/lib/logger.js';
import { LocalObjectStore } from './object-store.js';
import { FileTokenStore } from './token-store.js';
import { LocalTaskBroker } from './task-broker.js';
import { LocalEventBus } from './event-bus.js';
import { LocalQueue } from './queue.js';
import { LocalObjectEvents } from './object-events.js';
import { lambdaContext } from './lambda-context.js';
import type { TrackingPort } from '../core/ports.js';
import { RunFolderMetricsSink } from './metrics-sink.js';
import { useMetricsSink } from '../functions/lib/metrics.js';
import { createNotifyHandler } from '../functions/notify.js';
import { createExecutionEndedHandler } from '../functions/execution-ended.js';
import { HttpWebhook } from '../adapters/http/webhook.js';
import { logger as handlerLogger } from '../functions/lib/logger.js';

/** The bucket name the local bus uses in S3 events (the local folder plays s3://sentinel-local). */
export const LOCAL_BUCKET = 'sentinel-local';

export const localFunctionArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:sentinel-local-${name}`;

type AnyHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface ExecutionEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; output?: unknown };
  error?: string;
  cause?: string;
}

export interface ExecutionOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  output?: Record<string, unknown>;
  error?: string;
  cause?: string;
}

export interface LocalExecution {
  name: string;
  input: unknown;
  events: ExecutionEvent[];
  result: Promise<ExecutionOutcome>;
  onEvent(fn: (e: ExecutionEvent) => void): void;
  abort(): void;
}

export interface LocalRuntimeOptions {
  /** Folder for local state (task tokens, logs). */
  home: string;
  /** The local stand-in for the bucket (datasets/, pipelines/, artifacts/). */
  bucketUri: string;
  /** Root of run artifacts: <bucket>/artifacts. */
  artifactRoot: string;
  compute: ComputePort;
  serving: ServingPort;
  /** Cordon/evict like Karpenter does; off where Karpenter's own interruption handling runs. */
  nodeHandling?: boolean;
  workflow?: Partial<Omit<PipelineWorkflowOptions, 'functionArns'>>;
  watchIntervalMs?: number;
  /** Shortens Retry pauses in tests (aws-local-stepfunctions' retryIntervalOverrides). */
  retryIntervalOverrides?: RunOptions['overrides'] extends infer O ? (O extends { retryIntervalOverrides?: infer R } ? R : never) : never;
  /** Overrides each promotion's spec promotionTimeout (tests). */
  promoteTimeoutMs?: number;
  /**
   * Wait states' pauses in milliseconds by state name (aws-local-stepfunctions' waitTimeOverrides), e.g.
   * { WaitForPromotion: 10 } in tests; the pause the promotion loop asks for is otherwise waited for real.
   */
  waitTimeOverrides?: Record<string, number>;
  /** Handler logs (Powertools JSON) go here instead of the terminal. */
  logFile?: string;
  /** The MLflow server runs are tracked on and whose registry holds the champion; absent: tracking off. */
  tracking?: TrackingPort;
  /**
   * Pushed completions (default on): objects created under the artifact root are announced as S3 Object Created on
   * the bus (local/object-events.ts), so a job's write of its result.json completes its task through the
   * stage-result-written rule, as on AWS; the watcher stays as the safety net. false: the watcher alone.
   */
  pushedCompletions?: boolean;
  /**
   * Where the handlers' metrics (CloudWatch EMF lines) go: by default each run's folder (local/metrics-sink.ts);
   * false leaves Powertools' own output (stdout).
   */
  metricsSink?: false | ((line: string) => void);
}

export class LocalRuntime {
  readonly store = new LocalObjectStore();
  readonly tokens: FileTokenStore;
  readonly broker = new LocalTaskBroker();
  readonly bus = new LocalEventBus();
  readonly queue: LocalQueue;
  readonly interruptions: LocalQueue;
  readonly cluster: LocalCluster;
  private readonly compute_: InterruptibleCompute;
  readonly definition: StateMachineDefinition;
  /** Invocations per function: what a benchmark reports as handler invocations. */
  readonly invocations: Record<string, number> = {};
  private readonly handlers: Record<string, AnyHandler>;
  private readonly executions = new Map<string, LocalExecution>();
  private watcher?: NodeJS.Timeout;
  /** The local bucket's Object Created notifications (undefined with pushedCompletions: false). */
  readonly objectEvents?: LocalObjectEvents;
  private objectEventsStarted?: Promise<void>;
  private watching = false;
  /** The watcher pass under way, if any: close() lets it finish (and publish its metrics) first. */
  private watchPass?: Promise<unknown>;
  private logStream?: WriteStream;
  private previousConsole?: Console;
  private restoreMetrics?: () => void;
  /** Where run-less metric lines go (watcher, reaper); a run's own are in its folder (metrics.jsonl). */
  readonly metricsFile?: string;

  constructor(private readonly opts: LocalRuntimeOptions) {
    this.tokens = new FileTokenStore(join(opts.home, 'tokens'));
    if (opts.logFile) {
      mkdirSync(dirname(opts.logFile), { recursive: true });
      this.logStream = createWriteStream(opts.logFile, { flags: 'a' });
      // Powertools has no destination option; its console is the one seam to send handler logs to a file.
      const seam = logger as unknown as { console: Console };
      this.previousConsole = seam.console;
      seam.console = new Console({ stdout: this.logStream, stderr: this.logStream });
    }
    if (opts.metricsSink !== false) {
      const sink = opts.metricsSink ? { write: opts.metricsSink } : new RunFolderMetricsSink({ artifactRoot: opts.artifactRoot, home: opts.home });
      if (sink instanceof RunFolderMetricsSink) this.metricsFile = sink.controlPlaneFile;
      this.restoreMetrics = useMetricsSink((line) => sink.write(line));
    }
    const functionArns = Object.fromEntries(STATE_MACHINE_FUNCTIONS.map((f) => [f, localFunctionArn(f)])) as Record<StateMachineFunction, string>;
    this.definition = buildPipelineDefinition({ functionArns, ...opts.workflow });

    const { store, tokens, broker } = this;
    // Interruption marks surface through the compute port, as the RayJob annotation does on EKS.
    const compute = (this.compute_ = new InterruptibleCompute(opts.compute));
    this.cluster = new LocalCluster(compute);
    const now = () => new Date();
    this.handlers = {
      'prepare-run': createPrepareRunHandler({ store, publisher: this.bus, ...(opts.tracking ? { tracking: opts.tracking } : {}) }),
      'submit-stage': createSubmitStageHandler({ compute, tokens, store, callbacks: broker }),
      'evaluate-gate': createEvaluateGateHandler({ store, ...(opts.tracking ? { tracking: opts.tracking } : {}) }),
      promote: createPromoteHandler({ serving: opts.serving, store, clock: systemClock, now, publisher: this.bus, ...(opts.tracking ? { tracking: opts.tracking } : {}), ...(opts.promoteTimeoutMs ? { readyTimeoutMs: opts.promoteTimeoutMs } : {}) }),
      'finish-run': createFinishRunHandler({ store, compute, tokens, now, publisher: this.bus, ...(opts.tracking ? { tracking: opts.tracking } : {}) }),
      'complete-stage': createCompleteStageHandler({ compute, tokens, callbacks: broker, store, artifactRoot: opts.artifactRoot }) as unknown as AnyHandler,
      'watch-jobs': createWatchJobsHandler({ compute, tokens, callbacks: broker, publisher: this.bus, now, artifactRoot: opts.artifactRoot }) as unknown as AnyHandler,
      'handle-interruption': createHandleInterruptionHandler({ cluster: this.cluster, publisher: this.bus, nodeHandling: opts.nodeHandling ?? true }) as unknown as AnyHandler,
      // `sentinel run --spec`: the local CLI runs inline specs (the Lambda entry refuses them).
      'start-run': createStartRunHandler({ executions: this.executionsPort, store, bucketUri: opts.bucketUri, artifactRoot: opts.artifactRoot, allowInlineSpec: true }),
      // Run events → the pipeline's notifications (no SNS locally: a spec's `topic: true` is reported as not sent).
      notify: createNotifyHandler({ store, bucketUri: opts.bucketUri, artifactRoot: opts.artifactRoot, webhook: new HttpWebhook(), publisher: this.bus }) as unknown as AnyHandler,
      'execution-ended': createExecutionEndedHandler({ compute, tokens, store, artifactRoot: opts.artifactRoot, publisher: this.bus, now }) as unknown as AnyHandler,
    };

    this.queue = new LocalQueue('sentinel-job-completions', (event) => this.invoke('complete-stage', event) as never);
    this.interruptions = new LocalQueue('sentinel-interruptions', (event) => this.invoke('handle-interruption', event) as never);
    // Every rule of a deployment (events/routes.ts), with local targets for the logical ones.
    const targets: Record<RouteTarget, (e: unknown) => Promise<void>> = {
      'completion-queue': (e) => this.queue.send(JSON.stringify(e)),
      'interruption-queue': (e) => this.interruptions.send(JSON.stringify(e)),
      'start-run': async (e) => {
        await this.invoke('start-run', e);
      },
      // As on AWS, a target that fails (a webhook down) is the target's problem, never the publisher's: logged.
      notify: async (e) => {
        await this.invoke('notify', e).catch((err: Error) => handlerLogger.warn('notification not sent', { error: `${err.name}: ${err.message}` }));
      },
      'execution-ended': async (e) => {
        await this.invoke('execution-ended', e);
      },
    };
    for (const route of routesFor({ bucket: LOCAL_BUCKET, pipelines: [] })) {
      this.bus.addRule({ name: route.name, pattern: route.pattern, target: targets[route.target] });
    }
    if (opts.pushedCompletions !== false) {
      mkdirSync(opts.artifactRoot, { recursive: true });
      this.objectEvents = new LocalObjectEvents({ bucketPath: opts.bucketUri, bucket: LOCAL_BUCKET, root: opts.artifactRoot, publisher: this.bus });
      this.objectEventsStarted = this.objectEvents.start().catch((e: Error) => logger.warn('object notifications off: the watcher alone completes stages', { error: e.message }));
    }

  }

  get compute(): ComputePort {
    return this.compute_;
  }

  /** Calls a handler as Lambda would: the event, a context, and nothing shared but the adapters. */
  async invoke(fn: string, event: unknown): Promise<unknown> {
    const h = this.handlers[fn];
    if (!h) throw new Error(`no local handler named ${fn}`);
    this.invocations[fn] = (this.invocations[fn] ?? 0) + 1;
    return h(event, lambdaContext(`sentinel-local-${fn}`));
  }

  private handlerForArn(arn: unknown): string {
    const name = typeof arn === 'string' ? arn.split(':function:sentinel-local-')[1] : undefined;
    if (!name || !this.handlers[name]) throw new Error(`state machine references unknown function ${String(arn)}`);
    return name;
  }

  /** One local handler per Task state, derived from the definition itself, so the ASL decides what runs. */
  private taskOverrides() {
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [name, state] of Object.entries(this.definition.States)) {
      if (state.Type !== 'Task') continue;
      const task = state as TaskState;
      if (task.Resource === WAIT_FOR_TASK_TOKEN) {
        const fn = this.handlerForArn(task.Parameters?.FunctionName);
        overrides[name] = async (input) => {
          const payload = (input as { Payload: { taskToken: string } }).Payload;
          const waiting = this.broker.wait(payload.taskToken, {
            ...(task.HeartbeatSeconds ? { heartbeatSeconds: task.HeartbeatSeconds } : {}),
            ...(task.TimeoutSeconds ? { timeoutSeconds: task.TimeoutSeconds } : {}),
          });
          waiting.catch(() => undefined); // observed below; avoids an unhandled rejection while the handler runs
          try {
            await this.invoke(fn, payload);
          } catch (e) {
            this.broker.forget(payload.taskToken);
            throw e;
          }
          return waiting;
        };
      } else {
        const fn = this.handlerForArn(task.Resource);
        overrides[name] = (input) => this.invoke(fn, input);
      }
    }
    return overrides;
  }

  /** StartExecution: names are unique, so a repeated start returns the existing execution. */
  readonly executionsPort: ExecutionsPort = {
    start: async (name, input) => {
      const existing = this.executions.has(name);
      if (!existing) this.startExecution(name, input);
      return { executionId: `arn:aws:states:us-east-1:000000000000:execution:sentinel-local-pipeline:${name}`, alreadyStarted: existing };
    },
  };

  execution(name: string) {
    return this.executions.get(name);
  }

  /** Every execution started in this runtime, oldest first. */
  allExecutions(): LocalExecution[] {
    return [...this.executions.values()];
  }

  startExecution(name: string, input: unknown): LocalExecution {
    const existing = this.executions.get(name);
    if (existing) return existing;
    const broker = this.broker;
    const machine = new StateMachine(this.definition as never, { validationOptions: { checkArn: false } });
    const run = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: this.taskOverrides() as never,
        ...(this.opts.retryIntervalOverrides ? { retryIntervalOverrides: this.opts.retryIntervalOverrides } : {}),
        ...(this.opts.waitTimeOverrides ? { waitTimeOverrides: this.opts.waitTimeOverrides } : {}),
      },
      context: {
        Execution: { Id: `local:${name}`, Name: name },
        StateMachine: { Id: 'local:sentinel-pipeline', Name: 'sentinel-pipeline' },
        // A getter, so every evaluation of $$.Task.Token (one per task attempt) mints a fresh token.
        Task: {
          get Token() {
            return broker.mint();
          },
        },
      } as never,
    });
    const events: ExecutionEvent[] = [];
    const listeners: Array<(e: ExecutionEvent) => void> = [];
    const pump = (async () => {
      for await (const raw of run.eventLogs) {
        const r = raw as unknown as { type: string; timestamp: number; state?: { name: string; type: string; output?: unknown }; Error?: string; Cause?: string; error?: string; cause?: string };
        const e: ExecutionEvent = { type: r.type, timestamp: r.timestamp };
        if (r.state) e.state = { name: r.state.name, type: r.state.type, ...(r.state.output !== undefined ? { output: r.state.output } : {}) };
        const err = r.Error ?? r.error;
        const cause = r.Cause ?? r.cause;
        if (err) e.error = err;
        if (cause) e.cause = cause;
        events.push(e);
        for (const l of listeners) l(e);
      }
    })();
    const result = run.result.then(
      async (output) => {
        await pump;
        return { status: 'SUCCEEDED' as const, output: output as Record<string, unknown> };
      },
      async (e: Error & { name: string; cause?: unknown }) => {
        await pump.catch(() => undefined);
        if (e.name === 'ExecutionAbortedError') return { status: 'ABORTED' as const };
        const failed = events.findLast((x) => x.type === 'ExecutionFailed');
        return { status: 'FAILED' as const, error: failed?.error ?? e.name, cause: failed?.cause ?? e.message };
      },
    );
    const execution: LocalExecution = {
      name,
      input,
      events,
      result,
      onEvent: (fn) => listeners.push(fn),
      abort: () => {
        run.abort();
        broker.abortAll('execution aborted');
      },
    };
    this.executions.set(name, execution);
    this.ensureWatcher();
    void result.then(() => this.maybeStopWatcher());
    return execution;
  }

  /** The completion watcher runs while any execution is active (in AWS: an EventBridge schedule). */
  private ensureWatcher() {
    if (this.watcher) return;
    this.watcher = setInterval(() => {
      if (this.watching) return;
      this.watching = true;
      this.watchPass = this.invoke('watch-jobs', { source: 'aws.events', 'detail-type': 'Scheduled Event' })
        .catch((e: Error) => logger.warn('watcher pass failed', { error: e.message }))
        .finally(() => {
          this.watching = false;
        });
    }, this.opts.watchIntervalMs ?? 500);
  }

  private async maybeStopWatcher() {
    const active = await Promise.all([...this.executions.values()].map((e) => Promise.race([e.result.then(() => false), Promise.resolve(true)])));
    if (!active.some(Boolean) && this.watcher) {
      clearInterval(this.watcher);
      this.watcher = undefined;
    }
  }

  /** Stops the watcher, aborts executions and stops every job they started that is still running. */
  async close() {
    await this.objectEventsStarted;
    await this.objectEvents?.close();
    for (const e of this.executions.values()) e.abort();
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = undefined;
    await Promise.all([...this.executions.values()].map((e) => e.result));
    // Aborting an execution does not stop its Ray jobs; do it here so nothing is left running.
    for (const e of this.executions.values()) {
      const runId = (e.input as { run?: { runId?: string } }).run?.runId;
      if (!runId) continue;
      const jobs = await this.compute_.list({ 'sentinel.dev/run': runId }).catch(() => []);
      await Promise.all(jobs.filter((j) => !isTerminal(j.state)).map((j) => this.compute_.stop(j.jobId).catch(() => undefined)));
    }
    await this.queue.drained();
    await this.interruptions.drained();
    await this.watchPass;
    this.restoreMetrics?.();
    this.restoreMetrics = undefined;
    if (this.logStream) {
      (logger as unknown as { console: Console }).console = this.previousConsole!;
      await new Promise((r) => this.logStream!.end(r));
    }
  }
}
