// RunHistoryPort over a local home: run records, stage results and champions are files in <home>/bucket/artifacts
// (the layout of core/artifacts.ts), the control-plane metrics are each run's metrics.jsonl, the deployed specs are
// <home>/bucket/pipelines/<name>.yaml, and the live session is <home>/session.json (local/session-file.ts) — reached
// through the Ray head's dashboard with the token that file keeps (never returned from here).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChampionRecord, RunRecord } from '../core/model.js';
import type { ComputePort, ServingPort } from '../core/ports.js';
import { withWaitingRuns, type LiveServing, type LiveView, type RunHistoryPort, type StoredStageResult, type ControlPlaneDigest } from '../core/run-history.js';
import { isRunSlots, runSlotsUri, type RunSlots } from '../core/run-slots.js';
import { championUri, resultUri, runRecordUri, runUri } from '../core/artifacts.js';
import { STAGES, type Stage } from '../core/stages.js';
import { StageResultSchema } from '../core/contract.js';
import { parseSpec, type PipelineSpec } from '../core/spec.js';
import { pipelineSpecUri } from '../core/triggers.js';
import { RUN_ID_PATTERN } from '../core/run-id.js';
import { runMetricsDigest, runMetricsFile } from './metrics-sink.js';
import { liveSessionFile, pidAlive, readSessionFile, type SessionFile } from './session-file.js';
import { endedRecord, findAbandoned, type Abandoned } from '../core/abandoned.js';
import { LocalObjectStore } from './object-store.js';
import { stopStaleHead } from './ray-head.js';
import { rmSync } from 'node:fs';
import { RayJobsCompute } from '../adapters/ray/jobs-compute.js';
import { RayServeServing } from '../adapters/ray/serve-serving.js';
import { requestJson, type RayDashboard } from '../adapters/ray/http.js';
import { STAGE_LOG_FOLDER, stageUri } from '../core/artifacts.js';
import { STAGE_LOG_NAME, sortLogs, type StageLog, type StageLogsPort } from '../core/run-logs.js';
import { homeLayout } from './home-layout.js';

export interface LocalRunHistoryOptions {
  home: string;
  /** How to reach a live session's Ray head (tests give fakes); default: the Ray Jobs and Serve REST adapters. */
  connect?: (dashboard: RayDashboard, servePort: number) => { compute: ComputePort; serving: ServingPort };
  /** Whether the dashboard answers (default: GET /api/version within 3 s). */
  probe?: (dashboard: RayDashboard) => Promise<boolean>;
  /**
   * The command reading the home (e.g. "sentinel runs"): before listing, it marks the RUNNING runs whose command died
   * ABANDONED (core/abandoned.ts) and stops the Ray head that command left. Absent: read only.
   */
  sweep?: string;
}

const readJson = <T>(path: string): T | undefined => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
};

async function answers(dashboard: RayDashboard): Promise<boolean> {
  try {
    const res = await requestJson(dashboard, 'GET', '/api/version', undefined, 3_000);
    return res.status === 200;
  } catch {
    return false;
  }
}

/** The folders in `p` (none when it is not there). */
function subfolders(p: string): string[] {
  try {
    return readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

export class LocalRunHistory implements RunHistoryPort, StageLogsPort {
  readonly bucket: string;
  readonly artifactRoot: string;
  readonly where: string;
  private session: SessionFile | undefined | null = null;
  private liveView: Promise<LiveView | undefined> | undefined;
  private connected: { compute: ComputePort; serving: ServingPort } | undefined;

  constructor(private readonly o: LocalRunHistoryOptions) {
    const layout = homeLayout(o.home);
    this.bucket = layout.bucket;
    this.artifactRoot = layout.artifactRoot;
    this.where = `the local home ${o.home}`;
  }

  /** Whether the home holds anything Sentinel wrote. */
  exists(): boolean {
    return existsSync(this.artifactRoot) || existsSync(homeLayout(this.o.home).logDir);
  }

  private swept?: Promise<Abandoned[]>;
  /** What the sweep marked ABANDONED (once per instance). */
  abandoned(): Promise<Abandoned[]> {
    this.swept ??= this.o.sweep ? markAbandoned(this.o.home, this.o.sweep, () => this.readRuns(), (p, r) => this.stageResults(p, r)) : Promise.resolve([]);
    return this.swept;
  }

  async listRuns(): Promise<RunRecord[]> {
    await this.abandoned();
    return withWaitingRuns(await this.readRuns(), this.readSlots(), new Date());
  }

  /** Each pipeline's run slots (core/run-slots.ts), where a run waiting for one is. */
  private readSlots(): RunSlots[] {
    return subfolders(this.artifactRoot).map((p) => readJson<unknown>(runSlotsUri(this.artifactRoot, p))).filter(isRunSlots);
  }

  private async readRuns(): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for (const pipeline of subfolders(this.artifactRoot)) {
      for (const runId of subfolders(join(this.artifactRoot, pipeline))) {
        if (!RUN_ID_PATTERN.test(runId)) continue;
        const record = readJson<RunRecord>(runRecordUri(this.artifactRoot, pipeline, runId));
        if (record && record.runId === runId && typeof record.startedAt === 'string') out.push(record);
      }
    }
    return out;
  }

  async stageResults(pipeline: string, runId: string): Promise<Partial<Record<Stage, StoredStageResult>>> {
    const out: Partial<Record<Stage, StoredStageResult>> = {};
    for (const stage of STAGES) {
      const uri = resultUri(this.artifactRoot, pipeline, runId, stage);
      if (!existsSync(uri)) continue;
      const writtenAt = new Date(statSync(uri).mtimeMs).toISOString();
      const parsed = StageResultSchema.safeParse(readJson(uri));
      out[stage] = parsed.success ? { uri, result: parsed.data, writtenAt } : { uri, writtenAt, problem: 'does not read as a stage result' };
    }
    return out;
  }

  async champion(pipeline: string): Promise<ChampionRecord | undefined> {
    return readJson<ChampionRecord>(championUri(this.artifactRoot, pipeline));
  }

  async spec(pipeline: string): Promise<PipelineSpec | undefined> {
    const path = pipelineSpecUri(this.bucket, pipeline);
    if (!existsSync(path)) return undefined;
    return parseSpec(readFileSync(path, 'utf8'), path);
  }

  async controlPlane(pipeline: string, runId: string): Promise<ControlPlaneDigest | undefined> {
    const file = runMetricsFile(this.artifactRoot, pipeline, runId);
    return existsSync(file) ? runMetricsDigest(file) : undefined;
  }

  artifactsUri(pipeline: string, runId: string): string {
    return runUri(this.artifactRoot, pipeline, runId);
  }

  private liveSession(): SessionFile | undefined {
    if (this.session === null) this.session = liveSessionFile(this.o.home);
    return this.session;
  }

  private dashboard(s: SessionFile): RayDashboard {
    return { url: s.dashboardUrl, ...(s.dashboardToken ? { token: s.dashboardToken } : {}) };
  }

  live(): Promise<LiveView | undefined> {
    this.liveView ??= (async () => {
      const s = this.liveSession();
      if (!s) return undefined;
      const ok = await (this.o.probe ?? answers)(this.dashboard(s));
      return {
        dashboardUrl: s.dashboardUrl,
        dashboardAnswers: ok,
        pid: s.pid,
        startedAt: s.startedAt,
        runs: s.runs,
        ...(s.mlflowUri ? { mlflowUri: s.mlflowUri } : {}),
        ...(ok ? {} : { note: `the session (pid ${s.pid}) is up but its Ray dashboard does not answer` }),
      };
    })();
    return this.liveView;
  }

  private connection() {
    const s = this.liveSession();
    if (!s) return undefined;
    this.connected ??= (this.o.connect ?? ((dashboard, port) => ({ compute: new RayJobsCompute({ dashboard }), serving: new RayServeServing({ dashboard, http: { host: '127.0.0.1', port } }) })))(
      this.dashboard(s),
      s.servePort,
    );
    return this.connected;
  }

  async jobs(pipeline: string, runId: string) {
    const c = this.connection();
    return c ? c.compute.list({ 'sentinel.dev/pipeline': pipeline, 'sentinel.dev/run': runId }) : [];
  }

  async serving(pipeline: string): Promise<LiveServing | undefined> {
    const c = this.connection();
    if (!c) return undefined;
    const spec = await this.spec(pipeline).catch(() => undefined);
    const [status, replicas] = await Promise.all([c.serving.status(pipeline).catch(() => undefined), c.serving.replicas?.(pipeline).catch(() => undefined)]);
    if (!status || status.state === 'NOT_STARTED') return undefined;
    return { endpoint: c.serving.endpoint(pipeline, spec?.serve.route ?? '/predict'), status, ...(replicas ? { replicas } : {}) };
  }

  // Driver logs: <stage>/logs/attempt-N.log, written by each attempt's job as it runs (core/run-logs.ts).
  async stageLogs(pipeline: string, runId: string): Promise<StageLog[]> {
    const out: StageLog[] = [];
    for (const stage of STAGES) {
      const dir = join(stageUri(this.artifactRoot, pipeline, runId, stage), STAGE_LOG_FOLDER);
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        const m = STAGE_LOG_NAME.exec(name);
        if (!m) continue;
        try {
          const st = statSync(join(dir, name));
          if (st.isFile()) out.push({ stage, attempt: Number(m[1]), uri: join(dir, name), size: st.size, modifiedAt: new Date(st.mtimeMs).toISOString() });
        } catch {
          /* removed meanwhile */
        }
      }
    }
    return sortLogs(out);
  }

  async readLog(uri: string, offset: number): Promise<Uint8Array | undefined> {
    if (!uri.startsWith(`${this.artifactRoot}/`)) return undefined; // only this home's logs
    let fh;
    try {
      fh = await open(uri, 'r');
    } catch {
      return undefined;
    }
    try {
      const { size } = await fh.stat();
      if (size <= offset) return new Uint8Array(0);
      const buf = Buffer.alloc(size - offset);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  }
}

/**
 * Marks the home's RUNNING runs that no live session owns ABANDONED (when, why, found by whom), and, when the
 * session that ran them is dead, stops the Ray head it left (its jobs and workers go with it).
 */
export async function markAbandoned(
  home: string,
  by: string,
  runs: () => Promise<RunRecord[]>,
  results: (pipeline: string, runId: string) => Promise<Partial<Record<Stage, StoredStageResult>>>,
): Promise<Abandoned[]> {
  const file = readSessionFile(home);
  const session = file ? { pid: file.pid, alive: pidAlive(file.pid), startedAt: file.startedAt, runs: file.runs } : undefined;
  const found = findAbandoned(await runs(), session);
  const store = new LocalObjectStore();
  const at = new Date().toISOString();
  const { artifactRoot } = homeLayout(home);
  for (const a of found) {
    const stored = await results(a.record.pipeline, a.record.runId);
    const stage = STAGES.find((s) => !stored[s]?.result);
    const reason = `${a.reason}; found by \`${by}\` at ${at}`;
    await store.putJson(runRecordUri(artifactRoot, a.record.pipeline, a.record.runId), endedRecord(a.record, 'ABANDONED', { by, at, reason }, stage));
  }
  // The dead command's Ray head (and the run's jobs on it); a starting command writes session.json after its head.
  if (file && !session!.alive) {
    const record = homeLayout(home).rayHeadRecord;
    const head = readJson<{ tempDir?: string }>(record);
    // Only the head that dead command started: a command starting now writes its ray-head.json before its session.
    const written = existsSync(record) ? statSync(record).mtimeMs : Infinity;
    if (head?.tempDir && written <= Date.parse(file.startedAt)) {
      await stopStaleHead(head.tempDir);
      rmSync(record, { force: true });
    }
  }
  return found;
}
