// The run report as one self-contained HTML page (`sentinel report`): data in, a string out, no I/O. Inline CSS and
// SVG only; a Content-Security-Policy that allows no script and no fetch (images only from data: URIs). Every piece of
// text that comes from a run (pipeline, metric and trial names, reasons, URIs) is escaped: the page shows it, it never
// runs it. What the page shows: the pipeline graph coloured by each stage's outcome, per-stage metrics, the gate's
// decision and reason, the tuning curves (one polyline per trial), lineage from the dataset's SHA-256 to the endpoint,
// and the time each stage spent inside Ray.
import type { GateView, RunStatusView, StageView } from '../core/run-history.js';
import type { Stage } from '../core/stages.js';

export interface TrialCurve {
  trialId: string;
  /** The validation metric after each iteration. */
  history: number[];
  best?: boolean;
  stoppedEarly?: boolean;
  config?: Record<string, unknown>;
  error?: string | null;
}

export interface TuningCurves {
  metric: string;
  mode?: 'max' | 'min';
  bestTrialId?: string;
  maxIterations?: number;
  trials: TrialCurve[];
}

export interface ReportData {
  view: RunStatusView;
  /** ISO time the page was made. */
  generatedAt: string;
  /** The dataset's SHA-256 as ingest recorded it (its manifest). */
  datasetSha256?: string;
  manifestUri?: string;
  /** The dataset's size as ingest read it. */
  datasetBytes?: number;
  /** This run's candidate model. */
  modelUri?: string;
  /** Its version in the model registry, when this run's model was registered. */
  registry?: { model: string; version: string };
  /** The pipeline's route (the spec's serve.route) and, while a session serves it, the full endpoint. */
  route?: string;
  endpoint?: string;
  /** The gate's rule from the spec. */
  gateRule?: { metric: string; mode?: string; floor?: number; minImprovement?: number };
  /** Each stage's details (timing breakdowns, resumed, …) as its result recorded them. */
  stageDetails?: Partial<Record<Stage, Record<string, unknown>>>;
  /** The tune stage's trial histories (its trials.json). */
  tuning?: TuningCurves;
  /** The tune job's own drawing (curves.svg), shown only when the histories are missing; embedded as an image. */
  curvesSvg?: string;
  /** What could not be read, said on the page instead of failing. */
  notes?: string[];
}

export const GRAPH_NODES = ['ingest', 'train', 'tune', 'evaluate', 'gate', 'promote'] as const;
export type GraphNode = (typeof GRAPH_NODES)[number];
export type NodeState = 'SUCCEEDED' | 'FAILED' | 'RUNNING' | 'SKIPPED' | 'PENDING' | 'INTERRUPTED';

/** Each state's stroke and fill; the Chromium test checks the page paints them. */
export const STATE_COLOURS: Record<NodeState, { stroke: string; fill: string; text: string }> = {
  SUCCEEDED: { stroke: '#16a34a', fill: '#ecfdf3', text: '#166534' },
  FAILED: { stroke: '#dc2626', fill: '#fef2f2', text: '#991b1b' },
  RUNNING: { stroke: '#2563eb', fill: '#eff6ff', text: '#1e40af' },
  INTERRUPTED: { stroke: '#d97706', fill: '#fffbeb', text: '#92400e' },
  SKIPPED: { stroke: '#94a3b8', fill: '#f8fafc', text: '#64748b' },
  PENDING: { stroke: '#cbd5e1', fill: '#ffffff', text: '#94a3b8' },
};

const TRIAL_COLOURS = ['#2563eb', '#db2777', '#0891b2', '#ea580c', '#7c3aed', '#65a30d', '#dc2626', '#0d9488', '#c026d3', '#ca8a04'];

/** Text for HTML content and attribute values (both quotes too). */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const num = (v: number) => (!Number.isFinite(v) ? String(v) : Number.isInteger(v) ? String(v) : Math.abs(v) >= 1000 ? v.toFixed(1) : v.toPrecision(4).replace(/\.?0+$/, '') || '0');
const precise = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(6).replace(/0+$/, ''));
export function seconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '–';
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
}
const when = (iso: string | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');
const bytesText = (b: number) => (b < 1024 ? `${b} B` : b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} KB` : `${(b / 1024 / 1024).toFixed(1)} MB`);
/** Only http(s) URLs become links (a `javascript:` URI in a record stays text). */
const link = (url: string | undefined, text?: string) => (url && /^https?:\/\//i.test(url) ? `<a href="${esc(url)}">${esc(text ?? url)}</a>` : esc(text ?? url ?? ''));

export interface NodeView {
  node: GraphNode;
  state: NodeState;
  /** The line under the name: time in Ray, the decision, the registry version. */
  detail: string;
  attempt?: number;
}

/** A stage's state as a box's state; a state this page does not know (a newer backend's) is drawn as stopped. */
const stageState = (s: StageView['state']): NodeState => (s === 'NOT_RUN' ? 'SKIPPED' : s in STATE_COLOURS ? (s as NodeState) : 'INTERRUPTED');
/** The run stopped before it ended (interrupted, cancelled, abandoned). */
const stopped = (status: string) => !['SUCCEEDED', 'FAILED', 'RUNNING'].includes(status);

/** The six boxes of the graph and their outcomes. */
export function graphNodes(d: ReportData): NodeView[] {
  const v = d.view;
  const failedAt = v.outcome.kind === 'failed' ? v.outcome.stage : undefined;
  const stageNodes = v.stages.map((s): NodeView => {
    const attempts = s.attempt && s.attempt > 1 ? ` · attempt ${s.attempt}` : '';
    const detail = s.seconds !== undefined ? `${seconds(s.seconds)} in Ray${attempts}` : s.state === 'FAILED' ? `failed${attempts}` : s.state === 'NOT_RUN' ? 'not run' : s.state.toLowerCase();
    return { node: s.stage, state: stageState(s.state), detail, ...(s.attempt ? { attempt: s.attempt } : {}) };
  });
  const evaluated = v.stages.find((s) => s.stage === 'evaluate')?.state === 'SUCCEEDED';
  let gate: NodeView;
  if (v.gate) gate = { node: 'gate', state: 'SUCCEEDED', detail: v.gate.decision === 'PROMOTE' ? 'promote' : 'keep champion' };
  else if (failedAt === 'Gate') gate = { node: 'gate', state: 'FAILED', detail: 'failed' };
  else if (v.status === 'RUNNING') gate = { node: 'gate', state: evaluated ? 'RUNNING' : 'PENDING', detail: evaluated ? 'deciding' : 'pending' };
  else if (stopped(v.status) && evaluated) gate = { node: 'gate', state: 'INTERRUPTED', detail: 'interrupted' };
  else gate = { node: 'gate', state: 'SKIPPED', detail: 'not run' };
  let promote: NodeView;
  const version = d.registry ? `registry v${d.registry.version}` : 'serving';
  if (v.gate?.decision === 'KEEP') promote = { node: 'promote', state: 'SKIPPED', detail: 'champion kept' };
  else if (failedAt && ['Promote', 'CheckPromotion', 'RecordPromoted'].includes(failedAt)) promote = { node: 'promote', state: 'FAILED', detail: 'failed' };
  else if (v.gate?.decision === 'PROMOTE' && v.status === 'SUCCEEDED') promote = { node: 'promote', state: 'SUCCEEDED', detail: version };
  else if (v.gate?.decision === 'PROMOTE' && v.status === 'RUNNING') promote = { node: 'promote', state: 'RUNNING', detail: 'promoting' };
  else if (v.gate?.decision === 'PROMOTE' && stopped(v.status)) promote = { node: 'promote', state: 'INTERRUPTED', detail: 'interrupted' };
  else if (v.status === 'RUNNING') promote = { node: 'promote', state: 'PENDING', detail: 'pending' };
  else promote = { node: 'promote', state: 'SKIPPED', detail: 'not run' };
  return [...stageNodes, gate, promote];
}

// ---------------------------------------------------------------------------------------------------------------
// Pieces of the page.

function graphSvg(nodes: NodeView[]): string {
  const w = 150;
  const h = 78;
  const gap = 34;
  const width = nodes.length * w + (nodes.length - 1) * gap + 8;
  const boxes = nodes.map((n, i) => {
    const x = 4 + i * (w + gap);
    const arrow = i < nodes.length - 1 ? `<line class="edge" x1="${x + w + 3}" y1="${4 + h / 2}" x2="${x + w + gap - 5}" y2="${4 + h / 2}" marker-end="url(#arrow)"/>` : '';
    return `<g class="stage state-${n.state}" data-stage="${n.node}" data-state="${n.state}" transform="translate(${x},4)">
  <title>${esc(`${n.node}: ${n.state} — ${n.detail}`)}</title>
  <rect class="box" width="${w}" height="${h}" rx="12"/>
  <circle class="dot" cx="18" cy="20" r="5"/>
  <text class="name" x="30" y="25">${esc(n.node)}</text>
  <text class="state" x="14" y="47">${esc(n.state)}</text>
  <text class="detail" x="14" y="65">${esc(n.detail)}</text>
</g>${arrow}`;
  });
  return `<svg class="graph" role="img" aria-label="pipeline graph" viewBox="0 0 ${width} ${h + 8}" width="100%" preserveAspectRatio="xMidYMid meet">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#94a3b8"/></marker></defs>
${boxes.join('\n')}
</svg>`;
}

function metricsTable(metrics: Record<string, number>, empty = 'no metrics'): string {
  const rows = Object.entries(metrics);
  if (!rows.length) return `<p class="muted">${esc(empty)}</p>`;
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td class="num" title="${esc(precise(v))}">${esc(num(v))}</td></tr>`).join('')}</table>`;
}

function stageCards(d: ReportData): string {
  return d.view.stages
    .map((s) => {
      const state = stageState(s.state);
      const details = d.stageDetails?.[s.stage];
      const candidate = s.stage === 'evaluate' ? ((details?.candidate as { metrics?: Record<string, number> } | undefined)?.metrics ?? undefined) : undefined;
      const facts = [
        s.attempt ? `attempt ${s.attempt}${s.attempts && s.attempts > s.attempt ? ` of ${s.attempts}` : ''}` : '',
        s.seconds !== undefined ? `${seconds(s.seconds)} in Ray` : '',
        s.endedAt ? `ended ${when(s.endedAt)}` : s.startedAt ? `started ${when(s.startedAt)}` : '',
      ].filter(Boolean);
      const extra = candidate && Object.keys(candidate).length ? `<h4>candidate on the test split</h4>${metricsTable(candidate)}` : '';
      return `<section class="card stage-card state-${state}" data-stage="${s.stage}">
  <header><span class="pill state-${state}">${esc(state)}</span><h3>${esc(s.stage)}</h3></header>
  <p class="facts">${facts.map(esc).join(' · ') || '&nbsp;'}</p>
  ${s.jobId ? `<p class="mono small">${esc(s.jobId)}</p>` : ''}
  ${s.notes?.length ? `<p class="note">${esc(s.notes.join(', '))}</p>` : ''}
  ${s.error ? `<p class="error">${esc(s.error)}</p>` : ''}
  ${metricsTable(s.metrics, s.state === 'SUCCEEDED' ? 'no metrics' : 'no metrics (the stage did not finish)')}
  ${extra}
</section>`;
    })
    .join('\n');
}

function gateSection(d: ReportData): string {
  const g: GateView | undefined = d.view.gate;
  const rule = d.gateRule
    ? `<p class="muted small">rule: ${esc(d.gateRule.metric)}${d.gateRule.mode ? ` (${esc(d.gateRule.mode)})` : ''}${d.gateRule.floor !== undefined ? `, floor ${esc(num(d.gateRule.floor))}` : ''}${d.gateRule.minImprovement !== undefined ? `, min improvement ${esc(num(d.gateRule.minImprovement))}` : ''}</p>`
    : '';
  if (!g) {
    const why = d.view.outcome.kind === 'failed' ? `the run failed before the gate decided: ${d.view.outcome.error ?? ''} ${d.view.outcome.reason}` : d.view.outcome.reason;
    return `<div class="gate gate-none" id="gate"><span class="decision">NO DECISION</span><p class="reason">${esc(why)}</p>${rule}</div>`;
  }
  const promote = g.decision === 'PROMOTE';
  const cmp =
    g.metric && g.candidate !== undefined
      ? `<div class="versus"><div><span class="label">candidate ${esc(g.metric)}</span><span class="big">${esc(precise(g.candidate))}</span></div>${
          g.champion !== undefined ? `<div><span class="label">champion ${esc(g.metric)}</span><span class="big">${esc(precise(g.champion))}</span></div>` : `<div><span class="label">champion</span><span class="big muted">none yet</span></div>`
        }</div>`
      : '';
  return `<div class="gate ${promote ? 'gate-promote' : 'gate-keep'}" id="gate" data-decision="${g.decision}">
  <span class="decision">${promote ? 'PROMOTE' : 'KEEP CHAMPION'}</span>
  <p class="reason">${esc(g.reason)}</p>
  ${cmp}${rule}
</div>`;
}

function curvesSvg(t: TuningCurves): string {
  const trials = t.trials.filter((x) => x.history.length > 0);
  const W = 760;
  const H = 340;
  const L = 64;
  const R = 16;
  const T = 16;
  const B = 40;
  const all = trials.flatMap((x) => x.history).filter(Number.isFinite);
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) {
    lo -= 0.5 * (Math.abs(lo) || 1) * 0.01;
    hi += 0.5 * (Math.abs(hi) || 1) * 0.01;
  }
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  const maxIt = Math.max(t.maxIterations ?? 0, ...trials.map((x) => x.history.length), 2);
  const x = (i: number) => L + ((i - 1) / (maxIt - 1)) * (W - L - R);
  const y = (v: number) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const ticks = Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4);
  const xTicks = [...new Set([1, ...Array.from({ length: 5 }, (_, i) => Math.round(1 + ((maxIt - 1) * (i + 1)) / 5))])];
  const grid = ticks.map((v) => `<line class="grid" x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/><text class="tick" x="${L - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(num(v))}</text>`).join('');
  const xg = xTicks.map((i) => `<text class="tick" x="${x(i).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${i}</text>`).join('');
  const lines = t.trials.map((tr, i) => {
    const colour = TRIAL_COLOURS[i % TRIAL_COLOURS.length]!;
    const pts = tr.history.map((v, j) => (Number.isFinite(v) ? `${x(j + 1).toFixed(1)},${y(v).toFixed(1)}` : '')).filter(Boolean);
    // A one-point history is drawn as a dot on a zero-length line (still one polyline per trial).
    const points = pts.length === 1 ? `${pts[0]} ${pts[0]}` : pts.join(' ');
    const last = pts.at(-1);
    const end = last ? `<circle cx="${last.split(',')[0]}" cy="${last.split(',')[1]}" r="${tr.best ? 4.5 : 3}" fill="${colour}"/>` : '';
    return `<g class="trial-line${tr.best ? ' best' : ''}"><title>${esc(`${tr.trialId}: ${tr.history.length} iterations${tr.stoppedEarly ? ', stopped early' : ''}`)}</title><polyline class="trial" data-trial="${esc(tr.trialId)}" points="${points}" fill="none" stroke="${colour}" stroke-width="${tr.best ? 3 : 1.8}" stroke-linejoin="round" stroke-linecap="round"${tr.stoppedEarly ? ' stroke-dasharray="6 4"' : ''}/>${end}</g>`;
  });
  return `<svg class="tuning-curves" role="img" aria-label="tuning curves" viewBox="0 0 ${W} ${H}" width="100%">
${grid}${xg}
<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"/><line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>
<text class="axis-label" x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">iteration</text>
<text class="axis-label" transform="translate(14,${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(t.metric)}</text>
${lines.join('\n')}
</svg>`;
}

function tuningSection(d: ReportData): string {
  const t = d.tuning;
  if (t && t.trials.length) {
    const legend = t.trials
      .map((tr, i) => {
        const final = tr.history.at(-1);
        const cfg = tr.config ? Object.entries(tr.config).map(([k, v]) => `${k}=${typeof v === 'number' ? num(v) : String(v)}`).join(', ') : '';
        return `<tr class="${tr.best ? 'best' : ''}"><td><span class="swatch" style="background:${TRIAL_COLOURS[i % TRIAL_COLOURS.length]}"></span>${esc(tr.trialId)}${tr.best ? ' <span class="pill state-SUCCEEDED">best</span>' : ''}</td><td class="num">${tr.history.length}</td><td class="num">${final !== undefined ? esc(num(final)) : '–'}</td><td>${tr.error ? `<span class="error">${esc(tr.error)}</span>` : tr.stoppedEarly ? 'stopped early' : 'ran to the end'}</td><td class="mono small">${esc(cfg)}</td></tr>`;
      })
      .join('');
    return `<p class="muted">${esc(t.trials.length)} trials, ${esc(t.metric)} on the validation split after each iteration${t.mode ? ` (${esc(t.mode)} is better)` : ''}; dashed: stopped early by the scheduler; thick: the best trial.</p>
${curvesSvg(t)}
<table class="trials"><thead><tr><th>trial</th><th class="num">iterations</th><th class="num">last ${esc(t.metric)}</th><th>ended</th><th>config</th></tr></thead><tbody>${legend}</tbody></table>`;
  }
  if (d.curvesSvg) {
    return `<p class="muted">The tune job's own drawing (its trial histories could not be read).</p><img class="curves-image" alt="tuning curves" src="data:image/svg+xml;base64,${Buffer.from(d.curvesSvg, 'utf8').toString('base64')}"/>`;
  }
  return `<p class="muted">No tuning curves: ${d.view.stages.find((s) => s.stage === 'tune')?.state === 'SUCCEEDED' ? 'the tune stage recorded no trial histories' : 'the tune stage did not finish'}.</p>`;
}

function lineageSection(d: ReportData): string {
  const v = d.view;
  const c = v.champion;
  const tracking = v.tracking && 'url' in v.tracking ? v.tracking : undefined;
  const served = c?.isThisRun;
  const endpointText = d.endpoint ?? d.route;
  const endpointNote = !endpointText
    ? 'no route known'
    : served
      ? 'serves this run’s model'
      : c
        ? `serves the champion, run ${c.runId}`
        : 'nothing promoted yet';
  const box = (cls: string, title: string, body: string) => `<div class="lineage-node ${cls}"><span class="label">${esc(title)}</span>${body}</div>`;
  const arrow = '<div class="lineage-arrow" aria-hidden="true">→</div>';
  return `<div class="lineage">
${box('lineage-dataset', 'dataset', `<code class="sha256" title="SHA-256 of the dataset">${esc(d.datasetSha256 ?? 'not recorded')}</code><span class="mono small">${esc(v.datasetUri)}</span>${d.datasetBytes !== undefined ? `<span class="small muted">${esc(bytesText(d.datasetBytes))}</span>` : ''}${d.manifestUri ? `<span class="mono small muted">manifest ${esc(d.manifestUri)}</span>` : ''}`)}
${arrow}
${box('lineage-run', 'run', `<strong class="mono">${esc(v.runId)}</strong><span>${esc(v.pipeline)} · ${esc(v.trigger)}${v.requestedBy ? ` ${esc(v.requestedBy)}` : ''}</span>${tracking ? `<span class="small">MLflow ${link(tracking.liveUrl ?? tracking.url, `run ${tracking.parentRunId}`)}</span>` : v.tracking && 'off' in v.tracking ? `<span class="small muted">${esc(v.tracking.off)}</span>` : ''}`)}
${arrow}
${box('lineage-model', 'model', `${d.registry ? `<strong class="registry">${esc(d.registry.model)} v${esc(d.registry.version)}</strong>` : '<strong class="muted">not registered</strong>'}<span class="mono small">${esc(d.modelUri ?? '–')}</span>${served ? '<span class="pill state-SUCCEEDED">champion</span>' : ''}`)}
${arrow}
${box('lineage-endpoint', 'endpoint', `<strong class="mono">${esc(endpointText ?? '–')}</strong><span class="small ${served ? '' : 'muted'}">${esc(endpointNote)}</span>`)}
</div>`;
}

function raySection(d: ReportData): string {
  const v = d.view;
  const runStart = Date.parse(v.startedAt);
  const runEnd = v.endedAt ? Date.parse(v.endedAt) : undefined;
  const bars = v.stages
    .map((s) => {
      const end = s.endedAt ? Date.parse(s.endedAt) : undefined;
      const start = s.startedAt ? Date.parse(s.startedAt) : end !== undefined && s.seconds !== undefined ? end - s.seconds * 1000 : undefined;
      return { s, start, end };
    });
  const total = v.stages.reduce((a, s) => a + (s.seconds ?? 0), 0);
  const wall = v.durationSeconds;
  const span = Math.max(1, ((runEnd ?? Math.max(runStart, ...bars.map((b) => b.end ?? 0))) - runStart) / 1000);
  const W = 760;
  const L = 92;
  const R = 90;
  const rowH = 30;
  const H = v.stages.length * rowH + 34;
  const sx = (ms: number) => L + Math.min(1, Math.max(0, (ms - runStart) / 1000 / span)) * (W - L - R);
  const rows = bars
    .map(({ s, start, end }, i) => {
      const yy = 8 + i * rowH;
      const state = stageState(s.state);
      const bar =
        start !== undefined && end !== undefined && Number.isFinite(runStart)
          ? `<rect class="ray-bar state-${state}" data-stage="${s.stage}" x="${sx(start).toFixed(1)}" y="${yy + 4}" width="${Math.max(2, sx(end) - sx(start)).toFixed(1)}" height="${rowH - 10}" rx="4"/>`
          : '';
      return `<text class="tick" x="${L - 10}" y="${yy + rowH / 2 + 3}" text-anchor="end">${esc(s.stage)}</text><line class="grid" x1="${L}" x2="${W - R}" y1="${yy + rowH / 2}" y2="${yy + rowH / 2}"/>${bar}<text class="tick" x="${W - R + 8}" y="${yy + rowH / 2 + 3}">${esc(seconds(s.seconds))}</text>`;
    })
    .join('\n');
  const axisY = v.stages.length * rowH + 14;
  const axis = `<line class="axis" x1="${L}" x2="${W - R}" y1="${axisY}" y2="${axisY}"/><text class="tick" x="${L}" y="${axisY + 16}" text-anchor="middle">0 s</text><text class="tick" x="${W - R}" y="${axisY + 16}" text-anchor="middle">${esc(seconds(span))}</text>`;
  const table = v.stages
    .map((s) => {
      const timing = d.stageDetails?.[s.stage]?.timing as Record<string, unknown> | undefined;
      const parts = timing ? Object.entries(timing).filter(([, x]) => typeof x === 'number').map(([k, x]) => `${k.replace(/Seconds$/, '')} ${seconds(x as number)}`) : [];
      const share = wall && s.seconds !== undefined ? `${((s.seconds / wall) * 100).toFixed(0)}%` : '–';
      return `<tr data-stage="${s.stage}"><th>${esc(s.stage)}</th><td class="num ray-seconds">${esc(seconds(s.seconds))}</td><td class="num">${esc(share)}</td><td class="small muted">${esc(parts.join(' · '))}</td></tr>`;
    })
    .join('');
  return `<p class="muted">Each bar is a stage's Ray job, from its start to its end, on the run's clock; the gaps are the control plane (scheduling, callbacks, the gate and promotion).</p>
<svg class="ray-time" role="img" aria-label="time inside Ray per stage" viewBox="0 0 ${W} ${H}" width="100%">${rows}${axis}</svg>
<table class="ray-table"><thead><tr><th>stage</th><th class="num">in Ray</th><th class="num">of the run</th><th>inside the job</th></tr></thead><tbody>${table}
<tr class="total"><th>total</th><td class="num">${esc(seconds(total))}</td><td class="num">${wall ? `${((total / wall) * 100).toFixed(0)}%` : '–'}</td><td class="small muted">run wall time ${esc(seconds(wall))}</td></tr></tbody></table>`;
}

const STYLE = `
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc;--card:#fff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:32px 28px 56px}
h1{font-size:26px;margin:0 0 4px;letter-spacing:-.01em}
h2{font-size:17px;margin:34px 0 12px;letter-spacing:.01em}
h3{font-size:15px;margin:0;text-transform:capitalize}
h4{font-size:12px;margin:12px 0 4px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.small{font-size:12.5px}.muted{color:var(--muted)}
.top{display:flex;justify-content:space-between;align-items:flex-start;gap:24px;flex-wrap:wrap}
.sub{color:var(--muted);margin:0}
.pill{display:inline-block;font-size:11px;font-weight:700;letter-spacing:.05em;padding:2px 9px;border-radius:999px;border:1px solid;vertical-align:middle}
.pill.big{font-size:13px;padding:4px 14px}
.card{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:16px 18px;box-shadow:0 1px 2px rgba(15,23,42,.04)}
.panel{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:18px 20px}
.summary{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-top:20px}
.summary .card span{display:block}.summary .label,.lineage .label,.versus .label{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);font-weight:600}
.summary .value{font-size:18px;font-weight:600;margin-top:2px}.summary .value .pill{display:inline-block}
svg text{font-family:inherit}
.graph .box{stroke-width:2}.graph .name{font-weight:700;font-size:15px;text-transform:capitalize}.graph .state{font-size:11px;font-weight:700;letter-spacing:.06em}.graph .detail{font-size:12px}
.graph .edge{stroke:#94a3b8;stroke-width:2}
.graph .state-SKIPPED .box,.graph .state-PENDING .box{stroke-dasharray:6 4}
.stages{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.stage-card header{display:flex;align-items:center;gap:10px;margin-bottom:4px}
.stage-card{border-top-width:4px}
.facts{color:var(--muted);font-size:13px;margin:0 0 6px}
table{border-collapse:collapse;width:100%}
.kv th{font-weight:500;text-align:left;color:#334155;padding:3px 8px 3px 0;font-size:13px;word-break:break-all}
.kv td{padding:3px 0;font-size:13px}
.num{text-align:right;font-variant-numeric:tabular-nums}
.trials,.ray-table{margin-top:12px;font-size:13px}
.trials th,.trials td,.ray-table th,.ray-table td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left}
.trials th.num,.trials td.num,.ray-table .num{text-align:right}
.trials thead th,.ray-table thead th{color:var(--muted);font-weight:600;font-size:11.5px;text-transform:uppercase;letter-spacing:.05em}
.trials tr.best td{font-weight:600}
.ray-table tr.total th,.ray-table tr.total td{border-bottom:0;font-weight:600}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:8px;vertical-align:-1px}
.gate{border-radius:14px;padding:18px 22px;border:1px solid;border-left-width:6px}
.gate .decision{font-weight:800;letter-spacing:.08em;font-size:15px}
.gate .reason{font-size:16px;margin:6px 0 10px}
.gate-promote{background:#ecfdf3;border-color:#16a34a}.gate-promote .decision{color:#166534}
.gate-keep{background:#fffbeb;border-color:#d97706}.gate-keep .decision{color:#92400e}
.gate-none{background:#f1f5f9;border-color:#94a3b8}.gate-none .decision{color:#475569}
.versus{display:flex;gap:36px}.versus .big{display:block;font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.lineage{display:flex;align-items:stretch;gap:8px}
.lineage-node{flex:1;min-width:0;background:var(--card);border:1px solid var(--line);border-radius:14px;padding:14px 16px;display:flex;flex-direction:column;gap:4px;word-break:break-all}
.lineage-arrow{align-self:center;color:#94a3b8;font-size:22px}
.lineage-node .pill{align-self:flex-start}
.sha256{font-size:12px;background:#f1f5f9;border-radius:6px;padding:4px 6px;color:#0f172a}
.grid{stroke:#eef2f7}.axis{stroke:#94a3b8}.tick{font-size:11.5px;fill:#64748b}.axis-label{font-size:12px;fill:#475569}
.error{color:#b91c1c;font-size:13px;word-break:break-word}.note{color:#92400e;font-size:13px}
.notes{margin-top:24px;color:#92400e;font-size:13px}
footer{margin-top:40px;color:var(--muted);font-size:12.5px;border-top:1px solid var(--line);padding-top:14px;word-break:break-all}
a{color:#1d4ed8}
@media (max-width:900px){.stages,.summary{grid-template-columns:1fr 1fr}.lineage{flex-direction:column}.lineage-arrow{transform:rotate(90deg)}}
${(Object.entries(STATE_COLOURS) as Array<[NodeState, (typeof STATE_COLOURS)[NodeState]]>)
  .map(
    ([s, c]) =>
      `.state-${s} .box{fill:${c.fill};stroke:${c.stroke}}.state-${s} .dot{fill:${c.stroke}}.state-${s} .state{fill:${c.text}}.state-${s} .name,.state-${s} .detail{fill:${c.text === '#94a3b8' ? '#94a3b8' : '#0f172a'}}.pill.state-${s}{color:${c.text};background:${c.fill};border-color:${c.stroke}}.stage-card.state-${s}{border-top-color:${c.stroke}}.ray-bar.state-${s}{fill:${c.stroke}}`,
  )
  .join('\n')}
.graph .state-SKIPPED .detail,.graph .state-PENDING .detail{fill:#94a3b8}
`;

const statusState = (s: RunStatusView['status']): NodeState => (stopped(s) ? 'INTERRUPTED' : (s as NodeState));

/** The whole page. */
export function renderReport(d: ReportData): string {
  const v = d.view;
  const nodes = graphNodes(d);
  const outcome = v.outcome.kind === 'promoted' ? 'promoted' : v.outcome.kind === 'kept' ? 'champion kept' : v.outcome.kind;
  const failure = v.outcome.kind === 'failed' ? `<p class="error">${esc(`${v.outcome.stage ? `${v.outcome.stage}: ` : ''}${v.outcome.error ?? ''} ${v.outcome.reason}`)}</p>` : '';
  const summary = [
    ['status', `<span class="pill big state-${statusState(v.status)}" id="run-status">${esc(v.status)}</span>`],
    ['outcome', esc(outcome)],
    ['duration', esc(seconds(v.durationSeconds))],
    ['started', `<span class="small">${esc(when(v.startedAt))}</span>`],
  ]
    .map(([k, html]) => `<div class="card"><span class="label">${k}</span><span class="value">${html}</span></div>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(`${v.pipeline} ${v.runId} — Sentinel run report`)}</title>
<style>${STYLE}</style>
</head>
<body>
<main data-run="${esc(v.runId)}" data-pipeline="${esc(v.pipeline)}">
<div class="top">
  <div>
    <p class="sub small">Sentinel run report</p>
    <h1 id="title"><span class="pipeline">${esc(v.pipeline)}</span> <span class="mono muted">${esc(v.runId)}</span></h1>
    <p class="sub">${esc(v.trigger)} run${v.requestedBy ? ` (${esc(v.requestedBy)})` : ''} · started ${esc(when(v.startedAt))}${v.endedAt ? ` · ended ${esc(when(v.endedAt))}` : ''}</p>
  </div>
</div>
${failure}
<div class="summary">${summary}</div>

<h2>Pipeline</h2>
<div class="panel">${graphSvg(nodes)}</div>

<h2>Stages</h2>
<div class="stages">${stageCards(d)}</div>

<h2>Gate</h2>
${gateSection(d)}

<h2>Tuning curves</h2>
<div class="panel" id="tuning">${tuningSection(d)}</div>

<h2>Lineage</h2>
${lineageSection(d)}

<h2>Time inside Ray</h2>
<div class="panel" id="ray">${raySection(d)}</div>
${d.notes?.length ? `<div class="notes"><strong>Not shown:</strong><ul>${d.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></div>` : ''}
<footer>Artifacts: <span class="mono">${esc(v.artifactsUri)}</span><br>Generated ${esc(when(d.generatedAt))} by <span class="mono">sentinel report</span>. This page is self-contained: it loads nothing and runs no script.</footer>
</main>
</body>
</html>
`;
}
