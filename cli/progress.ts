// Live progress of a run: each stage's state, elapsed time, Ray job id and the job's latest progress line.
// Reads what an operator could read in AWS too: the execution's events and the jobs labelled with the run id.
import type { ComputePort } from '../core/ports.js';
import type { LocalExecution, ExecutionEvent } from '../local/runtime.js';
import { STAGES, stateNameFor, type Stage } from '../core/stages.js';
import { bold, cyan, dim, duration, green, isTty, red, yellow } from './format.js';

type Row = { label: string; state: string; jobId?: string; attempt?: number; started?: number; ended?: number; line?: string };

const STEP_ROWS = ['gate', 'promote'] as const;

export class ProgressView {
  private readonly rows = new Map<string, Row>();
  private timer?: NodeJS.Timeout;
  private drawn = 0;
  private readonly tty = isTty();
  private readonly lastPrinted = new Map<string, string>();
  private polling = false;

  constructor(
    private readonly runId: string,
    private readonly execution: LocalExecution,
    private readonly compute: ComputePort,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {
    for (const s of [...STAGES, ...STEP_ROWS]) this.rows.set(s, { label: s, state: 'PENDING' });
    for (const e of execution.events) this.onEvent(e);
    execution.onEvent((e) => this.onEvent(e));
  }

  private rowForState(name: string): Row | undefined {
    const stage = STAGES.find((s) => stateNameFor(s) === name);
    if (stage) return this.rows.get(stage);
    if (name === 'Gate') return this.rows.get('gate');
    // The promotion loop (Promote, then WaitForPromotion ↔ CheckPromotion) is one row.
    if (name === 'Promote' || name === 'WaitForPromotion' || name === 'CheckPromotion') return this.rows.get('promote');
    return undefined;
  }

  private onEvent(e: ExecutionEvent) {
    if (!e.state) return;
    const row = this.rowForState(e.state.name);
    if (e.state.name === 'RecordNotPromoted') this.update(this.rows.get('promote')!, { state: 'SKIPPED' });
    if (!row) return;
    // The promotion loop: the row stays RUNNING (one line) until a step says done.
    if (row === this.rows.get('promote') && e.state.name !== 'Promote' && e.type === 'StateEntered' && row.state === 'RUNNING') return;
    if (row === this.rows.get('promote') && e.type === 'StateExited' && (e.state.name === 'WaitForPromotion' || (e.state.output as { promotion?: { done?: boolean } } | undefined)?.promotion?.done === false)) return;
    if (e.type === 'StateEntered') this.update(row, { state: row.state === 'RETRYING' ? 'RETRYING' : 'RUNNING', started: row.started ?? e.timestamp });
    if (e.type === 'StateExited') this.update(row, { state: 'SUCCEEDED', ended: e.timestamp });
    if (e.type === 'StateRetried') {
      delete row.ended;
      this.update(row, { state: 'RETRYING', line: 'retrying' });
    }
    if (e.type === 'StateFailed') this.update(row, { state: 'FAILED', ended: e.timestamp, line: e.error ?? row.line });
  }

  private update(row: Row, patch: Partial<Row>) {
    Object.assign(row, patch);
    if (!this.tty) this.printLine(row);
  }

  private format(row: Row, now: number): string {
    const icon = { PENDING: dim('·'), RUNNING: cyan('▶'), RETRYING: yellow('↻'), SUCCEEDED: green('✔'), FAILED: red('✖'), SKIPPED: dim('–') }[row.state] ?? '?';
    const elapsed = row.started ? duration(((row.ended ?? now) - row.started) / 1000) : '';
    const job = row.jobId ? dim(row.jobId) : '';
    const line = row.line && row.state !== 'SUCCEEDED' ? ` ${dim(row.line.slice(0, 90))}` : '';
    return `  ${icon} ${row.label.padEnd(9)} ${row.state.padEnd(9)} ${elapsed.padStart(7)}  ${job}${line}`;
  }

  private printLine(row: Row) {
    const text = this.format(row, Date.now());
    const key = `${row.label}|${row.state}|${row.jobId}|${row.line}`;
    if (this.lastPrinted.get(row.label) === key) return;
    this.lastPrinted.set(row.label, key);
    this.out.write(`${text}\n`);
  }

  private draw() {
    if (!this.tty) return;
    const now = Date.now();
    const lines = [...this.rows.values()].map((r) => this.format(r, now));
    const up = this.drawn ? `\x1b[${this.drawn}A` : '';
    this.out.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
    this.drawn = lines.length;
  }

  /** Job ids, attempts and the latest `[stage] …` line of each running job. */
  private async poll() {
    if (this.polling) return;
    this.polling = true;
    try {
      const jobs = await this.compute.list({ 'sentinel.dev/run': this.runId });
      for (const job of jobs) {
        const stage = job.labels['sentinel.dev/stage'] as Stage | undefined;
        const attempt = Number(job.labels['sentinel.dev/attempt'] ?? 1);
        const row = stage && this.rows.get(stage);
        if (!row || (row.attempt && row.attempt > attempt)) continue;
        const patch: Partial<Row> = { jobId: job.jobId, attempt };
        if (job.state === 'RUNNING' || job.state === 'PENDING') {
          const tail = await this.compute.logs(job.jobId, 40).catch(() => '');
          const line = tail.split('\n').reverse().find((l) => /^\[(ingest|train|tune|evaluate)\]/.test(l));
          if (line) patch.line = line;
        }
        this.update(row, patch);
      }
    } catch {
      /* progress is best effort; the run itself reports errors */
    } finally {
      this.polling = false;
    }
  }

  start() {
    this.out.write(`${bold(`Run ${this.runId}`)}  ${dim(this.execution.name)}\n`);
    this.draw();
    this.timer = setInterval(() => {
      void this.poll().then(() => this.draw());
    }, 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.draw();
  }
}
