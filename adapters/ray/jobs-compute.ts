// ComputePort over the Ray Jobs REST API (the API KubeRay itself drives on a Ray head):
// POST /api/jobs/, GET /api/jobs/{id}, GET /api/jobs/, GET /api/jobs/{id}/logs, POST /api/jobs/{id}/stop.
import { createHash } from 'node:crypto';
import type { ComputePort, JobRequest, RunEnded } from '../../core/ports.js';
import { JOB_STATES, type JobState, type JobStatus } from '../../core/job-status.js';
import { ErrorNames, SentinelError } from '../../core/errors.js';
import { requestJson, type RayDashboard } from './http.js';
import { STAGE_INPUT_ENV, encodeStageInput } from '../../core/stage-input-wire.js';

interface RayJobDetails {
  submission_id?: string | null;
  job_id?: string | null;
  status: string;
  message?: string | null;
  error_type?: string | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata?: Record<string, string> | null;
  entrypoint?: string;
}

const SPEC_HASH_KEY = 'sentinel.dev/spec-hash';

/** What makes two submissions "the same job": entrypoint, input and the job's own PYTHONPATH. */
const specHash = (entrypoint: string, input: unknown, pythonPath?: string) => {
  const h = createHash('sha256').update(entrypoint).update('\0').update(JSON.stringify(input));
  if (pythonPath) h.update('\0').update(pythonPath); // absent: the same hash as before pythonPath existed
  return h.digest('hex').slice(0, 16);
};

/**
 * The job's environment: the adapter's own, the pipeline's code folder first on PYTHONPATH, and the input, encoded
 * (core/stage-input-wire.ts): Ray expands `$VAR` in every env value, so the JSON itself would not arrive as sent.
 */
export function jobEnvVars(base: Record<string, string> | undefined, req: Pick<JobRequest, 'input' | 'pythonPath'>): Record<string, string> {
  const env: Record<string, string> = { ...base };
  if (req.pythonPath) env.PYTHONPATH = env.PYTHONPATH ? `${req.pythonPath}:${env.PYTHONPATH}` : req.pythonPath;
  env[STAGE_INPUT_ENV] = encodeStageInput(req.input);
  return env;
}

export const entrypointFor = (module: string) => `python -m ${module}`;

function toStatus(d: RayJobDetails): JobStatus {
  const state = (JOB_STATES as readonly string[]).includes(d.status) ? (d.status as JobState) : 'PENDING';
  const { [SPEC_HASH_KEY]: _hash, ...labels } = d.metadata ?? {};
  return {
    jobId: d.submission_id ?? d.job_id ?? '',
    state,
    labels,
    ...(d.error_type ? { reason: d.error_type } : {}),
    ...(d.message ? { message: d.message } : {}),
    ...(d.start_time ? { startTime: d.start_time } : {}),
    ...(d.end_time ? { endTime: d.end_time } : {}),
  };
}

export interface RayJobsComputeOptions {
  /** The Ray dashboard, e.g. http://127.0.0.1:8265. */
  dashboard: RayDashboard;
  /** Extra environment for every job (e.g. PATH of the local Python environment). */
  env?: Record<string, string>;
}

export class RayJobsCompute implements ComputePort {
  readonly backend = 'ray-jobs' as const;
  constructor(private readonly opts: RayJobsComputeOptions) {}

  private get base() {
    return this.opts.dashboard;
  }

  async submit(req: JobRequest) {
    const entrypoint = entrypointFor(req.module);
    const hash = specHash(entrypoint, req.input, req.pythonPath);
    const body = {
      submission_id: req.jobId,
      entrypoint,
      // The input travels as data in the environment; the entrypoint above is fixed text.
      runtime_env: { env_vars: jobEnvVars(this.opts.env, req) },
      metadata: { ...req.labels, [SPEC_HASH_KEY]: hash },
    };
    const same = (d: RayJobDetails) => {
      if (d.metadata?.[SPEC_HASH_KEY] !== hash) {
        throw new SentinelError(ErrorNames.ValidationFailed, 'a job with this name exists with a different spec', req.jobId);
      }
      return { jobId: req.jobId, created: false };
    };
    const before = await this.details(req.jobId);
    if (before) return same(before);
    try {
      const res = await requestJson(this.base, 'POST', '/api/jobs/', body);
      if (res.status === 200) return { jobId: req.jobId, created: true };
      throw new SentinelError(ErrorNames.ValidationFailed, `Ray refused the job: HTTP ${res.status} ${res.text.slice(0, 500)}`, req.jobId);
    } catch (e) {
      // Ray answers a duplicate submission id with an error (a 500 in Ray 2.60): a concurrent submit won the race.
      const after = await this.details(req.jobId);
      if (after) return same(after);
      throw e;
    }
  }

  private async details(jobId: string): Promise<RayJobDetails | undefined> {
    const res = await requestJson<RayJobDetails>(this.base, 'GET', `/api/jobs/${encodeURIComponent(jobId)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new SentinelError(ErrorNames.ComputeUnavailable, `GET job → HTTP ${res.status}`, jobId);
    return res.body;
  }

  async get(jobId: string) {
    const d = await this.details(jobId);
    return d ? toStatus(d) : undefined;
  }

  async list(selector: Record<string, string>) {
    const res = await requestJson<RayJobDetails[]>(this.base, 'GET', '/api/jobs/');
    if (res.status !== 200 || !Array.isArray(res.body)) throw new SentinelError(ErrorNames.ComputeUnavailable, `list jobs → HTTP ${res.status}`, this.base.url);
    return res.body
      .filter((d) => d.submission_id && Object.entries(selector).every(([k, v]) => d.metadata?.[k] === v))
      .map(toStatus);
  }

  async logs(jobId: string, tailLines: number) {
    const res = await requestJson<{ logs?: string }>(this.base, 'GET', `/api/jobs/${encodeURIComponent(jobId)}/logs`);
    if (res.status !== 200) return `(no logs: HTTP ${res.status})`;
    const lines = (res.body?.logs ?? '').split('\n');
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-tailLines).join('\n');
  }

  async stop(jobId: string) {
    const res = await requestJson(this.base, 'POST', `/api/jobs/${encodeURIComponent(jobId)}/stop`);
    if (res.status !== 200 && res.status !== 404) throw new SentinelError(ErrorNames.ComputeUnavailable, `stop → HTTP ${res.status}`, jobId);
  }

  /** Every run shares the one Ray head (its session owns it): nothing exists per run to release. */
  async endRun(): Promise<RunEnded> {
    return { deleted: [], note: 'the Ray Jobs backend runs every run on one shared Ray head: nothing per run to delete' };
  }
}
