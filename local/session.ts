// A local Sentinel "deployment" for one command: a Ray head on 127.0.0.1, the runtime wired to it, and the bucket
// folder. `sentinel run`, the end-to-end test and the benchmark all go through here.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PipelineSpec } from '../core/spec.js';
import { restoreChampion } from '../core/promote.js';
import { systemClock } from '../core/ports.js';
import { startRun } from '../core/start-run.js';
import { STAGES, type Stage } from '../core/stages.js';
import type { RunRecord, StageSummary } from '../core/model.js';
import type { GateResult } from '../core/evaluate-gate.js';
import type { Promotion } from '../core/promote.js';
import { runRecordUri } from '../core/artifacts.js';
import { pipelineSpecUri } from '../core/triggers.js';
import { RayJobsCompute } from '../adapters/ray/jobs-compute.js';
import { RayServeServing } from '../adapters/ray/serve-serving.js';
import { startRayHead, stopStaleHead, type RayHead } from './ray-head.js';
import { readFileSync as readFile, rmSync, writeFileSync } from 'node:fs';
import { LocalRuntime, type LocalRuntimeOptions, type ExecutionOutcome, type LocalExecution } from './runtime.js';
import { specDatasetPath, uploadDataset, writeReferenceDataset, preflightCsv, REFERENCE_DATASETS } from './dataset.js';
import { loadSpecFile } from './spec-file.js';
import { checkModel } from './model-check.js';
import type { ModelCheckResult } from '../core/model-check.js';
import { stringify as stringifyYaml } from 'yaml';
import { existsSync } from 'node:fs';
import { startMlflowServer, stopStaleMlflow, type MlflowServer } from './mlflow-server.js';
import { MlflowRest } from '../adapters/mlflow/rest.js';
import type { TrackingPort } from '../core/ports.js';
import { addSessionRun, lockHome, lockHomeWaiting, removeSessionFile, unlockHome, writeSessionFile, type HomeBusyError } from './session-file.js';
import { LocalRunHistory } from './run-history.js';
import { clearCancel, pendingCancels } from './control.js';
import { endedRecord } from '../core/abandoned.js';
import { isTerminal } from '../core/job-status.js';
import type { ResumeInput } from '../core/model.js';
import { homeLayout } from './home-layout.js';

const runIdOf = (e: LocalExecution) => (e.input as { run: { runId: string } }).run.runId;

export interface SessionOptions {
  /** Local state: bucket/, tokens/, logs/. */
  home: string;
  /** The Python environment with Ray and the jobs (the project's .venv). */
  pythonEnv: string;
  servePort?: number;
  numCpus?: number;
  workflow?: LocalRuntimeOptions['workflow'];
  /** How stage completions are found (benchmarks compare them): pushed on by default, watcher every 0.5 s. */
  completions?: Pick<LocalRuntimeOptions, 'pushedCompletions' | 'watchIntervalMs'>;
  /**
   * Experiment tracking: 'local' starts an MLflow server beside the Ray head (SQLite in <home>/mlflow, artifacts in
   * <bucket>/mlflow) and stops it with the session; { uri } uses an existing server; absent: tracking off.
   */
  tracking?: 'local' | { uri: string };
  /** The command opening it (e.g. "sentinel run"): names who marked a dead command's runs ABANDONED. */
  command?: string;
  /**
   * Another live session holds the home (local/session-file.ts lockHome): wait for it (told once, with who holds
   * it), else (absent) open fails with HomeBusyError. Never a second Ray head beside the first.
   */
  waitForHome?: (busy: HomeBusyError) => void;
}

/** The session's MLflow server: the one it started (server), or a team's (uri only). */
export interface SessionTracking {
  uri: string;
  port: TrackingPort;
  server?: MlflowServer;
}

export interface RunRequest {
  specPath: string;
  datasetPath?: string;
  requestId?: string;
}

export interface StageReport {
  stage: Stage;
  state: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'RETRYING';
  jobId?: string;
  attempt?: number;
  startedAt?: number;
  endedAt?: number;
  summary?: StageSummary;
}

export interface RunReport {
  runId: string;
  executionName: string;
  alreadyStarted: boolean;
  outcome: ExecutionOutcome;
  stages: StageSummary[];
  gate?: GateResult;
  promotion?: Promotion;
  record?: RunRecord;
  wallSeconds: number;
  rayJobSeconds: number;
  transitions: number;
  handlerInvocations: Record<string, number>;
  artifactsDir: string;
}

export class LocalSession {
  readonly bucket: string;
  readonly artifactRoot: string;
  readonly logDir: string;
  private constructor(
    readonly opts: SessionOptions,
    readonly head: RayHead,
    readonly runtime: LocalRuntime,
    readonly serving: RayServeServing,
    readonly tracking?: SessionTracking,
  ) {
    const layout = homeLayout(opts.home);
    this.bucket = layout.bucket;
    this.artifactRoot = layout.artifactRoot;
    this.logDir = layout.logDir;
  }

  static async open(opts: SessionOptions): Promise<LocalSession> {
    const home = resolve(opts.home);
    mkdirSync(homeLayout(home).logDir, { recursive: true });
    // One session per home, taken before anything else (the stale-head cleanup below would stop a live one's head).
    if (opts.waitForHome) await lockHomeWaiting(home, opts.command ?? 'sentinel run', opts.waitForHome);
    else lockHome(home, opts.command ?? 'sentinel run');
    try {
      return await LocalSession.openLocked({ ...opts, home });
    } catch (e) {
      unlockHome(home);
      throw e;
    }
  }

  private static async openLocked(opts: SessionOptions & { home: string }): Promise<LocalSession> {
    const home = opts.home;
    const layout = homeLayout(home);
    const logDir = layout.logDir;
    // A command killed hard (SIGKILL, a closed terminal) leaves its runs RUNNING: the next one marks them ABANDONED.
    for (const a of await new LocalRunHistory({ home, sweep: opts.command ?? 'sentinel run' }).abandoned()) {
      process.stderr.write(`sentinel: run ${a.record.runId} (${a.record.pipeline}) marked ABANDONED: ${a.reason}; \`sentinel resume ${a.record.runId}\` continues it\n`);
    }
    // A command killed hard (SIGKILL, a closed terminal) cannot stop its head; the next one does.
    const record = layout.rayHeadRecord;
    try {
      const stale = JSON.parse(readFile(record, 'utf8')) as { tempDir: string };
      const stopped = await stopStaleHead(stale.tempDir);
      if (stopped) process.stderr.write(`sentinel: stopped ${stopped} process(es) of a Ray head an earlier run left behind\n`);
    } catch {
      /* no record */
    }
    if (opts.tracking === 'local') {
      const stopped = await stopStaleMlflow(home);
      if (stopped) process.stderr.write(`sentinel: stopped ${stopped} process(es) of an MLflow server an earlier run left behind\n`);
    }
    // The MLflow server starts beside the Ray head (both take seconds; neither waits for the other).
    const serverStarting =
      opts.tracking === 'local'
        ? startMlflowServer({ pythonEnv: opts.pythonEnv, home, artifactsDir: layout.mlflowArtifacts, logFile: join(logDir, 'mlflow-server.log') })
        : undefined;
    serverStarting?.catch(() => undefined); // observed below
    let head: RayHead;
    try {
      head = await startRayHead({ pythonEnv: opts.pythonEnv, numCpus: opts.numCpus ?? 4, logFile: join(logDir, 'ray-head.log') });
    } catch (e) {
      await serverStarting?.then((s) => s.stop(), () => undefined);
      throw e;
    }
    writeFileSync(record, JSON.stringify({ tempDir: head.tempDir, pid: head.pid }));
    let tracking: SessionTracking | undefined;
    try {
      if (serverStarting) {
        const server = await serverStarting;
        tracking = { uri: server.uri, port: new MlflowRest({ uri: server.uri }), server };
      } else if (opts.tracking && opts.tracking !== 'local') tracking = { uri: opts.tracking.uri, port: new MlflowRest({ uri: opts.tracking.uri }) };
      const compute = new RayJobsCompute({ dashboard: head.dashboard, env: head.jobEnv });
      const serving = new RayServeServing({ dashboard: head.dashboard, http: { host: '127.0.0.1', port: opts.servePort ?? 8000 } });
      const runtime = new LocalRuntime({
        home,
        bucketUri: layout.bucket,
        artifactRoot: layout.artifactRoot,
        compute,
        serving,
        logFile: join(logDir, 'handlers.log'),
        ...(opts.workflow ? { workflow: opts.workflow } : {}),
        ...(tracking ? { tracking: tracking.port } : {}),
        ...opts.completions,
      });
      // Serve's controller and proxy come up with the head, as on a long-lived serving cluster (best effort: a
      // failure here shows again, with its reason, when a promotion needs Serve).
      await serving.warmUp().catch(() => undefined);
      const session = new LocalSession({ ...opts, home }, head, runtime, serving, tracking);
      // For `sentinel status` in another terminal: where this session's dashboard, Serve and MLflow are (0600).
      session.sessionFileId = writeSessionFile(home, {
        dashboardUrl: head.dashboard.url,
        ...(head.dashboard.token ? { dashboardToken: head.dashboard.token } : {}),
        servePort: opts.servePort ?? 8000,
        ...(tracking ? { mlflowUri: tracking.uri } : {}),
      }).id;
      session.watchControl();
      return session;
    } catch (e) {
      await head.stop();
      await (tracking?.server ?? (await serverStarting?.catch(() => undefined)))?.stop();
      throw e;
    }
  }

  loadSpec(specPath: string): PipelineSpec {
    return loadSpecFile(specPath);
  }

  /** The model precheck the CLI runs before a Ray head starts (ValidationFailed naming the spec's fields). */
  checkModel(spec: PipelineSpec, where: string = spec.name): Promise<ModelCheckResult> {
    return checkModel(spec, { pythonEnv: this.opts.pythonEnv, where });
  }

  /** Puts the spec where a deployment keeps it (<bucket>/pipelines/<name>.yaml), so uploads and schedules find it. */
  async deploySpec(_specPath: string, spec: PipelineSpec) {
    const dest = pipelineSpecUri(this.bucket, spec.name);
    mkdirSync(join(this.bucket, 'pipelines'), { recursive: true });
    // The resolved spec (absolute code and dataset paths): uploads and schedules read it without the spec's folder.
    writeFileSync(dest, stringifyYaml(spec));
    return dest;
  }

  /** Where the run's dataset is: an uploaded file, or the spec's, written out first if it is the reference one. */
  async prepareDataset(spec: PipelineSpec, datasetPath?: string): Promise<string> {
    if (datasetPath) return uploadDataset(this.bucket, spec, datasetPath);
    const path = specDatasetPath(this.bucket, spec);
    try {
      await preflightCsv(path, spec);
    } catch (e) {
      const reference = REFERENCE_DATASETS[spec.dataset.uri];
      if (!reference || existsSync(path)) throw e;
      await writeReferenceDataset(this.opts.pythonEnv, path, reference);
    }
    return path;
  }

  /** Puts the recorded champion back behind its route (a fresh Ray head serves nothing). */
  async restoreChampion(spec: PipelineSpec) {
    return restoreChampion(
      { artifactRoot: this.artifactRoot, pipeline: spec.name },
      { serving: this.serving, store: this.runtime.store, clock: systemClock, now: () => new Date(), ...(this.tracking ? { tracking: this.tracking.port } : {}) },
    );
  }

  async start(spec: PipelineSpec, datasetUri: string, requestId: string): Promise<{ runId: string; executionName: string; alreadyStarted: boolean; execution: LocalExecution; startedAt: number }> {
    const startedAt = Date.now();
    const res = (await this.runtime.invoke('start-run', { spec, trigger: { kind: 'manual', requestId }, datasetUri })) as {
      runId: string;
      executionName: string;
      alreadyStarted: boolean;
    };
    const execution = this.runtime.execution(res.executionName);
    if (!execution) throw new Error(`execution ${res.executionName} was not started`);
    if (this.sessionFileId) addSessionRun(this.opts.home, this.sessionFileId, res.runId);
    return { ...res, execution, startedAt };
  }

  /** Starts a resumed run (core/resume.ts): the same state machine, with the reuse and checkpoints in its input. */
  async startResumed(spec: PipelineSpec, datasetUri: string, requestId: string, resume: ResumeInput) {
    const startedAt = Date.now();
    const res = await startRun(
      { spec, trigger: { kind: 'manual', requestId }, artifactRoot: this.artifactRoot, datasetUri, resume },
      { executions: this.runtime.executionsPort, now: () => new Date() },
    );
    const execution = this.runtime.execution(res.executionName);
    if (!execution) throw new Error(`execution ${res.executionName} was not started`);
    if (this.sessionFileId) addSessionRun(this.opts.home, this.sessionFileId, res.runId);
    return { runId: res.runId, executionName: res.executionName, alreadyStarted: res.alreadyStarted, execution, startedAt };
  }

  /** Cancellations under way, by run: report() waits for one so it sees the CANCELLED record. */
  private readonly cancelling = new Map<string, Promise<'cancelled' | 'finished'>>();
  private controlTimer?: NodeJS.Timeout;

  /** Acts on `sentinel cancel` requests for this session's runs (local/control.ts). */
  private watchControl() {
    this.controlTimer = setInterval(() => {
      const mine = new Set(this.runtime.allExecutions().map(runIdOf));
      for (const req of pendingCancels(this.opts.home)) {
        if (!mine.has(req.runId) || this.cancelling.has(req.runId)) continue;
        clearCancel(this.opts.home, req.runId);
        void this.cancel(req.runId, { by: req.by, reason: `cancelled by ${req.by} at ${req.at}` });
      }
    }, 300);
    this.controlTimer.unref();
  }

  /**
   * Stops one of this session's runs: aborts its execution, stops its Ray jobs and waits until Ray reports them ended,
   * then records CANCELLED (who, when, why) unless the run had already finished. Ctrl-C and `sentinel cancel` both
   * come here.
   */
  cancel(runId: string, why: { by: string; reason: string }): Promise<'cancelled' | 'finished'> {
    const known = this.cancelling.get(runId);
    if (known) return known;
    const doing = (async () => {
      const execution = this.runtime.allExecutions().find((e) => runIdOf(e) === runId);
      if (!execution) return 'finished' as const;
      const pipeline = (execution.input as { run: { pipeline: string } }).run.pipeline;
      const uri = runRecordUri(this.artifactRoot, pipeline, runId);
      const before = await this.runtime.store.getJson<RunRecord>(uri);
      if (before && before.status !== 'RUNNING') return 'finished' as const;
      execution.abort();
      await execution.result;
      await this.stopJobs(runId);
      const record = await this.runtime.store.getJson<RunRecord>(uri);
      if (record && record.status !== 'RUNNING') return 'finished' as const;
      const results = await new LocalRunHistory({ home: this.opts.home }).stageResults(pipeline, runId);
      const stage = STAGES.find((s) => !results[s]?.result);
      const run = (execution.input as { run: Pick<RunRecord, 'trigger' | 'datasetUri'> & { requestedAt: string } }).run;
      // Cancelled before its first state recorded it: the record starts here.
      const base: RunRecord = record ?? { pipeline, runId, status: 'RUNNING', trigger: run.trigger, datasetUri: run.datasetUri, startedAt: run.requestedAt };
      await this.runtime.store.putJson(uri, endedRecord(base, 'CANCELLED', { by: why.by, at: new Date().toISOString(), reason: why.reason }, stage));
      return 'cancelled' as const;
    })();
    this.cancelling.set(runId, doing);
    return doing;
  }

  /** Stops every job of the run and waits (bounded) until Ray reports each one ended. */
  private async stopJobs(runId: string, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const jobs = await this.runtime.compute.list({ 'sentinel.dev/run': runId }).catch(() => []);
      const live = jobs.filter((j) => !isTerminal(j.state));
      if (!live.length || Date.now() > deadline) return;
      await Promise.all(live.map((j) => this.runtime.compute.stop(j.jobId).catch(() => undefined)));
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async report(started: { runId: string; executionName: string; alreadyStarted: boolean; execution: LocalExecution; startedAt: number }, spec: PipelineSpec): Promise<RunReport> {
    const outcome = await started.execution.result;
    await this.cancelling.get(started.runId);
    const wallSeconds = (Date.now() - started.startedAt) / 1000;
    const output = (outcome.output ?? {}) as { stages?: Partial<Record<Stage, StageSummary>>; gate?: GateResult; promotion?: Promotion };
    const record = await this.runtime.store.getJson<RunRecord>(runRecordUri(this.artifactRoot, spec.name, started.runId));
    const stagesMap = output.stages ?? record?.stages ?? {};
    const stages = STAGES.map((s) => stagesMap[s]).filter((s): s is StageSummary => !!s);
    // Time inside Ray: every job of this run, failed attempts included, from Ray's own start/end times.
    const jobs = await this.runtime.compute.list({ 'sentinel.dev/run': started.runId });
    const rayJobSeconds = jobs.reduce((t, j) => t + (j.startTime && j.endTime ? (j.endTime - j.startTime) / 1000 : 0), 0);
    return {
      runId: started.runId,
      executionName: started.executionName,
      alreadyStarted: started.alreadyStarted,
      outcome,
      stages,
      ...(output.gate ? { gate: output.gate } : {}),
      ...(output.promotion ? { promotion: output.promotion } : {}),
      ...(record ? { record } : {}),
      wallSeconds,
      rayJobSeconds,
      // Step Functions bills a retry as a transition too.
      transitions: started.execution.events.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried').length,
      handlerInvocations: { ...this.runtime.invocations },
      artifactsDir: join(this.artifactRoot, spec.name, started.runId),
    };
  }

  endpoint(spec: PipelineSpec) {
    return this.serving.endpoint(spec.name, spec.serve.route);
  }

  /** This session's <home>/session.json (local/session-file.ts), removed on close. */
  private sessionFileId?: string;
  private closed = false;
  async close(reason = 'the command that started it ended before the run did') {
    if (this.closed) return;
    this.closed = true;
    if (this.controlTimer) clearInterval(this.controlTimer);
    // A run still going when its session closes (Ctrl-C, an error) is cancelled: its jobs stopped, CANCELLED recorded.
    const by = `${this.opts.command ?? 'sentinel'} (pid ${process.pid})`;
    await Promise.all(this.runtime.allExecutions().map((e) => this.cancel(runIdOf(e), { by, reason: `${reason} at ${new Date().toISOString()}` }).catch(() => undefined)));
    // First: from here on the session is going away, and `sentinel status` should no longer report it live.
    if (this.sessionFileId) removeSessionFile(this.opts.home, this.sessionFileId);
    try {
      await this.runtime.close();
    } finally {
      await Promise.all([this.head.stop(), this.tracking?.server?.stop()]);
      rmSync(homeLayout(this.opts.home).rayHeadRecord, { force: true });
      unlockHome(resolve(this.opts.home));
    }
  }
}
